"""Runs the WHMCS module's PHPUnit suites from pytest and reads their JUnit report.

PHPUnit's exit code alone is not trusted: a run that executed zero tests, or skipped any, fails too,
so a broken bootstrap or a missing environment can never pass quietly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "whmcs-module"
PHP_TRIXIE = Path(__file__).resolve().parent / "php-trixie.sh"


@dataclass(frozen=True)
class PhpUnitRun:
    returncode: int
    output: str
    tests: int
    failures: int
    errors: int
    skipped: int

    def assert_all_passed(self) -> None:
        summary = (
            f"{self.tests} tests, {self.failures} failures, {self.errors} errors, {self.skipped} skipped"
        )
        assert self.returncode == 0, f"PHPUnit failed ({summary}):\n{self.output[-12000:]}"
        assert self.tests > 0, f"PHPUnit ran no tests:\n{self.output[-4000:]}"
        assert self.failures == self.errors == self.skipped == 0, f"{summary}\n{self.output[-12000:]}"


def run_phpunit(
    report: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    php_root: Path | None = None,
) -> PhpUnitRun:
    """PHPUnit on this machine's PHP, or, with `php_root`, on the PHP of that Debian tree (its own
    phpunit, on a copy of the module inside the tree; files the tests read are named by K8S_CA_FILE)."""
    if php_root is not None:
        return _run_in_tree(php_root, report, list(args), env or dict(os.environ), timeout)
    phpunit = shutil.which("phpunit")
    assert phpunit, "phpunit is not installed: run `make system-deps` (Debian package phpunit)"
    result = subprocess.run(
        [phpunit, "-c", str(MODULE_DIR / "phpunit.xml"), "--log-junit", str(report), *args],
        cwd=MODULE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return _read_report(report, result)


def php_trixie_root() -> Path | None:
    """The Debian 13 tree with PHP 8.4 (tests/whmcs/php-trixie.sh builds it once), or None when it
    cannot be built here (no root, no mmdebstrap, no network)."""
    if os.geteuid() != 0:
        return None
    done = subprocess.run(
        ["bash", str(PHP_TRIXIE)], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        return None
    return Path(done.stdout.strip().splitlines()[-1])


def _run_in_tree(
    root: Path, report: Path, args: list[str], env: dict[str, str], timeout: float
) -> PhpUnitRun:
    work = root / "tmp" / f"whmcs-{uuid.uuid4().hex}"
    shutil.copytree(MODULE_DIR, work / "module")
    try:
        tree_env = dict(env)
        if "K8S_CA_FILE" in env:
            shutil.copy(env["K8S_CA_FILE"], work / "ca.crt")
            tree_env["K8S_CA_FILE"] = f"/{work.relative_to(root)}/ca.crt"
        inside = f"/{work.relative_to(root)}"
        result = subprocess.run(
            [
                "chroot",
                str(root),
                "sh",
                "-c",
                'cd "$0/module" && exec phpunit -c phpunit.xml "$@"',
                inside,
                "--log-junit",
                f"{inside}/report.xml",
                *args,
            ],
            env=tree_env | {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if (work / "report.xml").exists():
            shutil.copy(work / "report.xml", report)
        return _read_report(report, result)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_report(report: Path, result: subprocess.CompletedProcess[str]) -> PhpUnitRun:
    output = result.stdout + result.stderr
    if not report.exists():
        return PhpUnitRun(result.returncode or 1, output, 0, 0, 0, 0)
    suites = ET.parse(report).getroot()  # noqa: S314 - the report PHPUnit just wrote for us, not untrusted input
    top = suites.find("testsuite")
    attrs = top.attrib if top is not None else {}
    return PhpUnitRun(
        returncode=result.returncode,
        output=output,
        tests=int(attrs.get("tests", 0)),
        failures=int(attrs.get("failures", 0)),
        errors=int(attrs.get("errors", 0)),
        skipped=int(attrs.get("skipped", 0)),
    )

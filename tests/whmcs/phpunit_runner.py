"""Runs the WHMCS module's PHPUnit suites from pytest and reads their JUnit report.

PHPUnit's exit code alone is not trusted: a run that executed zero tests, or skipped any, fails too,
so a broken bootstrap or a missing environment can never pass quietly.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "whmcs-module"


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
    report: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> PhpUnitRun:
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

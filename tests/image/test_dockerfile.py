"""The Dockerfile: hadolint-clean, multi-stage, pinned, non-root, nothing to compile with at run time, and
consistent with the Helm chart that runs the image. (No container engine exists here; test_entrypoint.py
builds the image's virtualenv the same way and runs its command line.)"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from openclaw_operator.config import ENV_FIELDS, Config
from tests.chart.chartkit import only, render
from tests.image.dockerfile import REPO_ROOT, parse, pip_install

HADOLINT = REPO_ROOT / ".venv" / "bin" / "hadolint"
COMPILERS = ("gcc", "g++", "clang", "build-essential", "make", "cc ", "rustc", "cargo")


def test_hadolint_is_clean() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(REPO_ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_would_catch_a_regression(tmp_path: Path) -> None:
    """The lint above can fail: an unpinned base and a root user are reported."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install kopf\nCMD python\n")
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # using latest


def test_multi_stage_from_a_pinned_slim_python() -> None:
    dockerfile = parse()
    assert len(dockerfile.stages) >= 2
    for stage in dockerfile.stages:
        image, _, tag = stage.base.partition(":")
        assert image == "python", stage.base
        # A full version and a Debian release, never a moving tag like `3.11-slim` or `latest`.
        assert re.fullmatch(r"3\.1[1-3]\.\d+-slim-(bookworm|trixie)", tag), f"base not pinned: {stage.base}"
    assert dockerfile.stages[0].base == dockerfile.final.base, (
        "the venv must run on the Python it was built on"
    )


def test_final_stage_runs_as_a_numeric_non_root_user_matching_the_chart() -> None:
    final = parse().final
    user = final.last("USER")
    assert user is not None and re.fullmatch(r"\d+:\d+", user), f"USER must be numeric uid:gid, got {user}"
    uid, gid = (int(part) for part in user.split(":"))
    assert uid != 0 and gid != 0
    pod = only(render(), "Deployment")["spec"]["template"]["spec"]["securityContext"]
    assert (pod["runAsUser"], pod["runAsGroup"]) == (uid, gid)


def test_final_stage_installs_nothing_and_has_no_compilers() -> None:
    final = parse().final
    runs = " ".join(final.all("RUN"))
    assert not re.search(r"apt-get|apk |pip install|dnf |yum ", runs), (
        f"the final stage installs software: {runs}"
    )
    assert not any(name in runs for name in COMPILERS)
    copies = final.all("COPY")
    assert copies and all(c.startswith("--from=") for c in copies), (
        "the final stage copies only built artifacts"
    )


def test_build_installs_only_binary_wheels_with_the_lock() -> None:
    install = pip_install(parse().stages[0])
    assert "--only-binary=:all:" in install, "every dependency must come as a wheel: nothing compiles"
    assert Path(install[install.index("--constraint") + 1]) == Path("operator/requirements.lock")


def test_entrypoint_runs_the_operator_the_way_the_chart_does() -> None:
    dockerfile = parse()
    command = dockerfile.command_line()
    assert Path(command[0]).name == "openclaw-operator" and command[1:] == ["run"]
    # The chart overrides the command by name, so the image's PATH must lead to the same executable.
    env = " ".join(dockerfile.final.all("ENV"))
    assert f"PATH={Path(command[0]).parent}:" in env
    chart_command = only(render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert chart_command == [Path(command[0]).name, *command[1:]]


@pytest.mark.parametrize("port_var", ["CLAWHOST_HEALTH_PORT", "CLAWHOST_METRICS_PORT"])
def test_exposed_ports_are_the_operator_defaults(port_var: str) -> None:
    default = Config.model_fields[ENV_FIELDS[port_var]].default
    exposed = {int(p) for line in parse().final.all("EXPOSE") for p in line.split()}
    assert default in exposed


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    ignore = [
        line for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"
    ]
    assert ignore[0] == "*", "allow-list style: everything is excluded unless named"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = []
    for copy in parse().stages[0].all("COPY"):
        sources += [part for part in copy.split()[:-1] if not part.startswith("--")]
    assert set(sources) == allowed
    assert all((REPO_ROOT / source).exists() for source in sources)

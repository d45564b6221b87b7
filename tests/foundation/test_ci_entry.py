"""CI runs `make test` through .ci/run, and a run that collects no tests fails instead of passing."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_make_test() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash")
    assert "exec make test" in script


def test_no_tests_collected_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "test_nothing_here.py").write_text("# no tests\n")
    result = subprocess.run(
        [str(REPO / "scripts" / "run-pytest.sh"), str(tmp_path), "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "collected no tests" in result.stderr


def test_a_passing_run_passes(tmp_path: Path) -> None:
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    result = subprocess.run(
        [str(REPO / "scripts" / "run-pytest.sh"), str(tmp_path), "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr

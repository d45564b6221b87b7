"""CI runs `make test` through .ci/run, and a run that collects no tests fails instead of passing."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_ci_runs_make_test_in_a_clone_with_nothing_beside_it() -> None:
    script = (REPO / ".ci" / "run").read_text()
    assert script.startswith("#!/usr/bin/env bash")
    assert 'git clone --quiet --no-hardlinks . "$scratch/repo"' in script
    assert "CLAWHOST_ISOLATED_CLONE=1 make test" in script


# What a path to the workplace's shared folder looks like in code; spelt in pieces so this file does not
# match itself.
SHARED = "sha" + "red"
OUTSIDE_REPO = ("../" + SHARED, f'"{SHARED}" / "specs"', SHARED + "/specs")


def test_nothing_in_the_repository_reads_outside_it() -> None:
    """The suite passes from a clone with no sibling folders (.ci/run proves it); this names the culprit
    early: no tracked file may point at the workplace's shared folder or climb out of the repo root."""
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = []
    for name in tracked:
        path = REPO / name
        if path.suffix not in {".py", ".sh", ".php", ".go", ".mk", ""} or not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if any(needle in text for needle in OUTSIDE_REPO):
            offenders.append(name)
    assert offenders == []


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

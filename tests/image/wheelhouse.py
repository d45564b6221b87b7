"""Wheels for the image's virtualenv, fetched from the package index once per machine and lock file, then
used offline: by the image test (the Dockerfile's own pip commands) and by the sandbox test (a fresh clone's
editable install needs the build backend)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = REPO_ROOT / "operator" / "requirements.lock"
CACHE = Path(os.environ.get("OPENCLAW_CACHE_DIR", Path.home() / ".cache" / "openclaw-hosting"))


def pip(python: Path, *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True, text=True, cwd=cwd, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"pip {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def wheelhouse() -> Path:
    """Wheels for every locked dependency and the build backend, fetched once per lock file."""
    build_requires = tomllib.loads((REPO_ROOT / "operator" / "pyproject.toml").read_text())["build-system"][
        "requires"
    ]
    key = hashlib.sha256(
        LOCK.read_bytes() + repr(build_requires).encode() + sys.version.encode()
    ).hexdigest()[:16]
    target = CACHE / "wheelhouse" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    # Two pytest-xdist workers (the image and the sandbox tests) or two sessions may ask at once: one fetches,
    # the other waits for it and finds the wheelhouse complete.
    with open(target.parent / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            _fetch(target, build_requires)
    return target


def _fetch(target: Path, build_requires: list[str]) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    python = Path(sys.executable)
    pip(python, "download", "-q", "--only-binary=:all:", "--no-deps", "-r", str(LOCK), "-d", str(partial))
    pip(python, "download", "-q", "--only-binary=:all:", *build_requires, "-d", str(partial))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".complete").touch()

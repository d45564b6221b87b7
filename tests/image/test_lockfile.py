"""operator/requirements.lock pins the runtime dependencies exactly, agrees with pyproject.toml, and carries
no development tools into the image. (That it is complete — nothing missing, nothing extra — is shown by
test_entrypoint.py, which installs from it and compares `pip freeze`.)"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.image.dockerfile import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "operator" / "pyproject.toml").read_text())
LOCK_LINES = [
    line.strip()
    for line in (REPO_ROOT / "operator" / "requirements.lock").read_text().splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in LOCK_LINES:
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"not an exact pin: {line}"
        found[canonicalize_name(requirement.name)] = Version(specifier.version)
    assert len(found) == len(LOCK_LINES), "a package is pinned twice"
    return found


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    locked = pins()
    for dependency in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(dependency)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is a dependency but not in the lock"
        assert requirement.specifier.contains(locked[name]), (
            f"lock pins {name}=={locked[name]}, outside {dependency}"
        )


def test_no_development_tool_is_locked() -> None:
    runtime = {canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    dev_only = {
        canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["optional-dependencies"]["dev"]
    }
    assert not (dev_only - runtime) & set(pins()), "development tools belong in the dev extra, not the image"

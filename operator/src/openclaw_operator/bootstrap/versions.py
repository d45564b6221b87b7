"""OpenClaw calendar versions and the minimum safe release.

OpenClaw versions look like `2026.9.5`, optionally with a numeric suffix (`2026.1.24-3`). npm publishes
them as semver, where a suffix is a pre-release that sorts *before* its base version; we order them the
same way, so "at least 2026.4.23" means exactly what `npm install openclaw@>=2026.4.23` would accept
and a suffixed build of the minimum release is never mistaken for the release with the fixes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

# Mirrors spec.openclawVersion's pattern in crds/openclawinstances.yaml (a test keeps the two equal).
VERSION_PATTERN = r"^20[0-9]{2}\.[0-9]{1,2}\.[0-9]{1,2}(-[0-9]{1,3})?$"
_VERSION = re.compile(VERSION_PATTERN)


class UnsafeVersionError(ValueError):
    """The requested OpenClaw version must not be installed; the message says why and what to choose."""


class InvalidVersionError(UnsafeVersionError):
    """Not an OpenClaw calendar version: a version we cannot read cannot be shown to be safe."""


@total_ordering
@dataclass(frozen=True)
class OpenClawVersion:
    year: int
    month: int
    day: int
    prerelease: int | None = None

    def _key(self) -> tuple[int, int, int, int, int]:
        # A release (no suffix) sorts after every suffixed build of the same date, as in semver.
        released = 1 if self.prerelease is None else 0
        return (self.year, self.month, self.day, released, self.prerelease or 0)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, OpenClawVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"{self.year}.{self.month}.{self.day}"
        return base if self.prerelease is None else f"{base}-{self.prerelease}"


def parse_version(version: str) -> OpenClawVersion:
    match = _VERSION.fullmatch(version)
    if match is None:
        raise InvalidVersionError(
            f"{version!r} is not an OpenClaw version: expected a calendar version such as 2026.9.5"
        )
    base, _, suffix = version.partition("-")
    year, month, day = (int(part) for part in base.split("."))
    return OpenClawVersion(year, month, day, int(suffix) if suffix else None)


def check_version(version: str, minimum: str) -> None:
    """Refuse `version` when it is older than `minimum`, the first release with the 2026 advisories fixed."""
    if parse_version(version) < parse_version(minimum):
        raise UnsafeVersionError(
            f"OpenClaw {version} is older than the minimum safe release {minimum} "
            f"(earlier releases have published security advisories); choose {minimum} or newer"
        )

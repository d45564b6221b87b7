"""The e2e harness's pieces, without a guest: signed apt repositories, the npm stand-in (installed from
by the real npm client), the NoCloud seed. Fast and always run (part of `make test`)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e_vm.aptrepo import DebPackage, RepositorySigner, VendorRepository, build_deb, build_repository
from tests.e2e_vm.guest import choose_accelerator, write_seed
from tests.e2e_vm.npmstore import check_integrity, installs_here, integrity_of, packuments, write_store
from tests.e2e_vm.standins import StandinConfig, serve_standins
from tests.e2e_vm.testca import make_seam_ca

REPOSITORY = VendorRepository(
    "nodesource",
    "https://deb.example.test/gpgkey/repo.gpg.key",
    "https://deb.example.test/node_24.x",
    "nodistro",
    ("main",),
)


@pytest.fixture
def signer(tmp_path: Path) -> Any:
    keys = RepositorySigner(tmp_path / "gnupg")
    yield keys
    keys.close()


def _tiny_deb(directory: Path) -> Path:
    tree = directory / "tree"
    (tree / "usr" / "bin").mkdir(parents=True)
    (tree / "usr" / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    return build_deb(DebPackage("hello", "1.0-1", "a test package"), tree, directory / "debs")


def _dearmored(armored: Path, output: Path) -> Path:
    subprocess.run(["gpg", "--batch", "--yes", "--dearmor", "-o", str(output), str(armored)], check=True)
    return output


def test_a_vendor_repository_is_signed_in_its_layout_and_verifies(tmp_path: Path, signer: Any) -> None:
    deb = _tiny_deb(tmp_path)
    sites = tmp_path / "sites"
    base = build_repository(REPOSITORY, [deb], sites, signer)
    assert base == sites / "deb.example.test" / "node_24.x"
    keyring = _dearmored(sites / "deb.example.test" / "gpgkey" / "repo.gpg.key", tmp_path / "key.gpg")
    suite = base / "dists" / "nodistro"
    # What apt does with signed-by: only this key, and InRelease (or Release + Release.gpg) must verify.
    subprocess.run(
        ["gpgv", "--keyring", str(keyring), str(suite / "InRelease")], check=True, capture_output=True
    )
    subprocess.run(
        ["gpgv", "--keyring", str(keyring), str(suite / "Release.gpg"), str(suite / "Release")],
        check=True,
        capture_output=True,
    )
    release = (suite / "Release").read_text()
    assert (
        "Suite: nodistro" in release and "Components: main" in release and "Architectures: amd64" in release
    )
    packages = (suite / "main" / "binary-amd64" / "Packages").read_bytes()
    digest = hashlib.sha256(packages).hexdigest()
    assert re.search(rf"^ {digest} +{len(packages)} main/binary-amd64/Packages$", release, flags=re.MULTILINE)
    stanza = packages.decode()
    assert "Package: hello\n" in stanza and "Version: 1.0-1\n" in stanza
    filename = next(line.split(": ", 1)[1] for line in stanza.splitlines() if line.startswith("Filename: "))
    assert (base / filename).read_bytes() == deb.read_bytes()


def test_each_repository_has_its_own_key(tmp_path: Path, signer: Any) -> None:
    deb = _tiny_deb(tmp_path)
    other = VendorRepository(
        "caddy", "https://dl.example.test/gpg.key", "https://dl.example.test/deb", "any", ("main",)
    )
    build_repository(REPOSITORY, [deb], tmp_path / "sites", signer)
    other_base = build_repository(other, [deb], tmp_path / "sites", signer)
    wrong_key = _dearmored(
        tmp_path / "sites" / "deb.example.test" / "gpgkey" / "repo.gpg.key", tmp_path / "k.gpg"
    )
    check = subprocess.run(
        ["gpgv", "--keyring", str(wrong_key), str(other_base / "dists" / "any" / "InRelease")],
        capture_output=True,
    )
    assert check.returncode != 0


def test_the_deb_carries_its_tree_and_control_fields(tmp_path: Path) -> None:
    deb = _tiny_deb(tmp_path)
    contents = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    )
    assert "root/root" in contents.stdout and "./usr/bin/hello" in contents.stdout
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(deb), "Package", "Version", "Architecture"],
        capture_output=True,
        text=True,
    )
    assert fields.stdout.splitlines() == ["Package: hello", "Version: 1.0-1", "Architecture: amd64"]


@pytest.mark.parametrize(
    ("entry", "installs"),
    [
        ({}, True),
        ({"os": ["linux"], "cpu": ["x64"]}, True),
        ({"os": ["darwin"]}, False),
        ({"os": ["!win32"]}, True),
        ({"os": ["!linux"]}, False),
        ({"cpu": ["arm64"]}, False),
        ({"os": "linux", "cpu": "x64"}, True),
        ({"os": ["linux"], "cpu": ["x64"], "libc": ["musl"]}, False),
        ({"os": ["linux"], "cpu": ["x64"], "libc": ["glibc"]}, True),
    ],
)
def test_which_packages_a_linux_x64_glibc_machine_installs(entry: dict[str, Any], installs: bool) -> None:
    assert installs_here(entry) is installs


def test_a_tarball_must_match_the_lockfile(tmp_path: Path) -> None:
    tarball = tmp_path / "x-1.0.0.tgz"
    tarball.write_bytes(b"content")
    check_integrity(tarball, integrity_of(b"content", "sha512"))
    with pytest.raises(ValueError, match=r"x-1\.0\.0\.tgz"):
        check_integrity(tarball, integrity_of(b"other", "sha512"))


def test_a_packument_lists_the_locked_versions_highest_latest() -> None:
    entries = [
        {"name": "@s/b", "version": "1.10.0", "integrity": "sha512-a", "bin": {"b": "b.js"}},
        {"name": "@s/b", "version": "1.9.0", "integrity": "sha512-b", "os": ["linux"]},
    ]
    document = packuments(entries)["@s/b"]
    assert document["dist-tags"] == {"latest": "1.10.0"}
    assert document["versions"]["1.10.0"]["dist"] == {
        "tarball": "https://registry.npmjs.org/@s/b/-/b-1.10.0.tgz",
        "integrity": "sha512-a",
    }
    assert document["versions"]["1.10.0"]["bin"] == {"b": "b.js"} and document["versions"]["1.9.0"]["os"] == [
        "linux"
    ]


def _pack(directory: Path, manifest: dict[str, Any], bundled: dict[str, Any] | None = None) -> Path:
    """`npm pack` of a package with `manifest`; `bundled` is a dependency's manifest packed inside it."""
    source = directory / f"src-{manifest['name'].replace('/', '-')}-{manifest['version']}"
    source.mkdir(parents=True)
    (source / "package.json").write_text(json.dumps(manifest))
    (source / "index.js").write_text(f"module.exports = {manifest['version']!r};\n")
    if bundled:
        inside = source / "node_modules" / bundled["name"]
        inside.mkdir(parents=True)
        (inside / "package.json").write_text(json.dumps(bundled))
    done = subprocess.run(
        ["npm", "pack", "--json", str(source)], cwd=directory, capture_output=True, text=True, check=True
    )
    return directory / json.loads(done.stdout)[0]["filename"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
def test_npm_installs_a_dependency_tree_from_the_standin(tmp_path: Path) -> None:
    packed = tmp_path / "packed"
    packed.mkdir()
    # e2e-app bundles e2e-inner (as openclaw bundles chrome-devtools-mcp): the lockfile marks it inBundle and
    # leaves bundleDependencies out, the registry has no e2e-inner, so the packument must say it is bundled.
    inner = {"name": "e2e-inner", "version": "3.0.0"}
    app = {
        "name": "e2e-app",
        "version": "2.0.0",
        "dependencies": {"@e2e/lib": "^1.0.0", "e2e-inner": "3.0.0"},
        "bundleDependencies": ["e2e-inner"],
    }
    entries = []
    for manifest in (app, {"name": "@e2e/lib", "version": "1.1.0"}, {"name": "@e2e/lib", "version": "1.2.0"}):
        tarball = _pack(packed, manifest, inner if manifest is app else None)
        integrity = integrity_of(tarball.read_bytes(), "sha512")
        locked = {key: value for key, value in manifest.items() if key != "bundleDependencies"}
        entries.append({**locked, "integrity": integrity})
    store = tmp_path / "store"
    write_store(store, entries, packed)
    ca = make_seam_ca(tmp_path / "ca", ["registry.npmjs.org", "127.0.0.1"])
    config = StandinConfig(
        sites=tmp_path / "sites", npm_store=store, aliases={"127.0.0.1": "registry.npmjs.org"}
    )
    prefix = tmp_path / "prefix"
    with serve_standins(config, ca.server_cert, ca.server_key) as standins:
        environment = {
            **os.environ,
            "NODE_EXTRA_CA_CERTS": str(ca.ca_cert),
            "npm_config_cache": str(tmp_path / "cache"),
        }
        done = subprocess.run(
            ["npm", "install", "--global", "--prefix", str(prefix), "--no-fund", "--no-audit",
             f"--registry=https://127.0.0.1:{standins.https_port}/", "e2e-app@2.0.0"],
            capture_output=True, text=True, env=environment, timeout=120,
        )  # fmt: skip
        requests = standins.requests()
    assert done.returncode == 0, done.stderr
    installed = prefix / "lib" / "node_modules" / "e2e-app"
    lib = json.loads((installed / "node_modules" / "@e2e" / "lib" / "package.json").read_text())
    assert lib["version"] == "1.2.0"  # resolved from the range against the packument, as the registry would
    assert json.loads((installed / "node_modules" / "e2e-inner" / "package.json").read_text()) == inner
    paths = {(r.path, r.status) for r in requests}
    assert ("/e2e-app/-/e2e-app-2.0.0.tgz", 200) in paths and ("/@e2e/lib/-/lib-1.2.0.tgz", 200) in paths


def test_the_seed_holds_the_user_data_byte_for_byte(tmp_path: Path) -> None:
    user_data = "#cloud-config\nwrite_files:\n- path: /x\n  content: |\n    a \\ $b `c`\n"
    seed = write_seed(tmp_path, user_data, instance_id="i-1", hostname="alice")
    info = subprocess.run(
        ["isoinfo", "-d", "-i", str(seed)], capture_output=True, text=True, check=True
    ).stdout
    assert "Volume id: cidata" in info
    read = subprocess.run(
        ["isoinfo", "-R", "-i", str(seed), "-x", "/user-data"], capture_output=True, check=True
    )
    assert read.stdout == user_data.encode()
    meta = subprocess.run(
        ["isoinfo", "-R", "-i", str(seed), "-x", "/meta-data"], capture_output=True, text=True
    )
    assert "instance-id: i-1" in meta.stdout
    network = subprocess.run(
        ["isoinfo", "-R", "-i", str(seed), "-x", "/network-config"], capture_output=True, text=True
    )
    assert "dhcp6: false" in network.stdout


def test_the_accelerator_can_be_forced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLAWHOST_E2E_VM_ACCEL", "tcg")
    assert choose_accelerator(tmp_path / "no-kernel").name == "tcg"

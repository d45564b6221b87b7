"""The user-data as cloud-init and Hetzner see it: it passes `cloud-init schema` (Debian's cloud-init) for
every example and fixture, fits Hetzner's 32 KiB limit with the largest inputs the CRD allows, and matches
the reviewed golden files byte for byte (UPDATE_GOLDEN=1 rewrites them after a deliberate change)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from openclaw_operator.bootstrap.render import (
    HOSTNAME_MAX_LENGTH,
    SSH_KEY_MAX_LENGTH,
    USER_DATA_LIMIT_BYTES,
    BootstrapSettings,
    render_user_data,
)
from openclaw_operator.bootstrap.versions import VERSION_PATTERN
from tests.bootstrap.userdata import CRD_SPEC, REPO_ROOT, TOKEN, instance, instance_from_file, parse

HERE = Path(__file__).resolve().parent
FIXTURES = sorted((HERE / "fixtures").glob("*.yaml"))
EXAMPLES = sorted(
    path for path in (REPO_ROOT / "examples").glob("*.yaml") if "OpenClawInstance" in path.read_text()
)
GOLDEN = HERE / "golden"


def cloud_init_schema(user_data: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("cloud-init") is None:
        pytest.fail("cloud-init is not installed: run `make system-deps` (Debian package cloud-init)")
    path = tmp_path / "user-data"
    path.write_text(user_data)
    return subprocess.run(
        ["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=60
    )


def largest_instance() -> tuple[str, ...]:
    """The biggest spec the CRD admits, field by field."""
    ssh_items = CRD_SPEC["sshKeys"]
    prefix = "sk-ecdsa-sha2-nistp256@openssh.com AAAA"
    comment = " " + "é" * 200  # two bytes each in UTF-8: the longest comment in bytes the pattern allows
    body = "A" * (SSH_KEY_MAX_LENGTH - len(prefix) - len(comment))
    keys = tuple(f"{prefix}{body[:-1]}{index}{comment}" for index in range(ssh_items["maxItems"]))
    assert all(
        len(key) == ssh_items["items"]["maxLength"] and re.fullmatch(ssh_items["items"]["pattern"], key)
        for key in keys
    )
    return keys


def test_every_example_and_fixture_passes_cloud_init_schema(tmp_path: Path) -> None:
    assert len(EXAMPLES) >= 2, "examples/ should hold the lead's minimal.yaml and full.yaml"
    for path in EXAMPLES + FIXTURES:
        result = cloud_init_schema(
            render_user_data(instance_from_file(path), BootstrapSettings(), TOKEN), tmp_path
        )
        assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"
        assert "Valid cloud-config" in result.stdout


def test_schema_check_catches_a_broken_config(tmp_path: Path) -> None:
    # Guards the test above: a cloud-init that accepted anything would make it meaningless.
    result = cloud_init_schema("#cloud-config\nwrite_files:\n- content: no path\n", tmp_path)
    assert result.returncode != 0


def test_largest_allowed_inputs_fit_hetzners_limit(tmp_path: Path) -> None:
    label = "a" * 63
    hostname = f"{label}.{label}.{label}.{'b' * 61}"
    assert len(hostname) == HOSTNAME_MAX_LENGTH == CRD_SPEC["hostname"]["maxLength"]
    version = "2099.12.31-999"
    assert len(version) == 14 and re.fullmatch(VERSION_PATTERN, version)
    largest = instance(
        hostname=hostname, sshKeys=list(largest_instance()), openclawVersion=version, serverType="zzzz999x"
    )
    # Every character of the longest token needs escaping in the EnvironmentFile: twice the bytes.
    user_data = render_user_data(largest, BootstrapSettings(admin_user="a" * 32), "$" * 512)
    size = len(user_data.encode())
    assert size <= USER_DATA_LIMIT_BYTES, f"{size} bytes"
    parsed = parse(user_data).config
    assert parsed["swap"], "an unknown server type is treated as a small plan"
    assert cloud_init_schema(user_data, tmp_path).returncode == 0


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda path: path.stem)
def test_golden(fixture: Path) -> None:
    user_data = render_user_data(instance_from_file(fixture), BootstrapSettings(), TOKEN)
    golden = GOLDEN / f"{fixture.stem}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(user_data)
    assert golden.exists(), f"no golden file for {fixture.name}: run with UPDATE_GOLDEN=1 and review it"
    assert user_data == golden.read_text(), f"{golden.name} differs: review, then UPDATE_GOLDEN=1"


def test_every_golden_file_has_a_fixture() -> None:
    assert {path.stem for path in GOLDEN.glob("*.yaml")} == {path.stem for path in FIXTURES}

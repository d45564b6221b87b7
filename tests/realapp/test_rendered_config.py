"""What the renderer writes, judged by the real openclaw package: its config validator and its `engines`."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import pytest
from clawhost_sandbox import realapp

from openclaw_operator.bootstrap.settings import NODE_MINIMUM_BY_MAJOR, BootstrapSettings
from tests.realapp.conftest import rendered_files

VERSIONS = realapp.pinned_versions()[1]


def validate(
    installation: realapp.Installation, files: realapp.ServerFiles
) -> subprocess.CompletedProcess[str]:
    """`openclaw config validate --json` as the gateway's user, on the server's files (no gateway runs)."""
    try:
        server = realapp.RealServer(installation, files)
    except realapp.RealAppUnavailable as exc:
        pytest.skip(f"the real OpenClaw cannot run here: {exc}")
    try:
        return server.run_cli("config", "validate", "--json")
    finally:
        server.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_the_real_openclaw_accepts_the_rendered_config_without_a_warning(
    installation: realapp.Installation, version: str
) -> None:
    files = rendered_files(openclaw_version=version)
    assert files.openclaw_version == version
    validated = validate(installation, files)
    assert validated.returncode == 0, validated.stderr[-2000:]
    assert json.loads(validated.stdout) == {
        "valid": True,
        "path": files.gateway_config_path,
        "warnings": [],
    }


def test_the_validator_is_strict_so_the_test_above_can_fail(installation: realapp.Installation) -> None:
    files = rendered_files()
    config = json.loads(files.gateway_config)
    config["gateway"]["notAnOpenClawKey"] = True
    planted = dataclasses.replace(files, files={**files.files, files.gateway_config_path: json.dumps(config)})
    assert json.loads(validate(installation, planted).stdout)["valid"] is False


# --- Node: the bootstrap's minimum against the package's `engines` -------------------------------------
def _version(text: str) -> tuple[int, int, int]:
    major, minor, patch = [*(int(part) for part in text.split(".")), 0, 0][:3]
    return major, minor, patch


def satisfies(version: str, engines: str) -> bool:
    """npm's range grammar as far as OpenClaw uses it: `||` of space-separated comparators."""
    actual = _version(version)
    for alternative in engines.split("||"):
        comparators = re.findall(r"(>=|<=|>|<|=)?\s*(\d+(?:\.\d+){0,2})", alternative)
        checks = {
            ">=": lambda bound: actual >= bound,
            ">": lambda bound: actual > bound,
            "<=": lambda bound: actual <= bound,
            "<": lambda bound: actual < bound,
            "=": lambda bound: actual == bound,
            "": lambda bound: actual == bound,
        }
        if comparators and all(checks[op](_version(bound)) for op, bound in comparators):
            return True
    return False


@pytest.mark.parametrize(
    ("version", "engines", "expected"),
    [
        ("24.16.0", ">=24.16.0 <25 || >=26.1.0", True),
        ("24.15.9", ">=24.16.0 <25 || >=26.1.0", False),
        ("25.0.0", ">=24.16.0 <25 || >=26.1.0", False),
        ("26.1.0", ">=24.16.0 <25 || >=26.1.0", True),
        ("22.22.3", ">=22.22.3", True),
    ],
)
def test_satisfies_reads_ranges_as_npm_does(version: str, engines: str, expected: bool) -> None:
    assert satisfies(version, engines) is expected


@pytest.mark.parametrize("version", VERSIONS)
def test_every_node_the_bootstrap_accepts_satisfies_the_packages_engines(
    installation: realapp.Installation, version: str
) -> None:
    engines = installation.package_json(version)["engines"]["node"]
    for major, minimum in NODE_MINIMUM_BY_MAJOR.items():
        # The bootstrap accepts `minimum` up to the end of the major line, nothing below.
        for accepted in (minimum, f"{major}.999.999"):
            assert satisfies(accepted, engines), f"the bootstrap would run Node {accepted}; {engines!r}"
    rendered = rendered_files(openclaw_version=version)
    assert (rendered.node_major, rendered.node_minimum) == (
        BootstrapSettings().node_major,
        NODE_MINIMUM_BY_MAJOR[BootstrapSettings().node_major],
    )
    assert satisfies(rendered.node_minimum, engines)
    # The Node these tests run on is one the bootstrap would install.
    assert satisfies(installation.node_version, engines)
    assert installation.node_version.split(".")[0] == str(rendered.node_major)

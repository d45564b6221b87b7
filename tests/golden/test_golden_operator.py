"""The operator with CLAWHOST_GOLDEN_IMAGES, as a real process against the real apiserver and the
simulators: a new instance's server is made from the golden snapshot built for exactly its inputs, with
personalise-only user-data, and status.bootImage says so; an instance whose version has no golden
snapshot gets the full install from the base image; no token leaks anywhere."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from openclaw_operator.bootstrap.render import BOOTSTRAP_SCRIPT, BootstrapSettings
from openclaw_operator.golden import BuildRequest, build
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from tests.bootstrap.userdata import parse
from tests.operator.integration.harness import Stage

pytestmark = pytest.mark.controlplane
SETTINGS = BootstrapSettings()


def build_golden(stage: Stage, version: str) -> int:
    """The real build command's code, against the stage's simulator (its clock runs 20x)."""
    provider = HetznerProvider(
        SecretStr(stage.hetzner_token), stage.hetzner.url, RateLimiter("hetzner"), 2, 10
    )
    request = BuildRequest(
        location="fsn1", server_type="cx23", openclaw_version=version, cluster="integration", poll=0.2
    )
    try:
        result = asyncio.run(build(provider, SETTINGS, request))
    finally:
        provider.close()
    return result.snapshot.id


def test_a_new_server_is_made_from_the_matching_golden_snapshot(stage: Stage) -> None:
    golden_id = build_golden(stage, SETTINGS.default_openclaw_version)
    stage.start_operator(CLAWHOST_GOLDEN_IMAGES="true")
    stage.create_instance("goldie")
    stage.create_instance("older", openclawVersion="2026.9.5")  # no golden snapshot of that version
    goldie, older = stage.wait_ready("goldie", timeout=120), stage.wait_ready("older", timeout=120)
    assert goldie["status"]["bootImage"] == {"kind": "Golden", "id": str(golden_id)}
    assert older["status"]["bootImage"] == {"kind": "Base", "id": "ubuntu-24.04"}
    servers = {s["name"]: s for s in stage.servers()}
    (golden_server,) = [s for s in servers.values() if s["id"] == goldie["status"]["serverId"]]
    (cold_server,) = [s for s in servers.values() if s["id"] == older["status"]["serverId"]]
    assert golden_server["image"]["id"] == golden_id
    assert cold_server["image"]["name"] == "ubuntu-24.04"
    personalised = stage.hetzner.user_data(golden_server["id"])
    cold = stage.hetzner.user_data(cold_server["id"])
    assert personalised is not None and cold is not None
    assert "npm install" not in parse(personalised).content(BOOTSTRAP_SCRIPT)
    assert "packages" not in parse(personalised).config
    assert "npm install" in parse(cold).content(BOOTSTRAP_SCRIPT)
    stage.assert_no_secrets_leaked()

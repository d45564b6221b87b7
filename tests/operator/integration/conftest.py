"""A stage per test: both simulators on a background loop, a fresh namespace, and the operator processes
the test starts (stopped afterwards). The operator's logs are attached to failures by the helpers."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.controlplane import ClusterAccess
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread

from tests.operator.integration.harness import TIME_SCALE, ZONE, Stage

pytestmark = pytest.mark.controlplane


@pytest.fixture
def stage(cluster: ClusterAccess, namespace: str, tmp_path: Path) -> Iterator[Stage]:
    hetzner_token = "htok-" + secrets.token_hex(16)
    cloudflare_token = "cftok-" + secrets.token_hex(16)
    clock = SimClock(time_scale=TIME_SCALE)
    hetzner = HetznerSimulator(token=hetzner_token, clock=clock, latency=LatencyModel.none())
    cloudflare = CloudflareSimulator(
        token=cloudflare_token, zones=[ZONE, "other.org"], clock=clock, latency=LatencyModel.none()
    )
    with SimulatorThread(hetzner, cloudflare):
        world = Stage(cluster, namespace, hetzner, cloudflare, hetzner_token, cloudflare_token, tmp_path)
        try:
            yield world
        finally:
            world.stop_operators()

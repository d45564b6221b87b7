"""The stage of the chart's RBAC tests: both simulators and a fresh namespace, as the operator suites use."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_operator.sandbox.cloudflare_sim import CloudflareSimulator
from openclaw_operator.sandbox.controlplane import ClusterAccess
from openclaw_operator.sandbox.hetzner_sim import HetznerSimulator
from openclaw_operator.sandbox.simcore import LatencyModel, SimClock, SimulatorThread
from tests.operator.integration.harness import TIME_SCALE, ZONE, Stage


@pytest.fixture
def stage(cluster: ClusterAccess, namespace: str, tmp_path: Path) -> Iterator[Stage]:
    hetzner_token, cloudflare_token = "htok-" + secrets.token_hex(16), "cftok-" + secrets.token_hex(16)
    clock = SimClock(time_scale=TIME_SCALE)
    hetzner = HetznerSimulator(token=hetzner_token, clock=clock, latency=LatencyModel.none())
    cloudflare = CloudflareSimulator(
        token=cloudflare_token, zones=[ZONE], clock=clock, latency=LatencyModel.none()
    )
    with SimulatorThread(hetzner, cloudflare):
        world = Stage(cluster, namespace, hetzner, cloudflare, hetzner_token, cloudflare_token, tmp_path)
        try:
            yield world
        finally:
            world.stop_operators()

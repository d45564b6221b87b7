"""Simulators running on a background loop, and the official SDK clients pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import cloudflare
import hcloud
import pytest
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread

HETZNER_TOKEN = "hetzner-test-token"
# Fast enough that a server boots in well under a second of wall time, slow enough to observe states.
FAST = 200.0


@pytest.fixture
def hetzner() -> Iterator[HetznerSimulator]:
    sim = HetznerSimulator(token=HETZNER_TOKEN, clock=SimClock(time_scale=FAST), latency=LatencyModel.none())
    with SimulatorThread(sim):
        yield sim


@pytest.fixture
def hclient(hetzner: HetznerSimulator) -> hcloud.Client:
    client = hcloud.Client(HETZNER_TOKEN, api_endpoint=hetzner.url, poll_interval=0.01)
    client._client._retry_max_retries = 0  # errors surface at once; retry behaviour has its own tests
    return client


CLOUDFLARE_TOKEN = "cloudflare-test-token"
ZONES = ["example.com", "example.net"]


@pytest.fixture
def cloudflare_sim() -> Iterator[CloudflareSimulator]:
    sim = CloudflareSimulator(token=CLOUDFLARE_TOKEN, zones=ZONES, clock=SimClock(time_scale=FAST))
    with SimulatorThread(sim):
        yield sim


@pytest.fixture
def cfclient(cloudflare_sim: CloudflareSimulator) -> cloudflare.Cloudflare:
    """Strict response validation: every answer must parse into the SDK's own models."""
    return cloudflare.Cloudflare(
        api_token=CLOUDFLARE_TOKEN,
        base_url=cloudflare_sim.url,
        max_retries=0,
        _strict_response_validation=True,
    )

"""Simulators with a seeded, Ready fleet, without a control plane (uids are made up here)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clawhost_sandbox.simcore import LatencyModel

from bench.fleet import ZONE, Clouds
from bench.processes import CLOUDFLARE_TOKEN, HETZNER_TOKEN
from bench.seed import SeededInstance, instance_body
from bench.steady import seed_fleet
from openclaw_operator import api
from openclaw_operator.config import Config, load_config


@pytest.fixture
def clouds() -> Iterator[Clouds]:
    with Clouds(time_scale=100.0, latency=LatencyModel.none()) as started:
        yield started


@pytest.fixture
def config(clouds: Clouds) -> Config:
    return load_config(
        {
            "HCLOUD_TOKEN": HETZNER_TOKEN,
            "HCLOUD_ENDPOINT": clouds.hetzner.url,
            "CLOUDFLARE_API_TOKEN": CLOUDFLARE_TOKEN,
            "CLOUDFLARE_BASE_URL": clouds.cloudflare.url,
            "CLAWHOST_MANAGED_ZONES": ZONE,
            "CLAWHOST_APP_HEALTH_URL": clouds.hetzner.base_url + "/_sim/app/{server_id}/healthz",
        }
    )


@pytest.fixture
def instances() -> list[api.OpenClawInstance]:
    made = []
    for index in range(5):
        body = instance_body(index, ZONE)
        body["metadata"].update(namespace="fleet", uid=str(uuid.uuid4()), generation=1)
        made.append(api.OpenClawInstance.from_body(body))
    return made


@pytest.fixture
def fleet(clouds: Clouds, instances: list[api.OpenClawInstance], config: Config) -> list[SeededInstance]:
    return list(seed_fleet(clouds, instances, config))

"""A stage like the core's `stage` fixture, for the suites that need another cluster or more zones: the
same `Stage` (tests/operator/integration/harness.py), built around any cluster and zone list."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.controlplane import ClusterAccess
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread

from tests.operator.integration.harness import TIME_SCALE, ZONE, Stage


@contextlib.contextmanager
def staged(
    cluster: ClusterAccess, namespace: str, workdir: Path, zones: tuple[str, ...] = (ZONE, "other.org")
) -> Iterator[Stage]:
    """Both simulators on a background loop (the operator manages only ZONE), stopped with the operators."""
    hetzner_token = "htok-" + secrets.token_hex(16)
    cloudflare_token = "cftok-" + secrets.token_hex(16)
    clock = SimClock(time_scale=TIME_SCALE)
    hetzner = HetznerSimulator(token=hetzner_token, clock=clock, latency=LatencyModel.none())
    cloudflare = CloudflareSimulator(
        token=cloudflare_token, zones=zones, clock=clock, latency=LatencyModel.none()
    )
    with SimulatorThread(hetzner, cloudflare):
        stage = Stage(cluster, namespace, hetzner, cloudflare, hetzner_token, cloudflare_token, workdir)
        try:
            yield stage
        finally:
            stage.stop_operators()

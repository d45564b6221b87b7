"""Resource timestamps under a time scale: the wall-clock instant the simulated event happened at, so a
client comparing them with its own clock never finds one in its future (issue 19, fix 4). Simulated
start + simulated seconds would date a server made a day of simulated time in, a day ahead."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import cloudflare
import hcloud
import pytest
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread

from tests.simulators.test_hetzner_sdk_servers import create

DAY = 86_400.0


def test_calendar_time_is_the_wall_instant_of_a_simulated_instant() -> None:
    start = time.monotonic()
    clock = SimClock(time_scale=1000.0, epoch=1_700_000_000)
    time.sleep(0.05)  # ~50 simulated seconds
    clock.advance(DAY)  # takes no wall time
    after_jump = clock.now()
    time.sleep(0.05)
    clock.time_scale = 10.0
    at_slowdown = clock.now()
    time.sleep(0.05)
    now = clock.unix()
    elapsed = time.monotonic() - start
    assert clock.unix(0) == pytest.approx(1_700_000_000, abs=0.01)
    assert now <= 1_700_000_000 + elapsed  # now is dated no later than the wall clock says
    assert now == pytest.approx(1_700_000_000 + elapsed, abs=0.02)
    # every instant inside the jump is dated when the jump happened
    assert clock.unix(after_jump - DAY / 2) == pytest.approx(clock.unix(after_jump - 1), abs=0.01)
    assert clock.unix(at_slowdown) - clock.unix(after_jump) == pytest.approx(0.05, abs=0.02)
    assert clock.unix(at_slowdown + 10**9) == pytest.approx(clock.unix(), abs=0.01)  # the future is now
    instants = [0.0, 10.0, after_jump - DAY, after_jump, at_slowdown, clock.now()]
    assert [clock.unix(t) for t in instants] == sorted(clock.unix(t) for t in instants)


def _wall_now() -> datetime:
    return datetime.now(UTC)


def test_hetzner_timestamps_never_lie_in_the_clients_future() -> None:
    sim = HetznerSimulator(token="t", clock=SimClock(time_scale=3600.0), latency=LatencyModel.none())
    with SimulatorThread(sim):
        client = hcloud.Client("t", api_endpoint=sim.url, poll_interval=0.01)
        early = create(client, "early")
        sim.clock.advance(DAY)
        late = create(client, "late")
        [action] = [a for a in late.get_actions() if a.command == "start_server"]
        now = _wall_now()
    assert early.created <= late.created <= now
    assert action.started <= action.finished <= now  # type: ignore[operator]
    assert (now - early.created).total_seconds() < 60


def test_cloudflare_timestamps_never_lie_in_the_clients_future() -> None:
    sim = CloudflareSimulator(token="t", zones=["example.com"], clock=SimClock(time_scale=3600.0))
    with SimulatorThread(sim):
        client = cloudflare.Cloudflare(api_token="t", base_url=sim.url, max_retries=0)
        zone_id = sim.zone_id("example.com")
        sim.clock.advance(DAY)
        record = client.dns.records.create(zone_id=zone_id, name="a", type="A", content="192.0.2.1", ttl=1)
        zone = client.zones.get(zone_id=zone_id)
        now = _wall_now()
    assert record is not None and zone is not None
    assert zone.created_on <= record.created_on <= now
    assert record.modified_on <= now

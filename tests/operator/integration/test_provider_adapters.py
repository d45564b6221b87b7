"""The provider adapters and the observer against the simulators, in process (no Kubernetes needed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import Latency, LatencyModel, SimClock
from pydantic import SecretStr

from openclaw_operator.observe import Observer
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Failure, FailureKind, RateLimited
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import RecordObservation

H_TOKEN, C_TOKEN = "h-adapter-token", "c-adapter-token"
LABELS = {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.INSTANCE_UID_LABEL: "u-1"}


@dataclass
class Rig:
    hetzner_sim: HetznerSimulator
    cloudflare_sim: CloudflareSimulator
    hetzner: HetznerProvider
    cloudflare: CloudflareProvider
    observer: Observer


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = SimClock(time_scale=100)
    hsim = HetznerSimulator(token=H_TOKEN, clock=clock, latency=LatencyModel.none())
    csim = CloudflareSimulator(token=C_TOKEN, zones=["example.com"], clock=clock, latency=LatencyModel.none())
    await hsim.start()
    await csim.start()
    hetzner = HetznerProvider(SecretStr(H_TOKEN), hsim.url, RateLimiter("hetzner"), 4, 10)
    cloudflare = CloudflareProvider(SecretStr(C_TOKEN), csim.url, RateLimiter("cloudflare"), 4, 10)
    observer = Observer(hetzner, cloudflare, ["example.com"], resync_interval=60, poll_interval=0.01)
    try:
        yield Rig(hsim, csim, hetzner, cloudflare, observer)
    finally:
        await cloudflare.close()
        hetzner.close()
        await hsim.stop()
        await csim.stop()


async def create(rig: Rig, name: str, labels: dict[str, str] | None = None) -> tuple[int, int]:
    server, action = await rig.hetzner.create_server(
        name=name,
        server_type="cx23",
        image="ubuntu-24.04",
        location="fsn1",
        labels=labels or LABELS,
        user_data="#x",
    )
    return server.id, action


async def test_a_listing_fetches_every_page_at_once_after_the_first(rig: Rig) -> None:
    """130 servers are 3 pages of 50: all of them come back once, and pages 2 and 3 are in flight together,
    so the listing takes about two answers' time (drift is noticed when the listing ends)."""
    created = await asyncio.gather(*(create(rig, f"s{i:03d}-00000000") for i in range(130)))
    rig.hetzner_sim.latency.set("GET /servers", Latency.constant(20.0))  # 0.2 s at 100x
    listed = await rig.hetzner.list_servers()
    assert sorted(server.id for server in listed) == sorted(server_id for server_id, _ in created)
    pages = [r for r in rig.hetzner_sim.request_log if r.method == "GET" and r.template == "/servers"]
    assert len(pages) == 3
    # One page after another would log pages 2 and 3 a whole 20 simulated seconds apart.
    assert abs(pages[2].sim_time - pages[1].sim_time) < 10, [r.sim_time for r in pages]


async def test_sdk_retries_are_off_the_operator_owns_them(rig: Rig) -> None:
    rig.hetzner_sim.faults.error_rate("GET", "/servers", 1.0, status=503, code="service_error")
    with pytest.raises(Failure) as error:
        await rig.hetzner.list_servers()
    assert error.value.kind == FailureKind.RETRYING
    assert len(rig.hetzner_sim.request_log) == 1


async def test_an_empty_bucket_sends_nothing(rig: Rig) -> None:
    limiter = rig.hetzner.limiter
    await rig.hetzner.list_servers()
    limiter.observe(limit=3600, remaining=0, reset_at=time.time() + 3600)
    before = len(rig.hetzner_sim.request_log)
    with pytest.raises(RateLimited):
        await rig.hetzner.list_servers()
    assert len(rig.hetzner_sim.request_log) == before
    assert limiter.refused == 1


async def test_cloudflare_429_blocks_the_token_for_retry_after(rig: Rig) -> None:
    rig.cloudflare_sim.faults.rate_limit_storm(1000)
    with pytest.raises(Failure) as error:
        await rig.cloudflare.zone("example.com")
    assert error.value.kind == FailureKind.RATE_LIMITED
    assert not isinstance(error.value, RateLimited)  # Cloudflare's own 429, not our limiter's refusal
    sent = len(rig.cloudflare_sim.request_log)
    with pytest.raises(RateLimited):
        await rig.cloudflare.zone("example.com")
    assert len(rig.cloudflare_sim.request_log) == sent == 1


async def test_observer_batches_action_polls_and_lists_once(rig: Rig) -> None:
    first = await create(rig, "one-11111111")
    second = await create(rig, "two-22222222", {**LABELS, naming.INSTANCE_UID_LABEL: "u-2"})
    await rig.observer.refresh()
    mark = len(rig.hetzner_sim.request_log)
    actions = await asyncio.gather(rig.observer.action(first[1]), rig.observer.action(second[1]))
    assert [a.id for a in actions if a] == [first[1], second[1]]
    polls = [r for r in rig.hetzner_sim.request_log[mark:] if r.template == "/actions"]
    assert len(polls) == 1 and polls[0].query.count("id=") == 2
    assert rig.observer.server_for("u-2", None) is not None
    assert rig.observer.server_for("u-1", first[0]).id == first[0]  # type: ignore[union-attr]
    mark = len(rig.hetzner_sim.request_log)
    await asyncio.gather(*(rig.observer.ensure_fresh() for _ in range(5)))
    assert len(rig.hetzner_sim.request_log) == mark  # fresh enough: no request at all


async def test_local_writes_survive_a_list_that_was_already_running(rig: Rig) -> None:
    await rig.observer.refresh()
    zone = rig.observer.zone("example.com")
    assert zone is not None
    record = RecordObservation(
        "", zone.id, "x.example.com", "A", "192.0.2.1", False, 300, naming.record_comment("u")
    )
    listing = asyncio.ensure_future(rig.observer.refresh())
    await asyncio.sleep(0)  # the list has started
    written = await rig.cloudflare.create_record(record)
    rig.observer.record_written(written)
    await listing
    assert written in rig.observer.records_for("u", "x.example.com")


async def test_duplicate_record_is_reported_as_already_existing(rig: Rig) -> None:
    zone = await rig.cloudflare.zone("example.com")
    assert zone is not None
    record = RecordObservation("", zone.id, "d.example.com", "A", "192.0.2.2", False, 300, None)
    await rig.cloudflare.create_record(record)
    with pytest.raises(Failure) as error:
        await rig.cloudflare.create_record(record)
    assert error.value.kind == FailureKind.ALREADY_EXISTS


async def test_uniqueness_error_and_protection(rig: Rig) -> None:
    server_id, _ = await create(rig, "dup-33333333")
    with pytest.raises(Failure) as error:
        await create(rig, "dup-33333333")
    assert error.value.kind == FailureKind.ALREADY_EXISTS
    found = await rig.hetzner.server_by_name("dup-33333333")
    assert found is not None and found.id == server_id and naming.owned_by(found.labels, "u-1")

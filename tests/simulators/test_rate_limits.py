"""Rate limits with the real budgets under a time scale: a burst above the budget gets 429s with the right
headers, and the budget comes back at the configured rate, measured in simulated time from the request log."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import cloudflare
import hcloud
import pytest

from openclaw_operator.sandbox.cloudflare_sim import CloudflareSimulator
from openclaw_operator.sandbox.hetzner_sim import HetznerSimulator
from openclaw_operator.sandbox.simcore import RequestRecord, SimClock, SimulatorThread

TOKEN = "limit-token"


async def burst(url: str, count: int, concurrency: int = 32) -> list[tuple[int, dict[str, str], dict]]:
    """`count` GETs, `concurrency` at a time; (status, headers, body) in completion order."""
    answers: list[tuple[int, dict[str, str], dict]] = []
    queue = iter(range(count))

    async def worker(session: aiohttp.ClientSession) -> None:
        for _ in queue:
            async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                answers.append((response.status, dict(response.headers), await response.json()))

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return answers


def refill_rate(log: list[RequestRecord]) -> float:
    """Successes per simulated second once the bucket first ran dry: the refill rate while saturated."""
    first_refusal = next(i for i, r in enumerate(log) if r.status == 429)
    after = log[first_refusal:]
    span = after[-1].sim_time - after[0].sim_time
    return sum(r.status == 200 for r in after) / span


async def test_hetzner_burst_above_3600_per_hour() -> None:
    sim = HetznerSimulator(token=TOKEN, clock=SimClock(time_scale=120.0))  # the real bucket: 3600, 1/s
    await sim.start()
    try:
        started = time.time()
        answers = await burst(sim.url + "/locations", 4200)
    finally:
        await sim.stop()
    statuses = [status for status, _, _ in answers]
    assert statuses[:3600] == [200] * 3600
    assert 429 in statuses
    log = [r for r in sim.request_log if r.template == "/locations"]
    assert [r.rate_limit_remaining for r in log[:3]] == [3599, 3598, 3597]
    assert refill_rate(log) == pytest.approx(1.0, rel=0.05)  # from simulated timestamps, not wall time
    for status, headers, body in answers:
        assert headers["RateLimit-Limit"] == "3600"
        assert int(headers["RateLimit-Reset"]) >= started
        if status == 429:
            assert headers["RateLimit-Remaining"] == "0"
            assert body["error"]["code"] == "rate_limit_exceeded"
            # empty bucket: full again in 3600 simulated seconds = 30 wall seconds at 120x
            assert int(headers["RateLimit-Reset"]) == pytest.approx(time.time() + 30, abs=3)


async def test_hetzner_limit_is_configurable() -> None:
    sim = HetznerSimulator(
        token=TOKEN, clock=SimClock(time_scale=50.0), rate_limit_capacity=20, rate_limit_refill_per_second=5.0
    )
    await sim.start()
    try:
        answers = await burst(sim.url + "/locations", 400, concurrency=4)
    finally:
        await sim.stop()
    assert [status for status, _, _ in answers[:20]] == [200] * 20
    assert answers[0][1]["RateLimit-Limit"] == "20"
    assert refill_rate(sim.request_log) == pytest.approx(5.0, rel=0.15)


def test_hetzner_429_as_the_sdk_sees_it() -> None:
    sim = HetznerSimulator(token=TOKEN, clock=SimClock(time_scale=1e-6), rate_limit_capacity=2)
    with SimulatorThread(sim):
        client = hcloud.Client(TOKEN, api_endpoint=sim.url)
        client._client._retry_max_retries = 0
        client.locations.get_all()
        client.locations.get_all()
        with pytest.raises(hcloud.APIException) as caught:
            client.locations.get_all()
        assert caught.value.code == "rate_limit_exceeded"
        # With retries the SDK waits and tries again; its wait is where simulated time passes here.
        client._client._retry_max_retries = 5
        client._client._retry_interval_func = lambda retries: sim.clock.advance(1.0) or 0.0
        assert len(client.locations.get_all()) == 6
        assert [r.status for r in sim.request_log[-2:]] == [429, 200]


async def test_cloudflare_burst_above_1200_per_5_minutes_locks_the_token_out() -> None:
    sim = CloudflareSimulator(token=TOKEN, zones=["example.com"], clock=SimClock(time_scale=60.0))
    await sim.start()
    try:
        answers = await burst(sim.url + "/zones", 1250)
        log = list(sim.request_log)
        sim.clock.time_scale = 1e-6  # hold time still to probe the end of the lockout
        locked_at = next(r.sim_time for r in log if r.status == 429)
        sim.clock.advance(max(0.0, locked_at + 299 - sim.clock.now()))
        still, _, _ = (await burst(sim.url + "/zones", 1))[0]
        sim.clock.advance(2)
        after, _, _ = (await burst(sim.url + "/zones", 1))[0]
    finally:
        await sim.stop()
    statuses = [status for status, _, _ in answers]
    assert statuses[:1200] == [200] * 1200
    assert statuses[1200:] == [429] * 50  # over the limit: blocked, not just throttled
    assert (still, after) == (429, 200)
    _, headers, body = answers[-1]
    assert body["errors"][0]["code"] == 971 and body["success"] is False
    assert int(headers["Retry-After"]) == pytest.approx(5, abs=1)  # 300 simulated seconds at 60x
    assert headers["Ratelimit-Policy"] == '"default";q=1200;w=5'
    assert "Retry-After" not in answers[0][1]
    assert answers[0][1]["Ratelimit"].startswith('"default";r=1199;')


def test_cloudflare_429_as_the_sdk_sees_it() -> None:
    sim = CloudflareSimulator(
        token=TOKEN, zones=["example.com"], clock=SimClock(time_scale=1e-6), rate_limit=1
    )
    with SimulatorThread(sim):
        client = cloudflare.Cloudflare(api_token=TOKEN, base_url=sim.url, max_retries=0)
        client.zones.list()
        with pytest.raises(cloudflare.RateLimitError) as caught:
            client.zones.list()
        assert caught.value.status_code == 429
        assert caught.value.response.headers["retry-after"]

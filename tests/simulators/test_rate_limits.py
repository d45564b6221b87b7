"""Rate limits with the real budgets under a time scale: a burst above the budget gets 429s with the right
headers, and the budget comes back at the configured rate, measured in simulated time from the request log."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import cloudflare
import hcloud
import pytest
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import SimClock, SimulatorThread

TOKEN = "limit-token"


Answer = tuple[int, dict[str, str], dict]


async def burst(url: str, until_refused: int, concurrency: int = 16, most: int = 20_000) -> list[Answer]:
    """GETs, `concurrency` at a time, until `until_refused` answers were 429 (so the outcome does not
    depend on how fast this machine is); (status, headers, body) in completion order."""
    answers: list[Answer] = []
    refused = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal refused
        while refused < until_refused and len(answers) < most:
            async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                answers.append((response.status, dict(response.headers), await response.json()))
                refused += response.status == 429

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return answers


async def refill_rate(sim: HetznerSimulator | CloudflareSimulator, url: str, seconds: float) -> float:
    """Freeze time on an exhausted budget, let `seconds` of simulated time pass, spend what came back:
    successes per simulated second between the two refusals, read from the request log."""
    sim.clock.time_scale = 1e-9
    sim.clock.advance(seconds)
    await burst(url, until_refused=1, concurrency=1)
    last_refusals = [i for i, r in enumerate(sim.request_log) if r.status == 429][-2:]
    before, after = (sim.request_log[i] for i in last_refusals)
    granted = sum(r.status == 200 for r in sim.request_log[last_refusals[0] : last_refusals[1]])
    return granted / (after.sim_time - before.sim_time)


async def test_hetzner_burst_above_3600_per_hour() -> None:
    sim = HetznerSimulator(token=TOKEN, clock=SimClock(time_scale=60.0))  # the real bucket: 3600, 1/s
    await sim.start()
    try:
        started = time.time()
        answers = await burst(sim.url + "/locations", until_refused=50)
        rate = await refill_rate(sim, sim.url + "/locations", 120)
    finally:
        await sim.stop()
    statuses = [status for status, _, _ in answers]
    assert statuses[:3600] == [200] * 3600
    assert [r.rate_limit_remaining for r in sim.request_log[:3]] == [3599, 3598, 3597]
    assert rate == pytest.approx(1.0, abs=0.02)  # 120 simulated seconds gave 120 (+-1) requests
    for status, headers, body in answers:
        assert headers["RateLimit-Limit"] == "3600"
        assert int(headers["RateLimit-Reset"]) >= started
        if status == 429:
            assert headers["RateLimit-Remaining"] == "0"
            assert body["error"]["code"] == "rate_limit_exceeded"
    # an empty bucket is full again in 3600 simulated seconds: 60 wall seconds at 60x
    refused_at = next(r.wall_time for r in sim.request_log if r.status == 429)
    assert int(answers[-1][1]["RateLimit-Reset"]) == pytest.approx(refused_at + 60, abs=5)


async def test_hetzner_limit_is_configurable() -> None:
    sim = HetznerSimulator(
        token=TOKEN, clock=SimClock(time_scale=10.0), rate_limit_capacity=20, rate_limit_refill_per_second=5.0
    )
    await sim.start()
    try:
        answers = await burst(sim.url + "/locations", until_refused=5)
        rate = await refill_rate(sim, sim.url + "/locations", 3)  # 15 tokens: below the capacity
        sim.clock.advance(100)  # 500 tokens' worth, but the bucket holds 20
        capped = await burst(sim.url + "/locations", until_refused=1, concurrency=1)
    finally:
        await sim.stop()
    assert [status for status, _, _ in answers[:20]] == [200] * 20
    assert answers[0][1]["RateLimit-Limit"] == "20"
    assert rate == pytest.approx(5.0, abs=0.4)
    assert [status for status, _, _ in capped] == [200] * 20 + [429]


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
    # 10x: the 5-minute window lasts 30 wall seconds, longer than any burst of 1,200 requests here
    sim = CloudflareSimulator(token=TOKEN, zones=["example.com"], clock=SimClock(time_scale=10.0))
    await sim.start()
    try:
        answers = await burst(sim.url + "/zones", until_refused=50)
        sim.clock.time_scale = 1e-9  # hold time still to probe the end of the lockout
        locked_at = next(r.sim_time for r in sim.request_log if r.status == 429)
        sim.clock.advance(max(0.0, locked_at + 299 - sim.clock.now()))
        [(still, _, _)] = await burst(sim.url + "/zones", until_refused=1, concurrency=1)
        sim.clock.advance(2)
        [(after, _, _)] = await burst(sim.url + "/zones", until_refused=1, concurrency=1, most=1)
    finally:
        await sim.stop()
    statuses = [status for status, _, _ in answers]
    assert statuses[:1200] == [200] * 1200
    assert set(statuses[1200:]) == {429}  # over the limit: blocked, not just throttled
    assert (still, after) == (429, 200)  # the lockout ends 300 simulated seconds after it began
    _, headers, body = answers[-1]
    assert body["errors"][0]["code"] == 971 and body["success"] is False
    assert int(headers["Retry-After"]) == pytest.approx(30, abs=3)  # 300 simulated seconds at 10x
    assert headers["Ratelimit-Policy"] == '"default";q=1200;w=30'
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

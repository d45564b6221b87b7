"""The client-side limiter: never sends on an empty estimate; learns from both providers' headers."""

from __future__ import annotations

import random

import pytest

from openclaw_operator.providers.errors import RateLimited
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.providers.transport import observe_headers, retry_after_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(clock: Clock) -> RateLimiter:
    return RateLimiter("hetzner", clock=clock, rng=random.Random(0))


def test_unknown_limits_let_requests_through() -> None:
    lim = limiter(Clock())
    for _ in range(5):
        lim.acquire()
        lim.done()
    assert lim.sent == 5 and lim.refused == 0


def test_empty_bucket_refuses_until_the_hetzner_refill() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()
    lim.observe(limit=3600, remaining=1, reset_at=clock.now + 3599)
    lim.acquire()  # the last one
    with pytest.raises(RateLimited) as refused:
        lim.acquire()
    assert 1.0 <= refused.value.delay <= 2.0  # 3600/h refills one request per second (+ spread)
    clock.now += 1.01
    lim.acquire()
    assert lim.refused == 1
    assert [(w.start, round(w.end, 2)) for w in lim.windows] == [(1000.0, 1001.01)]


def test_a_429_blocks_for_retry_after() -> None:
    clock = Clock()
    lim = RateLimiter("cloudflare", clock=clock, rng=random.Random(0))
    lim.acquire()
    lim.observe(retry_after=30)
    with pytest.raises(RateLimited) as refused:
        lim.acquire()
    assert refused.value.delay >= 30
    clock.now += 29
    with pytest.raises(RateLimited):
        lim.acquire()
    clock.now += 1.5
    lim.acquire()


def test_in_flight_requests_are_assumed_uncounted() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()
    lim.acquire()
    lim.observe(limit=3600, remaining=1)  # one answer in; the other request may not be counted yet
    with pytest.raises(RateLimited):
        lim.acquire()


def test_full_after_the_reset_time() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()
    lim.observe(limit=3600, remaining=0, reset_at=clock.now + 10)
    with pytest.raises(RateLimited):
        lim.acquire()
    clock.now += 10
    assert lim.remaining() == 3600


def test_refused_callers_are_spread_out() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()
    lim.observe(limit=3600, remaining=0)
    delays = []
    for _ in range(20):
        with pytest.raises(RateLimited) as refused:
            lim.acquire()
        delays.append(refused.value.delay)
    assert max(delays) - min(delays) > 2


def test_headers_feed_the_estimate() -> None:
    clock = Clock()
    lim = limiter(clock)
    lim.acquire()
    observe_headers(
        lim, 200, {"ratelimit-limit": "3600", "ratelimit-remaining": "0", "ratelimit-reset": "9e12"}
    )
    with pytest.raises(RateLimited):
        lim.acquire()
    cf = RateLimiter("cloudflare", clock=clock)
    cf.acquire()
    observe_headers(
        cf,
        429,
        {
            "ratelimit": '"default";r=0;t=42',
            "ratelimit-policy": '"default";q=1200;w=300',
            "retry-after": "42",
        },
    )
    with pytest.raises(RateLimited) as refused:
        cf.acquire()
    assert refused.value.delay >= 42


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Thu, 01 Jan 1970 00:01:40 GMT"}, 40.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers, now=60.0) == seconds

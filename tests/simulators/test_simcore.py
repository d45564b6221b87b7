"""The simulators' pure parts, table-driven: clock, limiters, latency, fault decisions, label selectors."""

from __future__ import annotations

import random

import pytest
from clawhost_sandbox.hetzner.catalogue import find_server_type
from clawhost_sandbox.hetzner.labels import SelectorError, label_problem, parse_selector
from clawhost_sandbox.hetzner.servers import change_type_problem
from clawhost_sandbox.hetzner.world import Server
from clawhost_sandbox.simcore import Faults, Latency, SimClock, SlidingWindowLimiter, TokenBucket

LABELS = {"team": "a", "tier": "web", "clawhost.dev/instance-uid": "0b3c1f2e-77aa-4f9a-9d7e-2f1c0a9b8e11"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("team=a", True),
        ("team==a", True),
        ("team=b", False),
        ("team!=b", True),
        ("team!=a", False),
        ("missing!=x", True),  # != also matches objects without the key, as in Kubernetes
        ("team in (a,b)", True),
        ("team in (b, c)", False),
        ("team notin (b,c)", True),
        ("team notin (a)", False),
        ("tier", True),
        ("missing", False),
        ("!missing", True),
        ("!tier", False),
        ("team=a,tier=web", True),
        ("team in (a,b),tier=db", False),
        (" team = a , !missing ", True),
        ("clawhost.dev/instance-uid=0b3c1f2e-77aa-4f9a-9d7e-2f1c0a9b8e11", True),
    ],
)
def test_label_selector(selector: str, matches: bool) -> None:
    assert parse_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize("selector", ["", "team in a", "team ~ a", "a=b=c", "team in (a"])
def test_invalid_label_selectors(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(selector)


@pytest.mark.parametrize(
    ("labels", "refused"),
    [
        ({"clawhost.dev/managed-by": "openclaw-operator"}, False),
        ({"a": ""}, False),
        ({"k": "x" * 63}, False),
        ({"k": "x" * 64}, True),
        ({"-k": "v"}, True),
        ({"k": "-v"}, True),
        ({"hetzner.cloud/x": "v"}, True),
        ({"k": 1}, True),
        (["not", "a", "mapping"], True),
    ],
)
def test_label_rules(labels: object, refused: bool) -> None:
    assert (label_problem(labels) is not None) is refused


def _server(type_name: str, disk: int) -> Server:
    server_type = find_server_type(type_name)
    assert server_type is not None
    return Server(1, "s", {}, server_type, None, None, 0.0, "off", None, None, [], None, disk)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "disk", "new", "allowed"),
    [
        ("cx23", 40, "cx33", True),  # bigger disk
        ("cx33", 40, "cx23", True),  # the disk was not upgraded: still 40 GB
        ("cx33", 80, "cx23", False),  # an upgraded 80 GB disk cannot shrink to 40
        ("cx23", 40, "cax11", False),  # another architecture
        ("cpx21", 80, "cpx11", False),
        ("ccx13", 80, "ccx23", True),
    ],
)
def test_change_type_rule(current: str, disk: int, new: str, allowed: bool) -> None:
    new_type = find_server_type(new)
    assert new_type is not None
    assert (change_type_problem(_server(current, disk), new_type) is None) is allowed


def test_token_bucket_refills_continuously() -> None:
    bucket = TokenBucket(capacity=3, refill_per_second=0.5)
    taken = [bucket.take("k", 0.0) for _ in range(4)]
    assert [d.allowed for d in taken] == [True, True, True, False]
    assert [d.remaining for d in taken] == [2, 1, 0, 0]
    assert taken[-1].reset_after == pytest.approx(6.0)  # 3 tokens at 0.5/s
    assert not bucket.take("k", 1.9).allowed  # 0.95 tokens
    assert bucket.take("k", 2.0).allowed
    assert bucket.take("other", 2.0).remaining == 2  # buckets are per key


def test_sliding_window_locks_out_after_the_limit() -> None:
    limiter = SlidingWindowLimiter(limit=2, window=10.0, lockout=30.0)
    assert [limiter.take("k", t).allowed for t in (0.0, 1.0, 2.0)] == [True, True, False]
    locked = limiter.take("k", 5.0)
    assert (locked.allowed, locked.reset_after) == (False, pytest.approx(27.0))
    assert not limiter.take("k", 31.9).allowed
    assert limiter.take("k", 32.0).allowed


def test_clock_scales_advances_and_keeps_time_when_the_speed_changes() -> None:
    clock = SimClock(time_scale=1000.0, epoch=1_700_000_000)
    clock.advance(100)
    before = clock.now()
    assert before >= 100
    clock.time_scale = 1e-9
    assert clock.now() >= before  # slowing down does not rewind
    assert clock.iso(0) == "2023-11-14T22:13:20Z"
    assert clock.to_wall_seconds(60) == pytest.approx(6e10)
    with pytest.raises(ValueError):
        clock.advance(-1)


@pytest.mark.parametrize(
    "latency", [Latency.constant(0.2), Latency.uniform(0.1, 0.3), Latency.lognormal(0.2, 0.5)]
)
def test_latency_is_seeded(latency: Latency) -> None:
    def samples(seed: int) -> list[float]:
        rng = random.Random(seed)
        return [latency.sample(rng) for _ in range(20)]

    assert samples(1) == samples(1)
    assert all(s >= 0 for s in samples(2))
    if latency.kind != "constant":
        assert samples(1) != samples(2)


def _fault_sequence(seed: int) -> list[str | None]:
    faults = Faults(SimClock(time_scale=1e-9), seed)
    faults.error_rate("GET", "/servers", 0.3, 503)
    faults.error_rate("*", "/servers/{id}", 0.5, 500, "server_error")
    faults.drop_connections(0.1)
    calls = [("GET", "/servers"), ("GET", "/servers/{id}"), ("POST", "/servers")] * 40
    return [faults.decide(method, template).kind for method, template in calls]


def test_faults_are_deterministic_under_a_seed() -> None:
    first = _fault_sequence(7)
    assert first == _fault_sequence(7)
    assert first != _fault_sequence(8)
    assert {"error", "drop", None} <= set(first)


def test_outage_storm_slow_and_forced_action_failures() -> None:
    clock = SimClock(time_scale=1e-9)
    faults = Faults(clock, 0)
    faults.outage(start_s=10, duration_s=5)
    faults.slow("/servers", 3.0)
    assert faults.decide("GET", "/servers").kind is None
    assert faults.decide("GET", "/servers").extra_delay == 3.0
    clock.advance(12)
    assert faults.decide("GET", "/zones").kind == "outage"
    clock.advance(5)
    assert faults.decide("GET", "/zones").kind is None
    faults.rate_limit_storm(1)
    assert faults.decide("GET", "/zones").status == 429
    faults.fail_actions("create_server", 2)
    assert [faults.take_action_failure("create_server") for _ in range(3)] == [True, True, False]
    faults.clear()
    assert faults.decide("GET", "/servers") == faults.decide("GET", "/nothing")

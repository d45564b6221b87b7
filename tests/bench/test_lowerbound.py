"""The burst lower bound: when the limiters let requests out at the earliest, and the resulting bound."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.lowerbound import BurstModel, burst_lower_bound, cloudflare_send_time, hetzner_send_time

CHAIN = 0.6 + 8.0 + 6.0 + 30.0  # POST answer + create action + start action + app boot


@pytest.mark.parametrize(
    ("nth", "initial", "refill", "expected"),
    [
        (0, 3600, 1.0, 0.0),  # nothing to send
        (1, 3600, 1.0, 0.0),  # a full bucket answers at once
        (3600, 3600, 1.0, 0.0),  # the last token of a full bucket
        (3601, 3600, 1.0, 1.0),  # then one per refill interval
        (200, 0, 1.0, 200.0),  # an empty bucket: the nth token arrives after n seconds
        (200, 50, 1.0, 150.0),
        (200, 50, 2.0, 75.0),
        (1, 0.5, 1.0, 0.5),  # half a token left: the rest refills in half a second
    ],
)
def test_hetzner_send_time(nth: int, initial: float, refill: float, expected: float) -> None:
    assert hetzner_send_time(nth, initial, refill) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("nth", "expected"),
    [(0, 0.0), (1, 0.0), (1200, 0.0), (1201, 300.0), (2400, 300.0), (2401, 600.0)],
)
def test_cloudflare_send_time_fills_whole_windows(nth: int, expected: float) -> None:
    assert cloudflare_send_time(nth, limit=1200, window=300.0) == expected


MODEL = BurstModel(
    instances=200,
    hetzner_initial_tokens=3600,
    hetzner_refill_per_second=1.0,
    cloudflare_limit=1200,
    cloudflare_window=300.0,
    create_request_seconds=0.6,
    create_action_seconds=8.0,
    start_action_seconds=6.0,
    app_boot_seconds=30.0,
    record_request_seconds=0.25,
)


@pytest.mark.parametrize(
    ("changes", "seconds", "last_create"),
    [
        ({}, CHAIN, 0.0),  # a full bucket: the server's own timeline is the bound
        ({"hetzner_initial_tokens": 0}, 200.0 + CHAIN, 200.0),  # a drained bucket paces the creates
        ({"hetzner_initial_tokens": 150}, 50.0 + CHAIN, 50.0),
        ({"app_ready_check": False}, CHAIN - 30.0, 0.0),  # Ready without the app: no boot time
        # 5,000 creates from 3,600 tokens (with a Cloudflare limit that does not bind)
        ({"instances": 5000, "cloudflare_limit": 100_000}, 1400.0 + CHAIN, 1400.0),
    ],
)
def test_burst_lower_bound_server_path(
    changes: dict[str, object], seconds: float, last_create: float
) -> None:
    bound = burst_lower_bound(replace(MODEL, **changes))  # type: ignore[arg-type]
    assert bound.seconds == pytest.approx(seconds)
    assert bound.last_create_sent == pytest.approx(last_create)
    assert bound.server_path == pytest.approx(seconds)


def test_cloudflare_window_can_dominate() -> None:
    # 1,000 instances need 2,000 record writes: the second 1,200 wait a whole window.
    bound = burst_lower_bound(replace(MODEL, instances=1000, app_boot_seconds=0.0))
    assert bound.dns_path == pytest.approx(300.0 + 0.25)
    assert bound.seconds == bound.dns_path > bound.server_path


def test_records_wait_for_their_server_address() -> None:
    # A drained bucket holds the last POST /servers back: its records cannot be written before it answers.
    bound = burst_lower_bound(replace(MODEL, hetzner_initial_tokens=0, app_ready_check=False))
    assert bound.dns_path == pytest.approx(200.0 + 0.6 + 0.25)

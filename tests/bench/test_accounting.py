"""Counting what the simulators saw: windows, provider routes only, 429s, servers per instance."""

from __future__ import annotations

import pytest

from bench.accounting import (
    api_requests,
    duplicate_servers,
    first_at_or_after,
    servers_per_instance,
    tally,
)
from openclaw_operator.reconcile import naming
from openclaw_operator.sandbox.simcore import RequestRecord


def record(
    path: str, sim_time: float, status: int = 200, method: str = "GET", template: str = ""
) -> RequestRecord:
    return RequestRecord(method, path, template or path.removeprefix("/v1"), "", status, sim_time, 0.0, None)


LOG = [
    record("/v1/servers", 10.0),
    record("/v1/servers/7", 20.0, template="/servers/{id}"),
    record("/v1/servers", 30.0, status=429),
    record("/v1/servers", 40.0, status=503),
    record("/_sim/app/7/healthz", 50.0),  # the app's health URL is not provider API cost
    record("/v1/servers", 3600.0),  # outside a one-hour window starting at 0
]


def test_api_requests_keeps_provider_routes_in_the_window() -> None:
    chosen = api_requests(LOG, "/v1", 0.0, 3600.0)
    assert [r.sim_time for r in chosen] == [10.0, 20.0, 30.0, 40.0]


def test_tally_counts_statuses_and_operations() -> None:
    counted = tally(LOG, "/v1", 0.0, 3600.0)
    assert counted.total == 4
    assert counted.rate_limited == 1
    assert counted.errors == 1
    assert counted.by_operation == {"GET /servers": 3, "GET /servers/{id}": 1}
    assert counted.per_hour == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("start", "end", "per_hour"), [(0.0, 1800.0, 8.0), (0.0, 7200.0, 2.5), (5.0, 5.0, 0.0)]
)
def test_per_hour_scales_the_window(start: float, end: float, per_hour: float) -> None:
    assert tally(LOG, "/v1", start, end).per_hour == pytest.approx(per_hour)


def labels(uid: str, managed: bool = True) -> dict[str, object]:
    found: dict[str, str] = {naming.INSTANCE_UID_LABEL: uid}
    if managed:
        found[naming.MANAGED_BY_LABEL] = naming.MANAGED_BY_VALUE
    return {"labels": found}


def test_servers_per_instance_counts_only_ours() -> None:
    servers = [labels("a"), labels("a"), labels("a"), labels("b"), labels("c", managed=False), {"labels": {}}]
    per_instance = servers_per_instance(servers)
    assert per_instance == {"a": 3, "b": 1}
    assert duplicate_servers(per_instance) == 2  # two servers too many for "a"
    assert duplicate_servers({"x": 1, "y": 1}) == 0


def test_first_at_or_after() -> None:
    assert first_at_or_after([5.0, 1.0, 9.0], 2.0) == 5.0
    assert first_at_or_after([5.0, 1.0], 5.0) == 5.0
    assert first_at_or_after([1.0], 2.0) is None

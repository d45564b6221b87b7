"""Counting what the simulators saw: windows, provider routes only, 429s, servers per instance."""

from __future__ import annotations

import pytest
from clawhost_sandbox.simcore import RequestRecord

from bench.accounting import (
    api_requests,
    duplicate_servers,
    first_answer,
    first_at_or_after,
    listing_passes,
    noticed_by_listing,
    percentiles,
    servers_per_instance,
    tally,
)
from openclaw_operator.reconcile import naming


def record(
    path: str, sim_time: float, status: int = 200, method: str = "GET", template: str = "", query: str = ""
) -> RequestRecord:
    template = template or path.removeprefix("/v1")
    return RequestRecord(method, path, template, query, status, sim_time, 0.0, None)


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


def page(sim_time: float, number: int, selector: str = "label_selector=managed") -> RequestRecord:
    return record("/v1/servers", sim_time, query=f"{selector}&page={number}&per_page=50")


LISTINGS = [
    page(0.0, 1), page(1.0, 2), page(2.0, 3),  # one pass of three pages
    record("/v1/servers/7", 50.0, template="/servers/{id}"),  # not a listing
    page(60.0, 1, selector="name=web"),  # a listing by name, not a full pass
    page(300.0, 1), page(301.5, 2),
    page(600.0, 1),  # the page 10 and 11 of a listing are not page 1
    page(601.0, 10), page(602.0, 11),
]  # fmt: skip


def test_listing_passes_group_pages_into_passes() -> None:
    assert listing_passes(LISTINGS, "label_selector") == [(0.0, 2.0), (300.0, 301.5), (600.0, 602.0)]


@pytest.mark.parametrize(
    ("since", "noticed"), [(-1.0, 2.0), (0.5, 301.5), (300.0, 301.5), (300.1, 602.0), (700, None)]
)
def test_a_change_is_noticed_when_the_next_whole_listing_is_complete(
    since: float, noticed: float | None
) -> None:
    assert noticed_by_listing(listing_passes(LISTINGS, "label_selector"), since) == noticed


def test_first_answer_matches_path_and_status() -> None:
    log = [
        record("/v1/servers/17", 5.0, status=404),  # another server whose id ends the same way
        record("/v1/servers/7", 10.0, status=200),
        record("/v1/servers/7", 20.0, status=404),
        record("/v1/servers/7", 30.0, status=404),
    ]
    assert first_answer(log, "/servers/7", 404, 0.0) == 20.0
    assert first_answer(log, "/servers/7", 404, 25.0) == 30.0
    assert first_answer(log, "/servers/7", 404, 31.0) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], None),
        ([7.0], {"p50": 7.0, "p90": 7.0, "max": 7.0}),
        ([float(v) for v in range(1, 11)], {"p50": 6.0, "p90": 10.0, "max": 10.0}),  # nearest rank
        ([300.04, 299.96, 301.26], {"p50": 300.0, "p90": 301.3, "max": 301.3}),
    ],
)
def test_percentiles(values: list[float], expected: dict[str, float] | None) -> None:
    assert percentiles(values) == expected

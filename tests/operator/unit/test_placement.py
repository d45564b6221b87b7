"""Placement as a table: which project a new server goes to, and which locations may stand in."""

from __future__ import annotations

import pytest

from openclaw_operator.api import LocationPolicy
from openclaw_operator.reconcile.placement import (
    FULL_RECHECK_SECONDS,
    ProjectCapacity,
    choose_project,
    location_candidates,
)

NOW = 10_000.0
EU = ("fsn1", "nbg1", "hel1")


def cap(name: str, servers: int = 0, **kw: object) -> ProjectCapacity:
    return ProjectCapacity(name, servers, **kw)  # type: ignore[arg-type]


PLACEMENTS = [
    # (projects, allowed locations, chosen or None, what the row shows)
    ((cap("a", 3), cap("b", 1)), ("fsn1",), "b", "the least loaded project"),
    ((cap("a", 2), cap("b", 2)), ("fsn1",), "a", "a tie goes to the configured order"),
    ((cap("a", 0, pending=3), cap("b", 2)), ("fsn1",), "b", "placed-but-not-created servers count"),
    ((cap("a", 5, quota=5), cap("b", 9)), ("fsn1",), "b", "a project at its quota is skipped"),
    ((cap("a", 4, pending=1, quota=5), cap("b", 9)), ("fsn1",), "b", "pending ones fill the quota too"),
    ((cap("a", 4, quota=5), cap("b", 9)), ("fsn1",), "a", "below its quota it is used"),
    ((cap("a", 1, full_at=1, full_since=NOW - 5), cap("b", 7)), ("fsn1",), "b", "a full project is skipped"),
    ((cap("a", 0, full_at=1, full_since=NOW - 5), cap("b", 7)), ("fsn1",), "a", "full until a server went"),
    (
        (cap("a", 1, full_at=1, full_since=NOW - FULL_RECHECK_SECONDS), cap("b", 7)),
        ("fsn1",),
        "a",
        "a full project is tried again after the recheck time (its limit may have been raised)",
    ),
    (
        (cap("a", 0, locations=frozenset({"ash"})), cap("b", 7)),
        ("fsn1",),
        "b",
        "a project that does not offer the location is skipped",
    ),
    (
        (cap("a", 0, locations=frozenset({"nbg1"})), cap("b", 7)),
        EU,
        "b",
        "a project offering the requested location beats a less loaded one offering only a fallback",
    ),
    (
        (cap("a", 0, locations=frozenset({"nbg1"})), cap("b", 7, locations=frozenset({"ash"}))),
        EU,
        "a",
        "a fallback location's project when none offers the requested one",
    ),
    ((cap("a", 5, quota=5), cap("b", 2, quota=2)), ("fsn1",), None, "every project full"),
    ((cap("a", locations=frozenset({"ash"})),), ("fsn1",), None, "no project offers the location"),
    ((), ("fsn1",), None, "no projects at all"),
]


@pytest.mark.parametrize(
    ("projects", "locations", "chosen", "why"), PLACEMENTS, ids=[p[3] for p in PLACEMENTS]
)
def test_choose_project(
    projects: tuple[ProjectCapacity, ...], locations: tuple[str, ...], chosen: str | None, why: str
) -> None:
    placement = choose_project(projects, locations, NOW)
    assert placement.project == chosen
    if chosen is None:
        assert placement.message  # says why nothing was chosen


def test_refusals_say_why() -> None:
    full = choose_project((cap("a", 5, quota=5), cap("b", 2, quota=2)), ("fsn1",), NOW)
    assert "no Hetzner project has room" in full.message and "a, b" in full.message
    elsewhere = choose_project((cap("a", locations=frozenset({"ash"})),), ("fsn1", "nbg1"), NOW)
    assert elsewhere.message == "no Hetzner project with room offers fsn1, nbg1"


CANDIDATES = [
    ("fsn1", LocationPolicy.STRICT, ("fsn1",)),
    ("fsn1", LocationPolicy.PREFER_SAME_REGION, ("fsn1", "nbg1", "hel1")),
    ("hel1", LocationPolicy.PREFER_SAME_REGION, ("hel1", "fsn1", "nbg1")),
    ("nbg1", LocationPolicy.PREFER_SAME_REGION, ("nbg1", "fsn1", "hel1")),
    ("ash", LocationPolicy.PREFER_SAME_REGION, ("ash",)),  # us-east has one location
    ("sin", LocationPolicy.PREFER_SAME_REGION, ("sin",)),
    ("hil", LocationPolicy.STRICT, ("hil",)),
]


@pytest.mark.parametrize(("requested", "policy", "expected"), CANDIDATES)
def test_location_candidates(requested: str, policy: LocationPolicy, expected: tuple[str, ...]) -> None:
    assert location_candidates(requested, policy) == expected

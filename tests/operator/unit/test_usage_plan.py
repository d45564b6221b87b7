"""status.usage is rewritten only when worth an apiserver write (reconcile/usage.py): a row per situation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import usage
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import ServerObservation, ServerStatus
from openclaw_operator.reconcile.usage import GIB, to_record
from openclaw_operator.reconciler import status_patch
from tests.operator.unit import test_instance_decide as decide_rows

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
MIB = 2**20
GB = 10**9
TB = 2**40

SERVER = ServerObservation(
    id=7,
    name="alice",
    status=ServerStatus.RUNNING,
    server_type="cx23",
    disk_gb=40,
    outgoing_traffic=10 * GB,
    ingoing_traffic=2 * GB,
    included_traffic=20 * TB,
)


def recorded(minutes_ago: float, outgoing: int = 10 * GB, **changes: object) -> api.Usage:
    base = api.Usage(
        disk_limit_bytes=40 * GIB,
        outgoing_traffic_bytes=outgoing,
        ingoing_traffic_bytes=2 * GB,
        included_traffic_bytes=20 * TB,
        observed_at=NOW - timedelta(minutes=minutes_ago),
    )
    return base.model_copy(update=changes)


def fresh() -> api.Usage:
    return usage.reading(SERVER, NOW)


CASES = [
    # (why, usage recorded before, server now, expected: "keep" the recorded one or "new" reading)
    ("first reading is written", None, SERVER, "new"),
    ("no server (hibernated): the last reading stays", recorded(600), None, "keep"),
    (
        "nothing known yet: nothing to write",
        None,
        replace(SERVER, disk_gb=None, outgoing_traffic=None, ingoing_traffic=None, included_traffic=None),
        "none",
    ),
    ("same figures, long ago: no write for nothing", recorded(600), SERVER, "keep"),
    ("grew 1 %, minutes ago: too small, too soon", recorded(5, outgoing=int(9.9 * GB)), SERVER, "keep"),
    ("grew 1 %, over an hour ago: the hourly write", recorded(61, outgoing=int(9.9 * GB)), SERVER, "new"),
    ("grew 25 %, a minute ago: significant", recorded(1, outgoing=8 * GB), SERVER, "new"),
    ("reset at the billing period: significant", recorded(1, outgoing=900 * GB), SERVER, "new"),
    (
        "tiny counter, tiny growth: under a MiB is never worth a write",
        recorded(600, outgoing=10 * GB - MIB // 2),
        SERVER,
        "keep",
    ),
    ("counter from 0: written at once", recorded(1, outgoing=0), SERVER, "new"),
    ("resized (disk limit changed): written at once", recorded(1), replace(SERVER, disk_gb=80), "new"),
    ("counter appeared", recorded(1, ingoing_traffic_bytes=None), SERVER, "new"),
    (
        "recorded without a time: counts as stale",
        recorded(0, outgoing=int(9.9 * GB), observed_at=None),
        SERVER,
        "new",
    ),
]


@pytest.mark.parametrize(("before", "server", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_usage_is_written_only_when_worth_it(
    before: api.Usage | None, server: ServerObservation | None, expected: str
) -> None:
    after = to_record(before, server, NOW)
    if expected == "keep":
        assert after is before
    elif expected == "none":
        assert after is None
    else:
        assert server is not None
        assert after == usage.reading(server, NOW)
        assert after is not before


def test_a_reading_is_what_the_server_object_says() -> None:
    reading = fresh()
    assert reading == api.Usage(
        disk_limit_bytes=40 * 2**30,
        outgoing_traffic_bytes=10 * GB,
        ingoing_traffic_bytes=2 * GB,
        included_traffic_bytes=20 * TB,
        observed_at=NOW,
    )
    assert reading.disk_used_bytes is None  # unknown without the guest; WHMCS shows nothing, not zero
    assert reading.to_api()["observedAt"] == "2026-12-04T12:00:00Z"


def test_a_pass_writes_usage_only_with_a_new_reading() -> None:
    """Through decide: the same reading twice changes status once; the second status patch has no usage."""
    row = replace(decide_rows.ROWS[0], server=replace(decide_rows.SERVER, outgoing_traffic=5 * GB))
    first = decide(decide_rows.situation(row))
    assert first.status.usage is not None
    assert first.status.usage.outgoing_traffic_bytes == 5 * GB
    assert first.status.usage.disk_limit_bytes == 40 * GIB
    situation = decide_rows.situation(row)
    again = replace(situation, instance=situation.instance.model_copy(update={"status": first.status}))
    second = decide(again)
    assert second.status.usage is first.status.usage
    assert "usage" not in status_patch(first.status, second.status)


@pytest.mark.parametrize(("bytes_per_second", "most_per_day"), [(0, 1), (40_000, 26), (2_000_000, 26)])
def test_a_month_of_passes_costs_about_a_write_an_hour(bytes_per_second: int, most_per_day: int) -> None:
    """A pass every 5 minutes for 30 days (8,640 passes) with steadily growing traffic: about one status write
    an hour (docs/whmcs.md has the figures), and one in all for an idle server."""
    recorded: api.Usage | None = None
    writes = 0
    for tick in range(30 * 24 * 12):
        grown = bytes_per_second * 300 * tick
        server = replace(SERVER, outgoing_traffic=grown, ingoing_traffic=grown // 4)
        after = to_record(recorded, server, NOW + timedelta(minutes=5 * tick))
        writes += after is not recorded
        recorded = after
    assert writes <= most_per_day * 30
    assert writes >= (1 if bytes_per_second == 0 else 24 * 30), "the hourly write happens"

"""decide(): the whole pass as a pure function, one row per situation of the instance."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import (
    AppObservation,
    PlanSettings,
    RecordObservation,
    ServerObservation,
    Situation,
    Zone,
    step_name,
)

UID = "u-1"
HOST = "alpha.example.com"
ZONE = Zone("z", "example.com")
SERVER = ServerObservation(
    7,
    "alpha-u1",
    "running",
    "cx23",
    {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.INSTANCE_UID_LABEL: UID,
        naming.INSTANCE_NAMESPACE_LABEL: "ns",
        naming.INSTANCE_NAME_LABEL: "alpha",
        naming.DELETION_POLICY_LABEL: "Delete",
    },
    "203.0.113.7",
    "2001:db8::1",
    40,
    "x86",
    delete_protected=True,
    rebuild_protected=True,
)
OURS = naming.record_comment(UID)
RECORDS = (
    RecordObservation("a", "z", HOST, "A", "203.0.113.7", False, 300, OURS),
    RecordObservation("b", "z", HOST, "AAAA", "2001:db8::1", False, 300, OURS),
)
HEALTHY = AppObservation(True, "answers")
SETTINGS = PlanSettings(("example.com",), "2026.9.5", "2026.4.23", True, 120, 2.0)


@dataclass
class Row:
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    server: ServerObservation | None = SERVER
    records: tuple[RecordObservation, ...] = RECORDS
    app: AppObservation | None = HEALTHY
    settings: PlanSettings = SETTINGS
    steps: list[str] = field(default_factory=list)  # model.step_name of each
    ready: str = "False"
    ready_reason: str | None = None
    stalled: str = "False"
    phase: api.Phase = api.Phase.PROVISIONING
    requeue: bool = True


ROWS = [
    Row(
        "all in place: Ready, Running, nothing to do",
        ready="True",
        ready_reason="Ready",
        phase=api.Phase.RUNNING,
        requeue=False,
    ),
    Row(
        "new instance: create the server (DNS waits for addresses)",
        server=None,
        records=(),
        steps=["create_server"],
    ),
    Row(
        "server up, no records: create both",
        records=(),
        steps=["create_record", "create_record"],
    ),
    Row(
        "unsafe version: stalled before anything",
        spec={"openclawVersion": "2026.4.22"},
        server=None,
        records=(),
        stalled="True",
        phase=api.Phase.FAILED,
        requeue=False,
    ),
    Row(
        "foreign record: no server is created for a name we cannot publish",
        server=None,
        records=(replace(RECORDS[0], comment=None),),
        stalled="True",
        phase=api.Phase.FAILED,
        requeue=False,
    ),
    Row(
        "app unhealthy: not Ready, retried",
        app=AppObservation(False, "HTTP 502", 4.0),
        ready_reason="Unhealthy",
    ),
    Row("app not checked yet: not Ready, back for the check", app=None, ready_reason="Checking"),
    Row(
        "app check disabled: Ready without it",
        app=None,
        settings=replace(SETTINGS, app_ready_check=False),
        ready="True",
        phase=api.Phase.RUNNING,
        requeue=False,
    ),
    Row(
        "suspended and off: Ready, phase Suspended",
        spec={"suspended": True},
        server=replace(SERVER, status="off"),
        app=None,
        ready="True",
        ready_reason="PoweredOff",
        phase=api.Phase.SUSPENDED,
        requeue=False,
    ),
]


def situation(row: Row) -> Situation:
    instance = api.OpenClawInstance.from_body(
        {
            "metadata": {"name": "alpha", "namespace": "ns", "uid": UID, "generation": 2},
            "spec": {"hostname": HOST, "gatewayTokenSecretRef": {"name": "t"}, **row.spec},
        }
    )
    return Situation(
        instance,
        row.server,
        None,
        None,
        ZONE,
        row.records,
        row.app,
        row.settings,
        datetime(2026, 11, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_decide(row: Row) -> None:
    decision = decide(situation(row))
    status = decision.status
    conditions = {c.type: c for c in status.conditions}
    assert [step_name(s) for s in decision.steps] == row.steps
    assert conditions["Ready"].status == row.ready
    if row.ready_reason:
        assert conditions["Ready"].reason == row.ready_reason
    assert conditions["Stalled"].status == row.stalled
    assert conditions["Reconciling"].status == (
        "False" if row.ready == "True" or row.stalled == "True" else "True"
    )
    assert status.phase == row.phase
    assert (decision.requeue is not None) == row.requeue
    assert status.observed_generation == 2
    assert all(c.observed_generation == 2 for c in status.conditions)


def test_ready_status_carries_ids_addresses_and_url() -> None:
    status = decide(situation(ROWS[0])).status
    assert (status.server_id, status.ipv4, status.ipv6, status.server_type) == (
        7,
        "203.0.113.7",
        "2001:db8::1",
        "cx23",
    )
    assert status.url == f"https://{HOST}/"
    assert status.dns_record_ids == api.DnsRecordIds(zone_id="z", a="a", aaaa="b")


def test_the_first_app_check_follows_within_a_poll_not_an_interval() -> None:
    """The pass that sees server and DNS ready ends with AppReady Unknown; the check runs next pass."""
    decision = decide(situation(Row("unchecked", app=None)))
    assert decision.requeue == SETTINGS.poll

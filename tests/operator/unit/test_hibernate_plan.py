"""Hibernate as pure planning: decide() over one row per situation of a suspension with
spec.suspendMode Hibernate (and the situations a crash can leave behind), plus the details a row
cannot show (labels, the snapshot a restore uses, billing)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import (
    AppObservation,
    CreateServer,
    CreateSnapshot,
    ImageStatus,
    PlanSettings,
    RecordObservation,
    ServerObservation,
    Situation,
    SnapshotObservation,
    Zone,
    step_name,
)

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
UID = "u-1"
HOST = "alpha.example.com"
ZONE = Zone("z", "example.com")
LABELS = {
    naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
    naming.INSTANCE_UID_LABEL: UID,
    naming.INSTANCE_NAMESPACE_LABEL: "ns",
    naming.INSTANCE_NAME_LABEL: "alpha",
    naming.DELETION_POLICY_LABEL: "Delete",
    naming.CLUSTER_LABEL: "prod",
}
RUNNING = ServerObservation(
    7, "alpha-u1", "running", "cx23", dict(LABELS), "203.0.113.7", "2001:db8::1", 40, "x86",
    delete_protected=True, rebuild_protected=True,
)  # fmt: skip
OFF = replace(RUNNING, status="off")
UNPROTECTED_OFF = replace(OFF, delete_protected=False, rebuild_protected=False)
OURS = naming.record_comment(UID)
RECORDS = (
    RecordObservation("a", "z", HOST, "A", "203.0.113.7", False, 300, OURS),
    RecordObservation("b", "z", HOST, "AAAA", "2001:db8::1", False, 300, OURS),
)
TAKEN = NOW - timedelta(minutes=5)
SNAP = SnapshotObservation(41, ImageStatus.AVAILABLE, dict(LABELS), 1.6, 40, TAKEN, 7)
CREATING = replace(SNAP, status=ImageStatus.CREATING, size_gb=None)
SETTINGS = PlanSettings(("example.com",), "2026.9.5", "2026.4.23", True, 120, 2.0, cluster="prod")
HIBERNATE = {"suspended": True, "suspendMode": "Hibernate"}
SHUTTING = {"shutdownStartedAt": (NOW - timedelta(seconds=10)).isoformat()}


@dataclass
class Row:
    name: str
    spec: dict[str, Any] = field(default_factory=lambda: dict(HIBERNATE))
    server: ServerObservation | None = RUNNING
    snapshots: tuple[SnapshotObservation, ...] = ()
    status: dict[str, Any] = field(default_factory=dict)
    records: tuple[RecordObservation, ...] = RECORDS
    # expectations
    steps: list[str] = field(default_factory=list)
    server_reason: str = ""
    ready: str = "False"
    phase: api.Phase = api.Phase.UPDATING
    requeue: bool = True


ROWS = [
    # --- hibernating, step by step -------------------------------------------------------------------
    Row(
        "running: graceful shutdown first (the PowerOff path)",
        steps=["shutdown"],
        server_reason="ShuttingDown",
    ),
    Row(
        "shutting down: wait for it",
        server=replace(RUNNING, status="stopping"),
        status=SHUTTING,
        server_reason="ShuttingDown",
    ),
    Row("off, no snapshot: take one", server=OFF, steps=["create_snapshot"], server_reason="Snapshotting"),
    Row(
        "off, snapshot being created: wait (a crash after create_image finds it by its labels)",
        server=OFF,
        snapshots=(CREATING,),
        server_reason="Snapshotting",
    ),
    Row(
        "off, snapshot available: lift protection",
        server=OFF,
        snapshots=(SNAP,),
        steps=["change_protection"],
        server_reason="Hibernating",
    ),
    Row(
        "off, unprotected, snapshot available: delete the server",
        server=UNPROTECTED_OFF,
        snapshots=(SNAP,),
        steps=["delete_server"],
        server_reason="Hibernating",
    ),
    Row(
        "no server, snapshot: hibernated, records kept, Ready",
        server=None,
        snapshots=(SNAP,),
        server_reason="Hibernated",
        ready="True",
        phase=api.Phase.SUSPENDED,
        requeue=False,
    ),
    Row(
        "hibernated, suspendMode now PowerOff: stays hibernated (no server made to sit powered off)",
        spec={"suspended": True, "suspendMode": "PowerOff"},
        server=None,
        snapshots=(SNAP,),
        server_reason="Hibernated",
        ready="True",
        phase=api.Phase.SUSPENDED,
        requeue=False,
    ),
    Row(
        "created suspended, never had a server: nothing to create, nothing billed",
        server=None,
        records=(),
        server_reason="Hibernated",
        ready="True",
        phase=api.Phase.SUSPENDED,
        requeue=False,
    ),
    # --- stale snapshots: never let one stand in for a server that ran since -------------------------
    Row(
        "running with an old snapshot of ours: delete it before shutting down",
        snapshots=(SNAP,),
        steps=["delete_snapshot"],
        server_reason="DeletingSnapshot",
    ),
    Row(
        "off, but the snapshot is of a server this one replaced: delete it, never delete the server on it",
        server=OFF,
        snapshots=(replace(SNAP, server_id=5),),
        steps=["delete_snapshot"],
        server_reason="DeletingSnapshot",
    ),
    # --- unsuspending ---------------------------------------------------------------------------------
    Row(
        "unsuspended, no server, snapshot: create the server from it",
        spec={"suspended": False, "suspendMode": "Hibernate"},
        server=None,
        snapshots=(SNAP,),
        steps=["restore_server"],
        server_reason="Restoring",
        phase=api.Phase.PROVISIONING,
    ),
    Row(
        "restored and running: delete the snapshot",
        spec={"suspended": False, "suspendMode": "Hibernate"},
        snapshots=(SNAP,),
        steps=["delete_snapshot"],
        server_reason="DeletingSnapshot",
    ),
    Row(
        "restored server still starting: the snapshot stays",
        spec={"suspended": False, "suspendMode": "Hibernate"},
        server=replace(RUNNING, status="starting"),
        snapshots=(SNAP,),
        server_reason="ServerTransitioning",
        phase=api.Phase.PROVISIONING,
    ),
    Row(
        "unsuspended before the server was deleted: snapshot goes first, then power on",
        spec={"suspended": False, "suspendMode": "Hibernate"},
        server=OFF,
        snapshots=(SNAP,),
        steps=["delete_snapshot"],
        server_reason="DeletingSnapshot",
    ),
    Row(
        "unsuspended while the snapshot is being made: wait, it cannot be deleted yet",
        spec={"suspended": False, "suspendMode": "Hibernate"},
        server=OFF,
        snapshots=(CREATING,),
        server_reason="Snapshotting",
    ),
    Row(
        "unsuspended, off, no snapshot left: power on",
        spec={"suspended": False, "suspendMode": "Hibernate"},
        server=OFF,
        steps=["poweron"],
        server_reason="PoweringOn",
    ),
    # --- PowerOff is today's behaviour ----------------------------------------------------------------
    Row(
        "PowerOff, off: suspended with the server kept",
        spec={"suspended": True},
        server=OFF,
        server_reason="PoweredOff",
        ready="True",
        phase=api.Phase.SUSPENDED,
        requeue=False,
    ),
    Row(
        "PowerOff, server gone: created again (and then powered off)",
        spec={"suspended": True},
        server=None,
        records=(),
        steps=["create_server"],
        server_reason="Creating",
        phase=api.Phase.PROVISIONING,
    ),
]


def situation(row: Row) -> Situation:
    instance = api.OpenClawInstance.model_validate(
        {
            "metadata": {"name": "alpha", "namespace": "ns", "uid": UID, "generation": 2},
            "spec": {"hostname": HOST, "gatewayTokenSecretRef": {"name": "t"}, **row.spec},
            "status": {"observedGeneration": 2, "phase": "Running", **row.status},
        }
    )
    return Situation(
        instance=instance,
        server=row.server,
        action=None,
        desired_type=None,
        zone=ZONE,
        records=row.records,
        app=AppObservation(True, "answers") if row.server is not None and not row.spec["suspended"] else None,
        settings=SETTINGS,
        now=NOW,
        snapshots=row.snapshots,
    )


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_decide_hibernation(row: Row) -> None:
    decision = decide(situation(row))
    conditions = {c.type: c for c in decision.status.conditions}
    assert [step_name(s) for s in decision.steps] == row.steps
    assert conditions["ServerReady"].reason == row.server_reason
    assert conditions["Ready"].status == row.ready
    assert decision.status.phase == row.phase
    assert (decision.requeue is not None) == row.requeue


def test_no_dns_change_while_there_is_no_server() -> None:
    """The records stay ours and pointing where they did; their ids stay in status."""
    decision = decide(situation(Row("x", server=None, snapshots=(SNAP,))))
    conditions = {c.type: c for c in decision.status.conditions}
    assert conditions["DNSReady"].reason == "RecordsKept"
    assert decision.status.dns_record_ids == api.DnsRecordIds(zone_id="z", a="a", aaaa="b")


def test_the_restored_servers_new_address_moves_the_records() -> None:
    moved = replace(RUNNING, ipv4="203.0.113.99", ipv6="2001:db8:1::1")
    decision = decide(situation(Row("x", spec={"suspended": False}, server=moved)))
    written = [s for s in decision.steps if step_name(s) == "update_record"]
    assert [s.record.content for s in written] == ["203.0.113.99", "2001:db8:1::1"]  # type: ignore[union-attr]


def test_the_snapshot_carries_every_ownership_mark() -> None:
    (step,) = decide(situation(Row("x", server=OFF))).steps
    assert isinstance(step, CreateSnapshot) and step.server_id == OFF.id
    assert step.labels == LABELS  # managed-by, instance uid, namespace, name, deletion policy, cluster


def test_a_restore_uses_the_newest_available_snapshot_same_name_and_labels() -> None:
    older = replace(SNAP, id=30)
    row = Row(
        "x", spec={"suspended": False, "suspendMode": "Hibernate"}, server=None, snapshots=(older, SNAP)
    )
    (step,) = decide(situation(row)).steps
    assert isinstance(step, CreateServer)
    assert (step.from_snapshot, step.name, step.labels) == (SNAP.id, "alpha-u1", LABELS)


def test_hibernation_and_billing_are_recorded() -> None:
    status = decide(situation(Row("x", server=None, snapshots=(SNAP,)))).status
    assert status.hibernation == api.Hibernation(
        snapshot_id=41, size_gb=1.6, taken_at=TAKEN, server_name="alpha-u1"
    )
    assert status.billing == api.Billing(server_type=None, server_backups=False, snapshot_size_gb=1.6)
    assert status.server_id is None and status.ipv4 is None
    powered_off = decide(situation(Row("x", spec={"suspended": True}, server=OFF))).status
    assert powered_off.billing == api.Billing(server_type="cx23", snapshot_size_gb=0.0)


def test_deleting_the_snapshot_clears_the_hibernation_record() -> None:
    row = Row("x", spec={"suspended": False}, snapshots=(SNAP,), status={"hibernation": {"snapshotId": 41}})
    (step,) = decide(situation(row)).steps
    assert step.on_success.changes() == {"hibernation": None}


def test_a_snapshot_deleted_by_hand_is_reported_and_the_server_made_fresh() -> None:
    row = Row("x", spec={"suspended": False}, server=None, status={"hibernation": {"snapshotId": 41}})
    decision = decide(situation(row))
    assert step_name(decision.steps[0]) == "create_server"  # a fresh server, from the spec's image
    assert [n.reason for n in decision.notes] == ["SnapshotLost"]


def test_status_follows_hetzner_after_a_crash_between_a_delete_and_its_status_write() -> None:
    """The snapshot was deleted, the operator died before status heard of it: the record goes."""
    row = Row("x", spec={"suspended": False}, status={"hibernation": {"snapshotId": 41}})
    decision = decide(situation(row))
    assert decision.steps == () and decision.status.hibernation is None

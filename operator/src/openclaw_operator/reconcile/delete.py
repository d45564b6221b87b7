"""Deletion as a pure decision over a fresh look at what the instance owns.

Delete policy: our records go first (so the name stops pointing at an address that is about to be
recycled), then delete protection is lifted and the server deleted, and the instance's snapshots (a
hibernated instance has no server, only a snapshot) are deleted; the finalizer goes once nothing is
left. Retain policy: all stay, only our ownership marks are removed. Either way, a deletion with
nothing to delete succeeds at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import (
    ActionObservation,
    ActionStatus,
    DeleteRecord,
    DeleteServer,
    DeleteSnapshot,
    ImageStatus,
    RecordObservation,
    ServerObservation,
    ServerStatus,
    SetServerLabels,
    SetSnapshotLabels,
    SnapshotObservation,
    Step,
    WriteRecord,
    change_protection,
)


@dataclass(frozen=True)
class DeletePlan:
    steps: tuple[Step, ...]
    done: bool
    message: str


def plan_delete(
    policy: api.DeletionPolicy,
    servers: tuple[ServerObservation, ...],
    records: tuple[RecordObservation, ...],
    action: ActionObservation | None,
    snapshots: tuple[SnapshotObservation, ...] = (),
) -> DeletePlan:
    if policy == api.DeletionPolicy.RETAIN:
        return _retain(servers, records, snapshots)
    if action is not None and action.status == ActionStatus.RUNNING:
        return DeletePlan((), False, f"waiting for Hetzner action {action.command} ({action.id})")
    if records:
        deletions = tuple(
            DeleteRecord(record=r, reason="DeletingRecord", message=f"deleting {r.type} {r.name}")
            for r in records
        )
        return DeletePlan(deletions, False, "deleting DNS records")
    steps: list[Step] = []
    for server in servers:
        if server.status == ServerStatus.DELETING:
            continue
        if server.delete_protected or server.rebuild_protected:
            message = f"lifting protection of server {server.name}"
            steps.append(change_protection(server.id, False, "Unprotecting", message))
        else:
            message = f"deleting server {server.name}"
            steps.append(DeleteServer(server_id=server.id, reason="DeletingServer", message=message))
    for snapshot in snapshots:
        if snapshot.status != ImageStatus.CREATING:  # one being created cannot be deleted yet
            message = f"deleting snapshot {snapshot.id}"
            steps.append(DeleteSnapshot(snapshot_id=snapshot.id, reason="DeletingSnapshot", message=message))
    if servers or snapshots:
        waiting = f"waiting for {len(servers)} server(s) and {len(snapshots)} snapshot(s) to be deleted"
        return DeletePlan(tuple(steps), False, waiting)
    return DeletePlan((), True, "the server and its DNS records are deleted")


def _retain(
    servers: tuple[ServerObservation, ...],
    records: tuple[RecordObservation, ...],
    snapshots: tuple[SnapshotObservation, ...],
) -> DeletePlan:
    steps: list[Step] = [
        SetServerLabels(
            server_id=s.id,
            labels=naming.without_owner_labels(s.labels),
            reason="Releasing",
            message=f"removing ownership labels from server {s.name} (kept: deletionPolicy Retain)",
        )
        for s in servers
    ]
    steps.extend(
        WriteRecord(
            record=replace(r, comment=""),
            reason="Releasing",
            message=f"removing the ownership comment from {r.type} {r.name} (kept: deletionPolicy Retain)",
        )
        for r in records
    )
    steps.extend(
        SetSnapshotLabels(
            snapshot_id=s.id,
            labels=naming.without_owner_labels(s.labels),
            reason="Releasing",
            message=f"removing ownership labels from snapshot {s.id} (kept: deletionPolicy Retain)",
        )
        for s in snapshots
    )
    return DeletePlan(tuple(steps), True, "server and DNS records retained without ownership marks")

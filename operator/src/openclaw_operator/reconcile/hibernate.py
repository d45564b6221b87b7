"""Hibernate: a suspended instance kept as a Hetzner snapshot instead of a powered-off server.

Hetzner bills a powered-off server in full; a snapshot costs a cent or two per GB a month. So with
`spec.suspendMode: Hibernate` a suspension shuts the server down (the same graceful path as PowerOff),
snapshots it, and deletes it; the DNS records stay, with their ownership. Unsuspending creates the server
again from the snapshot (same name, same labels, user-data that keeps the server's data) and deletes the
snapshot once the new server runs.

Every decision is made from what the providers show, never from status alone, so a SIGKILL at any point
is followed by the same decision again (all our snapshots carry the instance's owner labels):
- a server that is not off makes every snapshot of ours stale (data written since is not in it), and a
  stale snapshot is deleted before anything else happens; so a snapshot that exists while the server is
  off was taken during this shutdown, and only such a snapshot ever lets the server be deleted;
- a server is deleted only once a snapshot of it is `available`;
- with no server, an available snapshot means hibernated (suspended) or restore from it (unsuspended);
  a server is never created fresh while one exists, so a crash cannot turn a restore into a blank server;
- at most one create is in flight: the deterministic server name makes a second one fail (and adopt).
An instance already hibernated stays hibernated while suspended, whatever suspendMode says then:
creating a server only to keep it powered off would bring the bill back for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_operator import api
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    CreateServer,
    CreateSnapshot,
    DeleteServer,
    DeleteSnapshot,
    ImageStatus,
    Note,
    ServerObservation,
    ServerStatus,
    SnapshotObservation,
    StatusDelta,
    Step,
    change_protection,
)
from openclaw_operator.reconcile.placement import location_candidates


@dataclass(frozen=True)
class HibernationInputs:
    name: str  # the deterministic server name, kept by the restored server
    labels: dict[str, str]  # owner labels: the server's, and every snapshot's
    spec: api.InstanceSpec
    status: api.InstanceStatus
    snapshots: tuple[SnapshotObservation, ...]  # this instance's, oldest first


@dataclass(frozen=True)
class Move:
    """What hibernation wants this pass; server.py turns it into a ServerPlan."""

    verdict: Verdict
    steps: tuple[Step, ...] = ()
    updates: StatusDelta = NO_CHANGE
    notes: tuple[Note, ...] = ()
    wait: bool = False  # come back after a poll interval
    shut_down: bool = False  # take the graceful shutdown path first
    provisioning: bool = False


def hibernating(spec: api.InstanceSpec) -> bool:
    return spec.suspended and spec.suspend_mode == api.SuspendMode.HIBERNATE


def kept(snapshots: tuple[SnapshotObservation, ...]) -> SnapshotObservation | None:
    """The snapshot an instance is kept in: the newest available one."""
    available = [s for s in snapshots if s.status == ImageStatus.AVAILABLE]
    return max(available, key=lambda s: s.id) if available else None


def hibernation_record(
    snapshots: tuple[SnapshotObservation, ...], server_name: str
) -> api.Hibernation | None:
    """status.hibernation, from what Hetzner shows (so a crash between a delete and its status write
    leaves no stale record): the snapshot the instance is kept in, or None."""
    snapshot = kept(snapshots)
    if snapshot is None:
        return None
    return api.Hibernation(
        snapshot_id=snapshot.id, size_gb=snapshot.size_gb, taken_at=snapshot.created, server_name=server_name
    )


def billing(server: ServerObservation | None, snapshots: tuple[SnapshotObservation, ...]) -> api.Billing:
    """What Hetzner bills for the instance now: a server of any status, its backups, the snapshots."""
    size = round(sum(s.size_gb or 0.0 for s in snapshots), 2)
    if server is None:
        return api.Billing(snapshot_size_gb=size)
    return api.Billing(server_type=server.server_type, server_backups=server.backups, snapshot_size_gb=size)


def without_server(inp: HibernationInputs) -> Move | None:
    """No server: hibernated, restoring, or (None) nothing to do with hibernation: create as usual."""
    snapshot = kept(inp.snapshots)
    if snapshot is not None:
        record = StatusDelta(server_id=None, ipv4=None, ipv6=None, shutdown_started_at=None)
        if inp.spec.suspended:
            message = f"hibernated: kept as snapshot {snapshot.id} ({snapshot.size_gb or 0:g} GB), no server"
            return Move(verdict=cond.true("Hibernated", message), updates=record)
        message = f"unsuspended: creating server {inp.name} from snapshot {snapshot.id}"
        # Where the server was (status.location: maybe a fallback location), as any recreated server;
        # a snapshot can be used in every location of its project.
        recorded = inp.status.location
        location = recorded or inp.spec.location.value
        fallbacks = () if recorded else location_candidates(location, inp.spec.location_policy)[1:]
        step = CreateServer(
            name=inp.name,
            server_type=inp.spec.server_type,
            image=inp.spec.image.value,
            location=location,
            fallback_locations=fallbacks,
            labels=inp.labels,
            from_snapshot=snapshot.id,
            reason="Restoring",
            message=message,
        )
        verdict = cond.false("Restoring", message)
        # A restore is a create: a new host key, and the channel applies the spec to it again.
        restoring = record.then(StatusDelta(applied_config_hash=None, channel_host_key=None))
        return Move(verdict=verdict, steps=(step,), updates=restoring, provisioning=True)
    creating = [s for s in inp.snapshots if s.status == ImageStatus.CREATING]
    if creating:
        # Only an out-of-band deletion removes a server before its snapshot is done; the snapshot is all
        # that is left of its data, so it is waited for and used.
        message = f"waiting for snapshot {creating[-1].id} to become available"
        return Move(verdict=cond.false("Snapshotting", message), wait=True)
    if hibernating(inp.spec):
        notes = lost_snapshot_notes(inp)
        message = "hibernated: no server and no snapshot (nothing is billed)"
        return Move(verdict=cond.true("Hibernated", message), updates=_cleared(), notes=notes)
    return None


def lost_snapshot_notes(inp: HibernationInputs) -> tuple[Note, ...]:
    """Status names a snapshot that no longer exists (deleted by hand): its data cannot come back."""
    lost = inp.status.hibernation
    if lost is None or any(s.id == lost.snapshot_id for s in inp.snapshots):
        return ()
    message = (
        f"snapshot {lost.snapshot_id} this instance was hibernated in no longer exists; "
        "the server is created fresh, without the data it held"
    )
    return (Note("Warning", "SnapshotLost", message),)


def with_server(inp: HibernationInputs, server: ServerObservation) -> Move | None:
    """A server that is not between states: stale snapshots go, a hibernating one is snapshotted and
    deleted; None when hibernation has nothing to do with this pass."""
    if not hibernating(inp.spec) or server.status != ServerStatus.OFF:
        stale = _delete_stale(inp.snapshots, server)
        if stale is not None or not hibernating(inp.spec):
            return stale
        return Move(verdict=cond.false("ShuttingDown", "shutting down to hibernate"), shut_down=True)
    others = tuple(s for s in inp.snapshots if s.server_id not in (None, server.id))
    if others:  # copies of a server this one replaced (it was recreated): never its data
        return _delete_stale(others, server)
    snapshot = kept(inp.snapshots)
    if snapshot is None:
        creating = [s for s in inp.snapshots if s.status == ImageStatus.CREATING]
        if creating:
            message = f"waiting for snapshot {creating[-1].id} of server {server.name}"
            return Move(verdict=cond.false("Snapshotting", message), wait=True)
        take = CreateSnapshot(
            server_id=server.id,
            description=f"clawhost hibernation of {server.name}",
            labels=inp.labels,
            reason="Snapshotting",
            message=f"taking a snapshot of server {server.name} to hibernate",
            on_success=StatusDelta(shutdown_started_at=None),
        )
        return Move(verdict=cond.false(take.reason, take.message), steps=(take,))
    older = tuple(
        DeleteSnapshot(snapshot_id=s.id, reason="DeletingSnapshot", message=f"deleting older snapshot {s.id}")
        for s in inp.snapshots
        if s.id != snapshot.id and s.status == ImageStatus.AVAILABLE
    )
    if server.delete_protected or server.rebuild_protected:
        message = f"snapshot {snapshot.id} is available; lifting protection of server {server.name}"
        step: Step = change_protection(server.id, False, "Hibernating", message)
    else:
        message = f"snapshot {snapshot.id} is available; deleting server {server.name} to hibernate"
        step = DeleteServer(server_id=server.id, reason="Hibernating", message=message)
    return Move(verdict=cond.false("Hibernating", message), steps=(*older, step))


def _delete_stale(snapshots: tuple[SnapshotObservation, ...], server: ServerObservation) -> Move | None:
    """Snapshots of ours while the server exists and is not being hibernated (or not yet off) are stale:
    the restore they served is done, or the hibernation was called off. Deleted before anything else
    (before a power-on, before a new shutdown), so no stale snapshot ever stands in for the server."""
    if not snapshots:
        return None
    available = [s for s in snapshots if s.status == ImageStatus.AVAILABLE]
    if not available:  # a snapshot being created cannot be deleted yet (Hetzner: locked)
        message = f"waiting for snapshot {snapshots[-1].id} to finish before deleting it"
        return Move(verdict=cond.false("Snapshotting", message), wait=True)
    steps = tuple(
        DeleteSnapshot(
            snapshot_id=s.id,
            reason="DeletingSnapshot",
            message=f"server {server.name} exists again: deleting snapshot {s.id}",
            on_success=StatusDelta(hibernation=None),
        )
        for s in available
    )
    return Move(verdict=cond.false("DeletingSnapshot", steps[0].message), steps=steps)


def _cleared() -> StatusDelta:
    return StatusDelta(server_id=None, ipv4=None, ipv6=None, shutdown_started_at=None)

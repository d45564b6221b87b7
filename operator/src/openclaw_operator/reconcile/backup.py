"""Off-server backups and restores as pure decisions (docs/backups.md, "The operator").

A backup is OpenClaw's own archive, made by the server's agent and uploaded straight to the operator's
S3 bucket through a presigned URL; the operator only chooses when, under which key, and what counts.

- The id (a UTC timestamp, YYYYMMDDTHHMMSSZ) is chosen by one pass and written to
  status.backupInProgress before any upload; the next pass uploads under that id. A pass killed after
  the upload and before its status write is followed by an upload to the same key, which overwrites the
  object instead of leaving a second one.
- A backup is listed in status.backups only after the store confirmed the size and sha256 the agent
  reported (the actuator's HEAD); anything else is BackedUp=False with the reason, and retried.
- Retention deletes the object first and drops its entry in the step's on_success: a crash in between
  leaves an entry whose object is gone, and deleting it again is harmless (S3 answers 204), whereas the
  other order would leave an object nobody lists until the bucket sweep.
- Scheduled backups are due at a slot per interval whose offset is a hash of the uid, so a fleet is
  spread over the day (or week) instead of starting at midnight.
- A restore runs once per distinct spec.restoreFrom (status.restoredFrom). On an instance whose server was
  never configured (status.openclawVersion unset) it runs when the server first answers its health
  check, before the channel's first push; on a configured one a PreRestore backup comes first, and
  the PreRestore record stays in status.backupInProgress until the restore is done, so a crash between
  the two neither repeats the backup nor skips it. A restore is idempotent, so one interrupted is run again.
- A Final backup precedes the deletion of the server, bounded in time, then given up with an Event.
- A Suspend backup precedes the shutdown of a suspension (PowerOff or Hibernate), bounded in time the
  same way: whatever the customer did up to the suspension outlives a Terminate that follows it, when no
  gateway runs to take a Final backup from. status.suspendBackupGeneration records the suspension
  (the generation) whose backup is done, taken or given up, so a restart neither repeats nor skips it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from openclaw_operator import api
from openclaw_operator.api import BackupKind
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    BackupObject,
    DeleteBackup,
    Note,
    RestoreBackup,
    ServerObservation,
    ServerStatus,
    StatusDelta,
    Step,
    TakeBackup,
)

INTERVALS = {api.BackupSchedule.DAILY: timedelta(days=1), api.BackupSchedule.WEEKLY: timedelta(days=7)}
COUNTED = frozenset({BackupKind.SCHEDULED, BackupKind.ON_DEMAND})  # against spec.backup.retain
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ID_FORMAT = "%Y%m%dT%H%M%SZ"


def backup_id(when: datetime) -> str:
    return when.astimezone(UTC).strftime(ID_FORMAT)


def id_time(backup: str) -> datetime | None:
    try:
        return datetime.strptime(backup, ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def latest_slot(uid: str, interval: timedelta, now: datetime) -> datetime:
    """The start of this instance's current slot: its uid's offset into each interval."""
    seconds = int(interval.total_seconds())
    offset = timedelta(seconds=int(hashlib.sha256(uid.encode()).hexdigest()[:12], 16) % seconds)
    periods = (now - EPOCH - offset) // interval
    return EPOCH + offset + periods * interval


def scheduled_due(spec: api.InstanceSpec, status: api.InstanceStatus, uid: str, now: datetime) -> bool:
    """Due when no Scheduled backup was started in the current slot (the first one at once)."""
    interval = INTERVALS.get(spec.backup.schedule)
    if interval is None:
        return False
    slot = latest_slot(uid, interval, now)
    started = [id_time(b.id) for b in status.backups if b.kind == BackupKind.SCHEDULED]
    return not any(when is not None and when >= slot for when in started)


def until_next_slot(spec: api.InstanceSpec, uid: str, now: datetime) -> float | None:
    interval = INTERVALS.get(spec.backup.schedule)
    if interval is None:
        return None
    return (latest_slot(uid, interval, now) + interval - now).total_seconds()


def restore_wanted(spec: api.InstanceSpec, status: api.InstanceStatus) -> bool:
    wanted, done = spec.restore_from, status.restored_from
    if wanted is None:
        return False
    return done is None or (done.instance, done.backup) != (wanted.instance, wanted.backup)


def restore_candidate(
    wanted: api.RestoreFrom, listed: tuple[BackupObject, ...], status: api.InstanceStatus
) -> BackupObject | None:
    """The object spec.restoreFrom names among those listed: the id asked for, or the newest ("latest");
    never this instance's own PreRestore backup of the restore being made."""
    exclude = status.backup_in_progress.id if status.backup_in_progress is not None else None
    archives = [o for o in listed if o.key.endswith(".tar.gz") and o.backup_id != exclude]
    if wanted.backup != api.LATEST_BACKUP:
        archives = [o for o in archives if o.backup_id == wanted.backup]
    if not archives:
        return None
    return max(archives, key=lambda o: (o.backup_id, o.last_modified))


def verification_problem(answer: Mapping[str, Any], stored: BackupObject | None) -> str | None:
    """Why the object in the bucket is not the archive the agent says it uploaded, or None."""
    if stored is None:
        return "the object is not in the bucket"
    size, sha256 = answer.get("sizeBytes"), answer.get("sha256")
    if not isinstance(size, int) or not isinstance(sha256, str) or not sha256:
        return "the agent reported no size or sha256"
    if stored.size_bytes != size:
        return f"the bucket holds {stored.size_bytes} bytes, the agent uploaded {size}"
    if stored.sha256 is not None and stored.sha256 != sha256:
        return f"the bucket records sha256 {stored.sha256}, the agent computed {sha256}"
    return None


@dataclass(frozen=True)
class BackupInputs:
    instance: api.OpenClawInstance  # with the status the pass starts from
    server: ServerObservation | None
    server_ready: bool  # the server planner has nothing left to do
    app_healthy: bool  # the gateway answers its health check (or it is not checked)
    channel: bool
    store: bool
    now: datetime
    restore_source: tuple[BackupObject, ...] | None = None  # see Situation.restore_source


@dataclass(frozen=True)
class BackupPlan:
    verdict: Verdict
    steps: tuple[Step, ...] = ()
    updates: StatusDelta = NO_CHANGE
    stall: Verdict | None = None
    requeue: float | None = None
    restoring: bool = False  # a restore is due: the instance does not count as Ready yet
    notes: tuple[Note, ...] = ()


def plan_backup(inp: BackupInputs) -> BackupPlan:
    spec, status = inp.instance.spec, inp.instance.status
    wanted = restore_wanted(spec, status)
    if not (inp.channel and inp.store):
        reason, message = (
            ("NoChannel", "the operator has no channel key (CLAWHOST_CHANNEL_SSH_KEY_FILE)")
            if not inp.channel
            else ("NoBackupStore", "the operator has no backup store (CLAWHOST_BACKUP_S3_*)")
        )
        if wanted:
            message = f"spec.restoreFrom cannot be applied: {message}"
            return BackupPlan(cond.false(reason, message), stall=cond.true(reason, message))
        return BackupPlan(cond.unknown(reason, message))
    pruned = _retention(status.backups, spec.backup.retain)
    server = inp.server
    reachable = (
        server is not None
        and server.status == ServerStatus.RUNNING
        and bool(server.ipv4)
        and inp.server_ready
        and not spec.suspended
    )
    if wanted:
        return _restore(inp, pruned, server if reachable else None)
    pending = status.backup_in_progress
    if pending is not None:
        if _recorded(status, pending.id):  # its restore was called off, or its record outlived a crash
            cleared = StatusDelta(backup_in_progress=None)
            return BackupPlan(_settled(inp.instance), steps=pruned, updates=cleared)
        if server is None or not reachable:
            return BackupPlan(_waiting(pending), steps=pruned)
        take = _take(server, pending, StatusDelta(backup_in_progress=None))
        return BackupPlan(cond.false("BackingUp", take.message), steps=(*pruned, take))
    requeue = until_next_slot(spec, inp.instance.metadata.uid, inp.now)
    if not reachable or status.applied_config_hash is None:  # nothing to back up from yet
        return BackupPlan(_settled(inp.instance), steps=pruned, requeue=requeue)
    requested = inp.instance.metadata.annotations.get(api.BACKUP_REQUESTED_AT)
    kind = None
    updates = NO_CHANGE
    if requested and requested != status.last_handled_backup_at:
        kind, updates = BackupKind.ON_DEMAND, StatusDelta(last_handled_backup_at=requested)
    elif scheduled_due(spec, status, inp.instance.metadata.uid, inp.now):
        kind = BackupKind.SCHEDULED
    if kind is None:
        return BackupPlan(_settled(inp.instance), steps=pruned, requeue=requeue)
    start = api.BackupInProgress(id=backup_id(inp.now), kind=kind, started_at=inp.now)
    # Recorded before the upload (the next pass makes it): see the module's first point.
    return BackupPlan(
        _waiting(start),
        steps=pruned,
        updates=updates.then(StatusDelta(backup_in_progress=start)),
        requeue=0.0,
    )


def _restore(inp: BackupInputs, pruned: tuple[Step, ...], server: ServerObservation | None) -> BackupPlan:
    spec, status = inp.instance.spec, inp.instance.status
    wanted = spec.restore_from
    assert wanted is not None
    if inp.restore_source is None:
        return BackupPlan(cond.false("Restoring", "listing the backups to restore"), restoring=True)
    chosen = restore_candidate(wanted, inp.restore_source, status)
    if chosen is None:
        which = "no backups" if wanted.backup == api.LATEST_BACKUP else f"no backup {wanted.backup}"
        message = (
            f"spec.restoreFrom.backup: instance {wanted.instance} of namespace "
            f"{inp.instance.metadata.namespace} has {which} in the backup store"
        )
        return BackupPlan(cond.false("BackupNotFound", message), stall=cond.true("BackupNotFound", message))
    recorded = {b.key: b.sha256 for b in status.backups}
    sha256 = chosen.sha256 or recorded.get(chosen.key)
    if sha256 is None:
        message = f"spec.restoreFrom.backup: backup {chosen.backup_id} has no sha256 in the store to verify"
        return BackupPlan(
            cond.false("RestoreUnverifiable", message), stall=cond.true("RestoreUnverifiable", message)
        )
    what = f"backup {chosen.backup_id} of instance {wanted.instance}"
    if server is None:
        return BackupPlan(
            cond.false("WaitingForServer", f"restoring {what} once the server runs"), restoring=True
        )
    pending = status.backup_in_progress
    done = api.RestoredFrom(
        instance=wanted.instance, backup=wanted.backup, id=chosen.backup_id, sha256=sha256, at=inp.now
    )
    # A restored server is configured again by the channel (its files came from the archive).
    restored = StatusDelta(restored_from=done, applied_config_hash=None)
    if pending is not None and pending.kind == BackupKind.PRE_RESTORE:
        restored = restored.then(StatusDelta(backup_in_progress=None))
    assert server.ipv4 is not None
    restore = RestoreBackup(
        server_id=server.id,
        address=server.ipv4,
        key=chosen.key,
        sha256=sha256,
        reason="Restoring",
        message=f"restoring {what} onto server {server.name}",
        on_success=restored,
    )
    if status.openclaw_version is None:  # a new instance: nothing of its own to keep
        if not inp.app_healthy:
            message = f"restoring {what} once the server's first boot is done (health check)"
            return BackupPlan(cond.false("WaitingForBootstrap", message), restoring=True)
        return BackupPlan(cond.false("Restoring", restore.message), steps=(*pruned, restore), restoring=True)
    if pending is None:
        start = api.BackupInProgress(id=backup_id(inp.now), kind=BackupKind.PRE_RESTORE, started_at=inp.now)
        return BackupPlan(
            _waiting(start),
            steps=pruned,
            updates=StatusDelta(backup_in_progress=start),
            requeue=0.0,
            restoring=True,
        )
    if pending.kind != BackupKind.PRE_RESTORE:  # the backup already under way goes first
        take = _take(server, pending, StatusDelta(backup_in_progress=None))
        return BackupPlan(cond.false("BackingUp", take.message), steps=(*pruned, take), restoring=True)
    if _recorded(status, pending.id):
        return BackupPlan(cond.false("Restoring", restore.message), steps=(*pruned, restore), restoring=True)
    # The pre-restore backup keeps its record (it ends with the restore): a failed restore, or a crash
    # after the upload, is followed by the restore, not by a second backup.
    take = _take(server, pending, NO_CHANGE)
    return BackupPlan(cond.false("BackingUp", take.message), steps=(*pruned, take, restore), restoring=True)


@dataclass(frozen=True)
class SuspendInputs:
    instance: api.OpenClawInstance  # with the status the pass starts from
    server: ServerObservation | None
    channel: bool
    store: bool
    now: datetime
    timeout: float  # seconds a Suspend backup may hold the shutdown before it is given up


@dataclass(frozen=True)
class SuspendMove:
    """A Suspend backup this pass: `hold` keeps the server planner from starting the shutdown."""

    plan: BackupPlan
    hold: str | None = None  # why the shutdown waits, or None: it may go ahead


def plan_suspend_backup(inp: SuspendInputs) -> SuspendMove | None:
    """The backup a suspension takes before its shutdown, or None when there is none to take: not
    suspended, no channel or store, never configured, no server running, the shutdown already under way
    (a suspension under way is never undone for a backup), or this suspension's backup done."""
    inst = inp.instance
    spec, status, generation = inst.spec, inst.status, inst.metadata.generation
    server = inp.server
    if not (spec.suspended and inp.channel and inp.store) or status.applied_config_hash is None:
        return None
    if server is None or not _runs(server) or status.shutdown_started_at is not None:
        return None
    if status.suspend_backup_generation == generation:
        return None
    done = StatusDelta(suspend_backup_generation=generation, backup_in_progress=None)
    pending = status.backup_in_progress
    if pending is None:
        start = api.BackupInProgress(id=backup_id(inp.now), kind=BackupKind.SUSPEND, started_at=inp.now)
        message = f"taking Suspend backup {start.id} before the shutdown"
        plan = BackupPlan(_waiting(start), updates=StatusDelta(backup_in_progress=start), requeue=0.0)
        return SuspendMove(plan, hold=message)
    if _recorded(status, pending.id):  # taken, its record outlived a crash
        return SuspendMove(BackupPlan(_settled(inp.instance), updates=done))
    if (inp.now - pending.started_at).total_seconds() > inp.timeout:
        message = (
            f"{pending.kind.value} backup {pending.id} did not succeed within {inp.timeout:.0f} s; "
            "suspending without it"
        )
        note = Note("Warning", "SuspendBackupAbandoned", message)
        verdict = cond.false("SuspendBackupAbandoned", message)
        return SuspendMove(BackupPlan(verdict, updates=done, notes=(note,)))
    # Whatever backup is under way (a Scheduled one, say) is the one the suspension keeps.
    take = _take(server, pending, done)
    return SuspendMove(BackupPlan(cond.false("BackingUp", take.message), steps=(take,)), hold=take.message)


@dataclass(frozen=True)
class FinalInputs:
    instance: api.OpenClawInstance
    servers: tuple[ServerObservation, ...]
    channel: bool
    store: bool
    now: datetime
    timeout: float  # seconds a Final backup may take before the deletion goes on without it


@dataclass(frozen=True)
class FinalMove:
    done: bool  # nothing (more) to back up: the deletion may go on
    message: str
    steps: tuple[Step, ...] = ()
    updates: StatusDelta = NO_CHANGE
    notes: tuple[Note, ...] = ()


def plan_final_backup(inp: FinalInputs) -> FinalMove:
    """Before the server is deleted: a Final backup, unless there is nothing to take it from or it was
    declined; bounded by `timeout`, so a broken server never keeps an instance from being deleted."""
    inst = inp.instance
    status = inst.status
    skip = _final_skipped(inp)
    if skip == NO_SERVER_RUNNING:
        # Suspended (PowerOff) or hibernated: no gateway to back up, and none is started for it (a
        # power-on would let a suspended bot answer again; a hibernated one would need a server made
        # from its snapshot, billed, minutes). What outlives the deletion is the newest backup, which
        # the bucket sweep keeps for the grace period; the Event says which, once (the first pass).
        kept = _kept_instead(status)
        first = status.phase != api.Phase.DELETING
        return FinalMove(True, f"{skip}; {kept.message}", notes=(kept,) if first else ())
    if skip is not None:
        return FinalMove(True, skip)
    pending = status.backup_in_progress
    if pending is not None and pending.kind == BackupKind.FINAL:
        if _recorded(status, pending.id):
            return FinalMove(True, f"final backup {pending.id} is in the bucket")
        if (inp.now - pending.started_at).total_seconds() > inp.timeout:
            message = (
                f"final backup {pending.id} did not succeed within {inp.timeout:.0f} s; deleting "
                "the server without it"
            )
            note = Note("Warning", "FinalBackupAbandoned", message)
            return FinalMove(True, message, updates=StatusDelta(backup_in_progress=None), notes=(note,))
        server = next(s for s in inp.servers if _runs(s))
        take = _take(server, pending, NO_CHANGE)  # its record says done on the next pass
        return FinalMove(False, take.message, steps=(take,))
    start = api.BackupInProgress(id=backup_id(inp.now), kind=BackupKind.FINAL, started_at=inp.now)
    return FinalMove(
        False,
        f"taking final backup {start.id} before deleting the server",
        updates=StatusDelta(backup_in_progress=start),
    )


def _final_skipped(inp: FinalInputs) -> str | None:
    inst = inp.instance
    if inst.spec.deletion_policy == api.DeletionPolicy.RETAIN:
        return "no final backup: the server is retained"
    if inst.metadata.annotations.get(api.SKIP_FINAL_BACKUP, "").lower() == "true":
        return f"no final backup: declined by {api.SKIP_FINAL_BACKUP}"
    if not (inp.channel and inp.store):
        return "no final backup: the operator has no channel key or no backup store"
    if inst.status.applied_config_hash is None:
        return "no final backup: the server was never configured through the channel"
    if not any(_runs(s) for s in inp.servers):
        return NO_SERVER_RUNNING
    return None


NO_SERVER_RUNNING = "no final backup: no server is running (suspended or hibernated)"


def _kept_instead(status: api.InstanceStatus) -> Note:
    if not status.backups:
        return Note(
            "Warning",
            "NoFinalBackup",
            "there is no backup of it: its data goes with the server (or its snapshot)",
        )
    newest = status.backups[0]
    return Note(
        "Normal",
        "NoFinalBackup",
        f"the newest backup, {newest.id} ({newest.kind.value}), stays in the bucket for the grace period "
        "(CLAWHOST_BACKUP_FINAL_RETENTION_DAYS)",
    )


def _runs(server: ServerObservation) -> bool:
    return server.status == ServerStatus.RUNNING and bool(server.ipv4)


def _take(server: ServerObservation, pending: api.BackupInProgress, after: StatusDelta) -> TakeBackup:
    assert server.ipv4 is not None
    return TakeBackup(
        server_id=server.id,
        address=server.ipv4,
        backup_id=pending.id,
        kind=pending.kind,
        reason="BackingUp",
        message=f"taking {pending.kind.value} backup {pending.id} of server {server.name}",
        on_success=after,
    )


def _recorded(status: api.InstanceStatus, backup: str) -> bool:
    return any(b.id == backup for b in status.backups)


def _retention(backups: tuple[api.Backup, ...], retain: int) -> tuple[DeleteBackup, ...]:
    """The oldest beyond `retain` of the counted backups, and of the PreRestore and the Suspend ones by
    themselves."""
    doomed = [b for b in backups if b.kind in COUNTED][retain:]
    for kept_alongside in (BackupKind.PRE_RESTORE, BackupKind.SUSPEND):
        doomed += [b for b in backups if b.kind == kept_alongside][retain:]
    steps = []
    kept = list(backups)
    for backup in sorted(doomed, key=lambda b: b.id):
        kept.remove(backup)  # on_success: the entries left after this deletion and the ones before it
        steps.append(
            DeleteBackup(
                key=backup.key,
                reason="DeletingBackup",
                message=f"deleting {backup.kind.value} backup {backup.id} (spec.backup.retain {retain})",
                on_success=StatusDelta(backups=tuple(kept)),
            )
        )
    return tuple(steps)


def _waiting(pending: api.BackupInProgress) -> Verdict:
    return cond.false("BackingUp", f"{pending.kind.value} backup {pending.id} is due")


def _settled(instance: api.OpenClawInstance) -> Verdict:
    spec, status = instance.spec, instance.status
    if status.backups:
        newest = status.backups[0]
        return cond.true(
            "BackedUp",
            f"newest backup {newest.id} ({newest.kind.value}, {newest.size_bytes} bytes, "
            f"sha256 {newest.sha256[:12]}...)",
        )
    if spec.backup.schedule == api.BackupSchedule.OFF:
        return cond.unknown("NotScheduled", "spec.backup.schedule is Off and no backup was requested")
    return cond.false("NoBackupYet", "the first backup is taken once the server runs and is configured")

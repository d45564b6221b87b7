"""plan_backup and plan_final_backup, one row per situation: which backup, restore or retention steps a
pass takes, what it records before the upload, and what BackedUp says. Plus the schedule's spread, the
verification of an upload, the restore source's choice and the bucket sweep's ownership rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile.backup import (
    BackupInputs,
    FinalInputs,
    SuspendInputs,
    backup_id,
    latest_slot,
    plan_backup,
    plan_final_backup,
    plan_suspend_backup,
    restore_candidate,
    verification_problem,
)
from openclaw_operator.reconcile.bucket_sweep import plan_bucket_sweep
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    BackupObject,
    DeleteBackup,
    RestoreBackup,
    ServerObservation,
    StatusDelta,
    TakeBackup,
    step_name,
)

NOW = datetime(2026, 12, 4, 1, 0, 0, tzinfo=UTC)
NOW_ID = "20261204T010000Z"
UID = "0b9f3c1e-1111-2222-3333-444455556666"
RUNNING = ServerObservation(
    id=7, name="alpha-0b9f3c1e", status="running", server_type="cx23", ipv4="203.0.113.7"
)
OFF = ServerObservation(id=7, name="alpha-0b9f3c1e", status="off", server_type="cx23", ipv4="203.0.113.7")
CONFIGURED = {"appliedConfigHash": "sha256:abc", "openclawVersion": "2026.9.6"}
SOURCE_KEY = "instances/default/old/9999/20261201T000000Z.tar.gz"


def backup(id_: str, kind: str = "Scheduled", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "takenAt": "2026-12-01T00:00:00Z", "sizeBytes": 10, "sha256": "f" * 64, "kind": kind,
            "key": f"instances/default/alpha/{UID}/{id_}.tar.gz", **extra}  # fmt: skip


def stored(key: str = SOURCE_KEY, sha256: str | None = "a" * 64, modified: datetime = NOW) -> BackupObject:
    return BackupObject(key=key, size_bytes=10, last_modified=modified, sha256=sha256)


def pending(kind: str, id_: str = "20261204T005900Z") -> dict[str, Any]:
    return {"id": id_, "kind": kind, "startedAt": "2026-12-04T00:59:00Z"}


@dataclass
class Row:
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=lambda: dict(CONFIGURED))
    annotations: dict[str, str] = field(default_factory=dict)
    server: ServerObservation | None = RUNNING
    server_ready: bool = True
    app_healthy: bool = True
    channel: bool = True
    store: bool = True
    source: tuple[BackupObject, ...] | None = None
    # expectations
    steps: tuple[str, ...] = ()
    condition: str = "Unknown"
    reason: str = "NotScheduled"
    stall: str | None = None  # a word the stall message must hold
    records: str | None = None  # the kind of the backup recorded in status.backupInProgress
    restoring: bool = False


DAILY = {"backup": {"schedule": "Daily"}}
RESTORE = {"restoreFrom": {"instance": "old"}}
RESTORE_ID = {"restoreFrom": {"instance": "old", "backup": "20261201T000000Z"}}
FRESH = {"appliedConfigHash": None}  # a new instance: the channel never configured a server of it

ROWS = [
    Row("no channel: Unknown, nothing planned", channel=False, reason="NoChannel"),
    Row("no store: Unknown NoBackupStore, not Stalled", store=False, spec=DAILY, reason="NoBackupStore"),
    Row("a restore without a store stalls naming spec.restoreFrom", store=False, spec=RESTORE,
        condition="False", reason="NoBackupStore", stall="spec.restoreFrom"),
    Row("schedule Off, nothing requested"),
    Row("Daily, none yet: the first one is recorded before it is taken", spec=DAILY,
        condition="False", reason="BackingUp", records="Scheduled"),
    Row("Daily, one taken in this slot: not due", spec=DAILY,
        status={**CONFIGURED, "backups": [backup(NOW_ID)]}, condition="True", reason="BackedUp"),
    Row("Daily, the newest is two days old: due", spec=DAILY,
        status={**CONFIGURED, "backups": [backup("20261202T000000Z")]},
        condition="False", reason="BackingUp", records="Scheduled"),
    Row("an OnDemand backup does not make a Scheduled one less due", spec=DAILY,
        status={**CONFIGURED, "backups": [backup(NOW_ID, "OnDemand"), backup("20261202T000000Z")]},
        condition="False", reason="BackingUp", records="Scheduled"),
    Row("requested by annotation: recorded once", annotations={api.BACKUP_REQUESTED_AT: "r1"},
        condition="False", reason="BackingUp", records="OnDemand"),
    Row("request already handled: nothing", annotations={api.BACKUP_REQUESTED_AT: "r1"},
        status={**CONFIGURED, "lastHandledBackupAt": "r1"}),
    Row("requested while the server is off: waits, unhandled", annotations={api.BACKUP_REQUESTED_AT: "r1"},
        server=OFF),
    Row("requested before the channel ever configured the server: waits",
        annotations={api.BACKUP_REQUESTED_AT: "r1"}, status={}),
    Row("requested while the server planner is busy: waits", annotations={api.BACKUP_REQUESTED_AT: "r1"},
        server_ready=False),
    Row("requested while suspended: waits", annotations={api.BACKUP_REQUESTED_AT: "r1"},
        spec={"suspended": True}),
    Row("recorded: the next pass uploads under that id", status={**CONFIGURED, "backupInProgress":
        pending("OnDemand")}, steps=("backup",), condition="False", reason="BackingUp"),
    Row("recorded but the server went off: waits, the record stays",
        status={**CONFIGURED, "backupInProgress": pending("Scheduled")}, server=OFF,
        condition="False", reason="BackingUp"),
    Row("recorded and already listed (a crash after the status write): the record goes",
        status={**CONFIGURED, "backupInProgress": pending("OnDemand"), "backups": [backup("20261204T005900Z",
        "OnDemand")]}, condition="True", reason="BackedUp"),
    Row("retain 2 of 3 counted: the oldest is deleted", spec={"backup": {"retain": 2}},
        status={**CONFIGURED, "backups": [backup("20261203T000000Z"), backup("20261202T000000Z", "OnDemand"),
                                          backup("20261201T000000Z")]},
        steps=("delete_backup",), condition="True", reason="BackedUp"),
    Row("PreRestore ones do not count against retain", spec={"backup": {"retain": 1}},
        status={**CONFIGURED, "backups": [backup("20261203T000000Z"),
                                          backup("20261202T000000Z", "PreRestore")]},
        condition="True", reason="BackedUp"),
    Row("retention goes on without a server", spec={"backup": {"retain": 1}}, server=None,
        status={**CONFIGURED, "backups": [backup("20261203T000000Z"), backup("20261202T000000Z")]},
        steps=("delete_backup",), condition="True", reason="BackedUp"),
    # restore into a new instance
    Row("restore, new instance, server being created: not Ready, waiting", spec=RESTORE, status=FRESH,
        server=None, source=(stored(),), condition="False", reason="WaitingForServer", restoring=True),
    Row("restore, new instance, first boot not done: waiting", spec=RESTORE, status=FRESH,
        app_healthy=False, source=(stored(),), condition="False", reason="WaitingForBootstrap",
        restoring=True),
    Row("restore, new instance, healthy: restore now, no backup first", spec=RESTORE, status=FRESH,
        source=(stored(),), steps=("restore",), condition="False", reason="Restoring", restoring=True),
    Row("restore of a missing id stalls naming spec.restoreFrom.backup", spec=RESTORE_ID, status=FRESH,
        source=(stored("instances/default/old/9999/20261130T000000Z.tar.gz"),), condition="False",
        reason="BackupNotFound", stall="spec.restoreFrom.backup"),
    Row("restore of an instance with no backups stalls", spec=RESTORE, status=FRESH, source=(),
        condition="False", reason="BackupNotFound", stall="no backups"),
    Row("restore of an object without a checksum stalls", spec=RESTORE, status=FRESH,
        source=(stored(sha256=None),), condition="False", reason="RestoreUnverifiable", stall="sha256"),
    Row("restore already applied: nothing", spec=RESTORE,
        status={**CONFIGURED, "restoredFrom": {"instance": "old", "backup": "latest"}}),
    # restore over a running instance (day 2)
    Row("day 2: the PreRestore backup is recorded first", spec=RESTORE, source=(stored(),),
        condition="False", reason="BackingUp", records="PreRestore", restoring=True),
    Row("day 2, recorded: backup then restore in one pass", spec=RESTORE, source=(stored(),),
        status={**CONFIGURED, "backupInProgress": pending("PreRestore")}, steps=("backup", "restore"),
        condition="False", reason="BackingUp", restoring=True),
    Row("day 2, the backup is listed (killed before the restore): only the restore", spec=RESTORE,
        source=(stored(),), status={**CONFIGURED, "backupInProgress": pending("PreRestore"),
                                    "backups": [backup("20261204T005900Z", "PreRestore")]},
        steps=("restore",), condition="False", reason="Restoring", restoring=True),
    Row("day 2, a scheduled backup under way goes first", spec=RESTORE, source=(stored(),),
        status={**CONFIGURED, "backupInProgress": pending("Scheduled")}, steps=("backup",),
        condition="False", reason="BackingUp", restoring=True),
    Row("restore called off after its PreRestore backup: the record goes",
        status={**CONFIGURED, "backupInProgress": pending("PreRestore"),
                "backups": [backup("20261204T005900Z", "PreRestore")]}, condition="True", reason="BackedUp"),
]  # fmt: skip


def run(row: Row) -> Any:
    body = {
        "metadata": {"name": "alpha", "uid": UID, "annotations": row.annotations, "generation": 2},
        "spec": {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}, **row.spec},
        "status": row.status,
    }
    inputs = BackupInputs(
        instance=api.OpenClawInstance.from_body(body),
        server=row.server,
        server_ready=row.server_ready,
        app_healthy=row.app_healthy,
        channel=row.channel,
        store=row.store,
        now=NOW,
        restore_source=row.source,
    )
    return inputs, plan_backup(inputs)


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_plan_backup(row: Row) -> None:
    inputs, plan = run(row)
    assert tuple(step_name(s) for s in plan.steps) == row.steps
    assert (plan.verdict.status, plan.verdict.reason) == (row.condition, row.reason), plan.verdict.message
    assert plan.restoring == row.restoring
    if row.stall is None:
        assert plan.stall is None
    else:
        assert plan.stall is not None and row.stall in plan.stall.message
    after = plan.updates.applied_to(inputs.instance.status)
    if row.records is None:
        # nothing new recorded (a record is only ever made or dropped, never changed in place)
        assert after.backup_in_progress in (None, inputs.instance.status.backup_in_progress)
    else:
        assert after.backup_in_progress is not None
        assert (after.backup_in_progress.kind, after.backup_in_progress.id) == (row.records, NOW_ID)
        assert plan.requeue == 0.0  # the upload follows at once, in the next pass
        assert not any(isinstance(s, TakeBackup) for s in plan.steps)  # never in the pass that records


def test_an_upload_goes_to_the_recorded_id_and_clears_it_on_success() -> None:
    _, plan = run(ROWS[[r.name for r in ROWS].index("recorded: the next pass uploads under that id")])
    (take,) = plan.steps
    assert isinstance(take, TakeBackup)
    assert (take.backup_id, take.kind, take.address) == ("20261204T005900Z", "OnDemand", "203.0.113.7")
    assert take.on_success == StatusDelta(backup_in_progress=None)


def test_the_request_is_marked_handled_with_the_record() -> None:
    inputs, plan = run(Row("r", annotations={api.BACKUP_REQUESTED_AT: "r1"}))
    assert plan.updates.applied_to(inputs.instance.status).last_handled_backup_at == "r1"


def test_day_two_restore_keeps_the_pre_restore_record_until_the_restore_is_done() -> None:
    inputs, plan = run(
        Row(
            "r",
            spec=RESTORE,
            source=(stored(),),
            status={**CONFIGURED, "backupInProgress": pending("PreRestore")},
        )
    )
    take, restore = plan.steps
    assert isinstance(take, TakeBackup) and take.on_success == StatusDelta()
    assert isinstance(restore, RestoreBackup)
    assert (restore.key, restore.sha256) == (SOURCE_KEY, "a" * 64)
    after = restore.on_success.applied_to(inputs.instance.status)
    assert after.backup_in_progress is None and after.applied_config_hash is None  # the channel pushes again
    assert after.restored_from == api.RestoredFrom(
        instance="old", backup="latest", id="20261201T000000Z", sha256="a" * 64, at=NOW
    )


def test_retention_deletes_oldest_first_and_each_success_drops_only_what_is_gone() -> None:
    status = {**CONFIGURED, "backups": [backup(f"2026120{d}T000000Z") for d in (4, 3, 2, 1)]}
    inputs, plan = run(Row("r", spec={"backup": {"retain": 2}}, status=status))
    assert [s.key.rsplit("/", 1)[1] for s in plan.steps] == [
        "20261201T000000Z.tar.gz",
        "20261202T000000Z.tar.gz",
    ]
    first, second = plan.steps
    assert isinstance(first, DeleteBackup) and isinstance(second, DeleteBackup)
    assert [b.id for b in first.on_success.applied_to(inputs.instance.status).backups] == [
        "20261204T000000Z", "20261203T000000Z", "20261202T000000Z"]  # fmt: skip
    assert [b.id for b in second.on_success.applied_to(inputs.instance.status).backups] == [
        "20261204T000000Z", "20261203T000000Z"]  # fmt: skip


def test_latest_never_picks_the_pre_restore_backup_of_the_restore_being_made() -> None:
    status = api.InstanceStatus.model_validate(
        {"backupInProgress": pending("PreRestore", "20261204T005900Z")}
    )
    own = stored(f"instances/default/alpha/{UID}/20261204T005900Z.tar.gz")
    older = stored(f"instances/default/alpha/{UID}/20261203T000000Z.tar.gz")
    wanted = api.RestoreFrom(instance="alpha")
    assert restore_candidate(wanted, (own, older), status) == older
    # and among several uids of one name (a deleted namesake), the newest id wins
    other_uid = stored("instances/default/alpha/8888/20261203T120000Z.tar.gz")
    assert restore_candidate(wanted, (own, older, other_uid), status) == other_uid


def test_scheduled_slots_spread_a_fleet_over_the_day() -> None:
    """5,000 instances: no hour of the day holds more than twice its share of the slots."""
    hours = Counter(latest_slot(f"uid-{n}", timedelta(days=1), NOW).hour for n in range(5000))
    assert len(hours) == 24
    assert max(hours.values()) < 2 * 5000 / 24


def test_a_slot_is_stable_within_its_interval() -> None:
    first = latest_slot(UID, timedelta(days=1), NOW)
    assert first <= NOW < first + timedelta(days=1)
    assert latest_slot(UID, timedelta(days=1), first + timedelta(hours=23)) == first
    assert latest_slot(UID, timedelta(days=1), first + timedelta(days=1)) == first + timedelta(days=1)


@pytest.mark.parametrize(
    ("answer", "in_bucket", "problem"),
    [
        ({"sizeBytes": 10, "sha256": "a" * 64}, stored(sha256="a" * 64), None),
        ({"sizeBytes": 10, "sha256": "a" * 64}, stored(sha256=None), None),  # a store without metadata
        ({"sizeBytes": 10, "sha256": "a" * 64}, None, "not in the bucket"),
        ({"sizeBytes": 11, "sha256": "a" * 64}, stored(sha256="a" * 64), "10 bytes"),
        ({"sizeBytes": 10, "sha256": "b" * 64}, stored(sha256="a" * 64), "sha256"),
        ({"sizeBytes": 10}, stored(), "no size or sha256"),
    ],
)
def test_an_upload_counts_only_when_the_bucket_shows_what_the_agent_said(
    answer: dict[str, Any], in_bucket: BackupObject | None, problem: str | None
) -> None:
    found = verification_problem(answer, in_bucket)
    assert found == problem if problem is None else problem in (found or "")


def test_ids_are_utc_seconds() -> None:
    assert backup_id(datetime(2026, 12, 4, 2, 3, 4, tzinfo=UTC)) == "20261204T020304Z"


# --- the final backup ------------------------------------------------------------------------------
@dataclass
class FinalRow:
    name: str
    status: dict[str, Any] = field(default_factory=lambda: dict(CONFIGURED))
    annotations: dict[str, str] = field(default_factory=dict)
    policy: str = "Delete"
    servers: tuple[ServerObservation, ...] = (RUNNING,)
    store: bool = True
    done: bool = False
    steps: tuple[str, ...] = ()
    records: bool = False
    note: str | None = None


FINAL_ROWS = [
    FinalRow("a running server: the Final backup is recorded first", records=True),
    FinalRow("recorded: taken", status={**CONFIGURED, "backupInProgress": pending("Final")},
             steps=("backup",)),
    FinalRow("taken and listed: the deletion goes on", done=True,
             status={**CONFIGURED, "backupInProgress": pending("Final"),
                     "backups": [backup("20261204T005900Z", "Final")]}),
    FinalRow("recorded 11 minutes ago and still not listed: given up with a warning", done=True,
             status={**CONFIGURED,
                     "backupInProgress": {**pending("Final"), "startedAt": "2026-12-04T00:49:00Z"}},
             note="FinalBackupAbandoned"),
    FinalRow("a scheduled backup under way is replaced by the Final one", records=True,
             status={**CONFIGURED, "backupInProgress": pending("Scheduled")}),
    FinalRow("declined by annotation", annotations={api.SKIP_FINAL_BACKUP: "true"}, done=True),
    FinalRow("Retain keeps the server: no backup", policy="Retain", done=True),
    FinalRow("no store", store=False, done=True),
    FinalRow("server off (suspended): none, the Event says no backup is left", servers=(OFF,), done=True,
             note="NoFinalBackup"),
    FinalRow("no server (hibernated): none, the Event names the newest backup kept", servers=(), done=True,
             status={**CONFIGURED, "backups": [backup("20261203T000000Z")]}, note="NoFinalBackup"),
    FinalRow("suspended, a later deletion pass: no second Event", servers=(OFF,), done=True,
             status={**CONFIGURED, "phase": "Deleting"}),
    FinalRow("never configured: none", status={}, done=True),
]  # fmt: skip


@pytest.mark.parametrize("row", FINAL_ROWS, ids=[r.name for r in FINAL_ROWS])
def test_plan_final_backup(row: FinalRow) -> None:
    body = {
        "metadata": {"name": "alpha", "uid": UID, "annotations": row.annotations},
        "spec": {
            "hostname": "alpha.example.com",
            "gatewayTokenSecretRef": {"name": "t"},
            "deletionPolicy": row.policy,
        },
        "status": row.status,
    }
    instance = api.OpenClawInstance.from_body(body)
    move = plan_final_backup(
        FinalInputs(
            instance=instance, servers=row.servers, channel=True, store=row.store, now=NOW, timeout=600
        )
    )
    assert move.done == row.done, move.message
    assert tuple(step_name(s) for s in move.steps) == row.steps
    recorded = move.updates.applied_to(instance.status).backup_in_progress
    if row.records:
        assert recorded is not None and (recorded.kind, recorded.id) == ("Final", NOW_ID)
    assert [n.reason for n in move.notes] == ([row.note] if row.note else [])


@pytest.mark.parametrize(
    ("backups", "kind", "words"),
    [
        ([backup("20261203T000000Z", "OnDemand"), backup("20261201T000000Z")], "Normal",
         "the newest backup, 20261203T000000Z (OnDemand), stays in the bucket for the grace period"),
        ([], "Warning", "there is no backup of it: its data goes with the server"),
    ],
)  # fmt: skip
def test_a_suspended_instance_deleted_keeps_its_newest_backup_and_says_so(
    backups: list[dict[str, Any]], kind: str, words: str
) -> None:
    instance = api.OpenClawInstance.from_body(
        {
            "metadata": {"name": "alpha", "uid": UID},
            "spec": {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}},
            "status": {**CONFIGURED, "phase": "Suspended", "backups": backups},
        }
    )
    move = plan_final_backup(
        FinalInputs(instance=instance, servers=(OFF,), channel=True, store=True, now=NOW, timeout=600)
    )
    assert move.done and move.steps == () and move.updates == NO_CHANGE
    (note,) = move.notes
    assert (note.type, note.reason) == (kind, "NoFinalBackup") and words in note.message
    assert words in move.message and "suspended or hibernated" in move.message


# --- the Suspend backup ------------------------------------------------------------------------------
@dataclass
class SuspendRow:
    name: str
    spec: dict[str, Any] = field(default_factory=lambda: {"suspended": True})
    status: dict[str, Any] = field(default_factory=lambda: dict(CONFIGURED))
    server: ServerObservation | None = RUNNING
    store: bool = True
    # expectations: None (no Suspend backup: the shutdown goes ahead as before), or what this pass does
    active: bool = True
    hold: bool = False  # the shutdown waits
    steps: tuple[str, ...] = ()
    records: bool = False
    done: bool = False  # status.suspendBackupGeneration set to this generation
    note: str | None = None


SUSPEND_ROWS = [
    SuspendRow("not suspended: none", spec={}, active=False),
    SuspendRow("suspended and running: recorded first, the shutdown waits", hold=True, records=True),
    SuspendRow("recorded: taken, the shutdown still waits", hold=True, steps=("backup",),
               status={**CONFIGURED, "backupInProgress": pending("Suspend")}),
    SuspendRow("a Scheduled backup under way is the one the suspension keeps", hold=True, steps=("backup",),
               status={**CONFIGURED, "backupInProgress": pending("Scheduled")}),
    SuspendRow("taken and listed (a crash before the status write): done, the shutdown goes ahead",
               done=True, status={**CONFIGURED, "backupInProgress": pending("Suspend"),
                                  "backups": [backup("20261204T005900Z", "Suspend")]}),
    SuspendRow("11 minutes without success: given up with a warning, the shutdown goes ahead", done=True,
               status={**CONFIGURED,
                       "backupInProgress": {**pending("Suspend"), "startedAt": "2026-12-04T00:49:00Z"}},
               note="SuspendBackupAbandoned"),
    SuspendRow("this suspension's backup is done: none", active=False,
               status={**CONFIGURED, "suspendBackupGeneration": 2}),
    SuspendRow("an earlier suspension's backup: this one takes its own", hold=True, records=True,
               status={**CONFIGURED, "suspendBackupGeneration": 1}),
    SuspendRow("the shutdown already under way: never held back", active=False,
               status={**CONFIGURED, "shutdownStartedAt": "2026-12-04T00:59:30Z"}),
    SuspendRow("server off (suspended before): none", server=OFF, active=False),
    SuspendRow("no server (hibernated): none", server=None, active=False),
    SuspendRow("never configured through the channel: none", status={}, active=False),
    SuspendRow("no store: none", store=False, active=False),
]  # fmt: skip


@pytest.mark.parametrize("row", SUSPEND_ROWS, ids=[r.name for r in SUSPEND_ROWS])
def test_plan_suspend_backup(row: SuspendRow) -> None:
    body = {
        "metadata": {"name": "alpha", "uid": UID, "generation": 2},
        "spec": {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}, **row.spec},
        "status": row.status,
    }
    instance = api.OpenClawInstance.from_body(body)
    move = plan_suspend_backup(
        SuspendInputs(
            instance=instance, server=row.server, channel=True, store=row.store, now=NOW, timeout=600
        )
    )
    if not row.active:
        assert move is None
        return
    assert move is not None
    assert (move.hold is not None) == row.hold
    assert tuple(step_name(s) for s in move.plan.steps) == row.steps
    after = move.plan.updates.applied_to(instance.status)
    if row.records:
        recorded = after.backup_in_progress
        assert recorded is not None and (recorded.kind, recorded.id) == ("Suspend", NOW_ID)
        assert move.plan.requeue == 0.0
    for take in move.plan.steps:  # its success ends this suspension's backup
        assert isinstance(take, TakeBackup)
        done = take.on_success.applied_to(instance.status)
        assert (done.suspend_backup_generation, done.backup_in_progress) == (2, None)
    if row.done:
        assert (after.suspend_backup_generation, after.backup_in_progress) == (2, None)
    assert [n.reason for n in move.plan.notes] == ([row.note] if row.note else [])


def test_decide_holds_a_suspensions_shutdown_for_its_backup_then_shuts_down() -> None:
    from dataclasses import replace

    from openclaw_operator.reconcile.instance import decide
    from tests.operator.unit.test_instance_decide import SETTINGS, situation
    from tests.operator.unit.test_instance_decide import Row as DecideRow

    settings = replace(SETTINGS, channel=True, backup_store=True)
    base = situation(DecideRow("suspending", settings=settings, spec={"suspended": True}))

    def with_status(**status: Any) -> Any:
        instance = base.instance.model_copy(
            update={"status": api.InstanceStatus.model_validate({**CONFIGURED, **status})}
        )
        return decide(replace(base, instance=instance))

    recording = with_status()
    assert recording.steps == ()  # no shutdown yet
    server_ready = recording.status.condition(api.ConditionType.SERVER_READY)
    assert server_ready is not None and server_ready.reason == "BackingUp"
    assert recording.status.backup_in_progress is not None
    assert recording.status.backup_in_progress.kind == api.BackupKind.SUSPEND
    taking = with_status(backupInProgress=pending("Suspend"))
    assert [step_name(s) for s in taking.steps] == ["backup"]  # the backup, and no shutdown beside it
    done = with_status(suspendBackupGeneration=base.instance.metadata.generation)
    assert [step_name(s) for s in done.steps] == ["shutdown"]
    without_channel = decide(situation(DecideRow("suspending", spec={"suspended": True})))
    assert [step_name(s) for s in without_channel.steps] == ["shutdown"]  # as before: nothing to back up


# --- the bucket sweep -------------------------------------------------------------------------------
def test_the_sweep_deletes_only_deleted_instances_objects_past_the_grace() -> None:
    grace = timedelta(days=30)
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=2)
    objects = [
        stored("p/instances/ns/live/L/20261101T000000Z.tar.gz", modified=old),  # live: kept, however old
        stored("p/instances/ns/gone/G/20261001T000000Z.tar.gz", modified=old),  # gone, past grace: both go
        stored("p/instances/ns/gone/G/20261002T000000Z.tar.gz", modified=old),
        stored("p/instances/ns/gone/G/20261002T000000Z.tar.gz.sha256", modified=old),  # its checksum too
        stored("p/instances/ns/cancelled/C/20261001T000000Z.tar.gz", modified=old),  # gone, but its
        stored("p/instances/ns/cancelled/C/20261202T000000Z.tar.gz", modified=recent),  # Final is recent
        stored("p/instances/ns/stray.txt", modified=old),  # not of our shape: never judged
        stored("p/other/ns/x/X/20261001T000000Z.tar.gz", modified=old),  # outside the prefix
    ]
    verdict = plan_bucket_sweep(objects, "p/instances/ns/", frozenset({"L"}), NOW, grace)
    assert [o.key for o in verdict.doomed] == [
        "p/instances/ns/gone/G/20261001T000000Z.tar.gz",
        "p/instances/ns/gone/G/20261002T000000Z.tar.gz",
        "p/instances/ns/gone/G/20261002T000000Z.tar.gz.sha256",
    ]
    assert verdict.kept_uids == {"C"}


def test_decide_restores_a_new_instance_before_the_first_push_and_before_it_counts_ready() -> None:
    from dataclasses import replace

    from openclaw_operator.reconcile.instance import decide
    from tests.operator.unit.test_instance_decide import SETTINGS, situation
    from tests.operator.unit.test_instance_decide import Row as DecideRow

    settings = replace(SETTINGS, channel=True, backup_store=True)
    base = situation(DecideRow("ready", settings=settings, spec=RESTORE))
    restoring = decide(replace(base, restore_source=(stored(),)))
    assert [step_name(s) for s in restoring.steps] == ["restore", "apply_server_config"]
    ready = restoring.status.condition(api.ConditionType.READY)
    assert ready is not None and (ready.status, ready.reason) == ("False", "Restoring")
    missing = decide(replace(base, restore_source=()))
    assert missing.stalled and missing.steps == ()
    assert "spec.restoreFrom.backup" in (missing.status.message or "")
    plain = decide(situation(DecideRow("ready", settings=settings)))
    backed_up = plain.status.condition(api.ConditionType.BACKED_UP)
    assert backed_up is not None and (backed_up.status, backed_up.reason) == ("Unknown", "NotScheduled")
    assert plain.status.condition(api.ConditionType.READY).status == "True"  # type: ignore[union-attr]

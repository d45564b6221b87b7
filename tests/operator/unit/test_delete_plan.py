"""plan_delete: records first, protection lifted, server deleted, done when nothing is left."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.delete import plan_delete
from openclaw_operator.reconcile.model import (
    ActionObservation,
    ImageStatus,
    RecordObservation,
    ServerAction,
    ServerObservation,
    SetServerLabels,
    SetSnapshotLabels,
    SnapshotObservation,
    WriteRecord,
    step_name,
)

OURS = naming.record_comment("u")
SERVER = ServerObservation(
    7,
    "a-1",
    "running",
    "cx23",
    {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.INSTANCE_UID_LABEL: "u", "team": "x"},
    delete_protected=True,
    rebuild_protected=True,
)
RECORD = RecordObservation("r", "z", "a.example.com", "A", "203.0.113.7", False, 300, OURS)
DELETE, RETAIN = api.DeletionPolicy.DELETE, api.DeletionPolicy.RETAIN


@pytest.mark.parametrize(
    ("policy", "servers", "records", "action", "kinds", "done"),
    [
        (DELETE, (), (), None, [], True),
        (DELETE, (SERVER,), (RECORD,), None, ["delete_record"], False),
        (DELETE, (SERVER,), (), None, ["change_protection"], False),
        (
            DELETE,
            (replace(SERVER, delete_protected=False, rebuild_protected=False),),
            (),
            None,
            ["delete_server"],
            False,
        ),
        (DELETE, (replace(SERVER, status="deleting"),), (), None, [], False),
        (DELETE, (SERVER,), (RECORD,), ActionObservation(1, "create_server", "running"), [], False),
        (RETAIN, (SERVER,), (RECORD,), None, ["set_labels", "update_record"], True),
        (RETAIN, (), (), None, [], True),
    ],
)
def test_plan_delete(policy, servers, records, action, kinds, done) -> None:  # type: ignore[no-untyped-def]
    plan = plan_delete(policy, servers, records, action)
    assert [step_name(s) for s in plan.steps] == kinds
    assert plan.done == done


def test_retain_strips_only_our_marks() -> None:
    plan = plan_delete(RETAIN, (SERVER,), (RECORD,), None)
    release_server, release_record = plan.steps
    assert isinstance(release_server, SetServerLabels) and release_server.labels == {"team": "x"}
    assert isinstance(release_record, WriteRecord)
    assert release_record.record.comment == "" and release_record.record.content == RECORD.content
    assert release_record.record.id == RECORD.id  # an overwrite of the record, not a new one


def test_protection_is_lifted_before_the_delete() -> None:
    (unprotect,) = plan_delete(DELETE, (SERVER,), (), None).steps
    assert isinstance(unprotect, ServerAction) and unprotect.server_id == SERVER.id
    assert unprotect.payload == {"delete": False, "rebuild": False}


SNAPSHOT = SnapshotObservation(
    41,
    ImageStatus.AVAILABLE,
    {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.INSTANCE_UID_LABEL: "u"},
)


@pytest.mark.parametrize(
    ("policy", "servers", "snapshots", "kinds", "done"),
    [
        # A hibernated instance: no server, its snapshot goes, then the finalizer.
        (DELETE, (), (SNAPSHOT,), ["delete_snapshot"], False),
        (
            DELETE,
            (replace(SERVER, delete_protected=False, rebuild_protected=False),),
            (SNAPSHOT,),
            ["delete_server", "delete_snapshot"],
            False,
        ),
        # One still being created cannot be deleted yet (Hetzner: locked): waited for, never forgotten.
        (DELETE, (), (replace(SNAPSHOT, status=ImageStatus.CREATING),), [], False),
        (RETAIN, (), (SNAPSHOT,), ["set_snapshot_labels"], True),
    ],
)
def test_plan_delete_with_snapshots(policy, servers, snapshots, kinds, done) -> None:  # type: ignore[no-untyped-def]
    plan = plan_delete(policy, servers, (), None, snapshots)
    assert [step_name(s) for s in plan.steps] == kinds
    assert plan.done == done


def test_retain_releases_the_snapshot_keeping_foreign_labels() -> None:
    labelled = replace(SNAPSHOT, labels={**SNAPSHOT.labels, "team": "x"})
    (step,) = plan_delete(RETAIN, (), (), None, (labelled,)).steps
    assert isinstance(step, SetSnapshotLabels) and step.labels == {"team": "x"}

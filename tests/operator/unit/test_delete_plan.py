"""plan_delete: records first, protection lifted, server deleted, done when nothing is left."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.delete import plan_delete
from openclaw_operator.reconcile.model import (
    ActionObservation,
    RecordObservation,
    ServerObservation,
    StepKind,
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
        (DELETE, (SERVER,), (RECORD,), None, [StepKind.DELETE_RECORD], False),
        (DELETE, (SERVER,), (), None, [StepKind.UNPROTECT], False),
        (
            DELETE,
            (replace(SERVER, delete_protected=False, rebuild_protected=False),),
            (),
            None,
            [StepKind.DELETE_SERVER],
            False,
        ),
        (DELETE, (replace(SERVER, status="deleting"),), (), None, [], False),
        (DELETE, (SERVER,), (RECORD,), ActionObservation(1, "create_server", "running"), [], False),
        (RETAIN, (SERVER,), (RECORD,), None, [StepKind.SET_LABELS, StepKind.UPDATE_RECORD], True),
        (RETAIN, (), (), None, [], True),
    ],
)
def test_plan_delete(policy, servers, records, action, kinds, done) -> None:  # type: ignore[no-untyped-def]
    plan = plan_delete(policy, servers, records, action)
    assert [s.kind for s in plan.steps] == kinds
    assert plan.done == done


def test_retain_strips_only_our_marks() -> None:
    plan = plan_delete(RETAIN, (SERVER,), (RECORD,), None)
    labels, record = plan.steps[0].labels, plan.steps[1].record
    assert labels == {"team": "x"}
    assert record is not None and record.comment == "" and record.content == RECORD.content

"""The fleet rollout of OpenClaw versions (reconcile/rollout.py, fleet.py), one row per situation: which
update may start, what the channel planner does with one that may not, how a failed push ends its
record, and the ledger that counts the shard's updates from status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.api import UpdateState
from openclaw_operator.fleet import FleetLedger, member_from_body
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile import rollout
from openclaw_operator.reconcile.channel import ChannelInputs, desired_hash, plan_channel
from openclaw_operator.reconcile.model import ApplyServerConfig, AppObservation, ServerObservation
from openclaw_operator.reconcile.rollout import Fleet, FleetMember, RolloutPolicy

NEW, OLD, PINNED = "2026.9.6", "2026.9.5", "2026.10.1"
NOW = datetime(2026, 12, 4, 4, 30, tzinfo=UTC)
POLICY = RolloutPolicy(max_parallel=3, failure_budget=2, canary_percent=10)


@dataclass
class AdmitRow:
    name: str
    others: Fleet
    to_version: str = NEW
    follows_default: bool = True
    policy: RolloutPolicy = POLICY
    reason: str = "UpdateAdmitted"


# others: (in_flight, failed, started, updated, followers); 100 followers of the default: 10 canaries.
ADMIT_ROWS = [
    AdmitRow("nothing in flight, first canary", Fleet(0, 0, 0, 0, 99)),
    AdmitRow("the cap is reached: queued", Fleet(3, 0, 3, 0, 99), reason=rollout.QUEUED),
    AdmitRow("one slot left", Fleet(2, 0, 2, 0, 99)),
    AdmitRow("ten canaries started, none done: the rest wait for the wave", Fleet(2, 0, 10, 8, 99),
             reason=rollout.CANARY_WAVE),
    AdmitRow("every canary updated: the rest may go", Fleet(0, 0, 10, 10, 99)),
    AdmitRow("a canary failed within the budget: another canary replaces it", Fleet(0, 1, 10, 9, 99)),
    AdmitRow("the budget is spent: paused", Fleet(0, 2, 12, 10, 99), reason=rollout.PAUSED),
    AdmitRow("paused, but the cap is what holds it first", Fleet(3, 2, 12, 7, 99), reason=rollout.QUEUED),
    AdmitRow("the budget raised: resumed", Fleet(0, 2, 12, 10, 99),
             policy=RolloutPolicy(max_parallel=3, failure_budget=3, canary_percent=10)),
    AdmitRow("no canary wave (0 %)", Fleet(2, 0, 10, 0, 99),
             policy=RolloutPolicy(max_parallel=3, failure_budget=2, canary_percent=0)),
    AdmitRow("one follower only: it is its own canary", Fleet(0, 0, 0, 0, 0)),
    AdmitRow("an explicit version ignores wave and budget", Fleet(0, 5, 10, 0, 99), to_version=PINNED,
             follows_default=False),
    AdmitRow("an explicit version obeys the cap", Fleet(3, 0, 0, 0, 99), to_version=PINNED,
             follows_default=False, reason=rollout.QUEUED),
]  # fmt: skip


@pytest.mark.parametrize("row", ADMIT_ROWS, ids=[row.name for row in ADMIT_ROWS])
def test_admit(row: AdmitRow) -> None:
    admission = rollout.admit(
        row.policy,
        row.others,
        to_version=row.to_version,
        default_version=NEW,
        follows_default=row.follows_default,
    )
    assert admission.reason == row.reason
    assert admission.admitted == (row.reason == "UpdateAdmitted")
    assert row.to_version in admission.message


def record(state: UpdateState, to: str = NEW, start: str = OLD) -> api.VersionUpdate:
    return api.VersionUpdate(from_version=start, to_version=to, state=state, started_at=NOW)


@pytest.mark.parametrize(
    ("member", "counts"),
    [
        (FleetMember(True), Fleet(followers=1)),
        (FleetMember(True, record(UpdateState.UPDATING)), Fleet(1, 0, 1, 0, 1)),
        (FleetMember(True, record(UpdateState.UPDATED)), Fleet(0, 0, 1, 1, 1)),
        (FleetMember(True, record(UpdateState.FAILED)), Fleet(0, 1, 1, 0, 1)),
        (FleetMember(True, record(UpdateState.FAILED, to=OLD, start=NEW)), Fleet(followers=1)),
        (FleetMember(False, record(UpdateState.UPDATING, to=PINNED)), Fleet(in_flight=1)),
        (FleetMember(False, record(UpdateState.FAILED)), Fleet(failed=1)),
    ],
    ids=["idle follower", "updating", "updated", "failed", "failed for another default", "explicit in flight",
         "explicit, failed on the default"],
)  # fmt: skip
def test_contribution(member: FleetMember, counts: Fleet) -> None:
    assert rollout.contribution(member, NEW) == counts


RUNNING = ServerObservation(
    id=7, name="alpha-0b9f3c1e", status="running", server_type="cx23", ipv4="203.0.113.7"
)
BASE_SPEC = {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}}


def spec(**changes: Any) -> api.InstanceSpec:
    return api.InstanceSpec.model_validate({**BASE_SPEC, **changes})


ON_OLD = desired_hash(spec(), RUNNING.id, OLD)  # applied while OLD was the default
FULL = Fleet(3, 0, 3, 0, 50)


@dataclass
class PlanRow:
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    applied: str = ON_OLD
    running: str = OLD
    record: api.VersionUpdate | None = None
    fleet: Fleet = rollout.NO_FLEET
    applied_reason: str | None = None  # ConfigApplied's reason before this pass
    # expectations
    reason: str = "Applying"
    pushed_version: str | None = None  # None: no push
    record_after: str = "unchanged"  # or "absent", "Updating", "Updated", "Failed"
    on_success_record: str | None = None
    event: str | None = None


PLAN_ROWS = [
    PlanRow("new default, a slot free: admitted and recorded, no push yet", reason="UpdateAdmitted",
            record_after="Updating", event="UpdateAdmitted"),
    PlanRow("admitted: pushed with the new version, Updated on success", record=record(UpdateState.UPDATING),
            pushed_version=NEW, on_success_record="Updated"),
    PlanRow("no slot: queued, the server keeps its version, one Event", fleet=FULL, reason=rollout.QUEUED,
            event=rollout.QUEUED),
    PlanRow("still queued: no second Event", fleet=FULL, reason=rollout.QUEUED,
            applied_reason=rollout.QUEUED),
    PlanRow("queued with a token rotation: the rotation goes ahead on the running version", fleet=FULL,
            spec={"gatewayTokenSecretRef": {"name": "t2"}}, reason=rollout.QUEUED, pushed_version=OLD,
            applied_reason=rollout.QUEUED),
    PlanRow("paused: waits, with its own reason", fleet=Fleet(0, 2, 5, 3, 50), reason=rollout.PAUSED,
            event=rollout.PAUSED, applied_reason=rollout.QUEUED),
    PlanRow("its own failed update is retried (a reconcile request): admitted again",
            record=record(UpdateState.FAILED), reason="UpdateAdmitted", record_after="Updating",
            event="UpdateAdmitted"),
    PlanRow("failed and pinned back to the old version: fixed, the record goes",
            spec={"openclawVersion": OLD}, applied=desired_hash(spec(openclawVersion=OLD), RUNNING.id, NEW),
            record=record(UpdateState.FAILED), reason="Applied", record_after="absent"),
    PlanRow("admitted, and the push's answer was recorded but not the record: Updated", running=NEW,
            applied=desired_hash(spec(), RUNNING.id, NEW), record=record(UpdateState.UPDATING),
            reason="Applied", record_after="Updated"),
    PlanRow("an explicit version, a slot free: admitted", spec={"openclawVersion": PINNED},
            reason="UpdateAdmitted", record_after="Updating", event="UpdateAdmitted"),
    PlanRow("an update in flight to a version no longer wanted: void, the new one needs a slot",
            spec={"openclawVersion": PINNED}, record=record(UpdateState.UPDATING), fleet=FULL,
            reason=rollout.QUEUED, record_after="absent", event=rollout.QUEUED),
    PlanRow("first contact installs nothing: no admission", applied="", running="", pushed_version=NEW),
]  # fmt: skip


@pytest.mark.parametrize("row", PLAN_ROWS, ids=[row.name for row in PLAN_ROWS])
def test_channel_plan_under_the_rollout(row: PlanRow) -> None:
    conditions = ()
    if row.applied_reason is not None:
        conditions = (
            api.Condition(type="ConfigApplied", status="False", reason=row.applied_reason, message="m",
                          last_transition_time=NOW),
        )  # fmt: skip
    status = api.InstanceStatus(
        applied_config_hash=row.applied or None,
        openclaw_version=row.running or None,
        version_update=row.record,
        conditions=conditions,
    )
    plan = plan_channel(
        ChannelInputs(
            spec=spec(**row.spec),
            annotations={},
            status=status,
            server=RUNNING,
            server_ready=True,
            app=AppObservation(True, "ok"),
            default_openclaw_version=NEW,
            enabled=True,
            now=NOW,
            policy=POLICY,
            fleet=row.fleet,
        )
    )
    assert plan.verdict.reason == row.reason
    pushes = [step for step in plan.steps if isinstance(step, ApplyServerConfig)]
    assert [step.openclaw_version for step in pushes] == ([row.pushed_version] if row.pushed_version else [])
    for step in pushes:  # what is recorded as applied is what was pushed, so no push repeats
        assert step.on_success.applied_config_hash == step.desired_hash
        assert step.on_success.openclaw_version == step.openclaw_version
    after = plan.updates.applied_to(status).version_update
    expected = {"unchanged": row.record, "absent": None}.get(row.record_after, row.record_after)
    assert (after.state.value if isinstance(expected, str) and after else after) == expected
    if row.on_success_record is not None:
        updated = pushes[0].on_success.applied_to(status).version_update
        assert updated is not None and updated.state.value == row.on_success_record
        assert updated.finished_at == NOW
    assert [note.reason for note in plan.notes] == ([row.event] if row.event else [])
    if row.reason == "UpdateAdmitted":
        assert plan.requeue == 0.0  # the push follows at once


@pytest.mark.parametrize(
    ("kind", "reason", "state_after"),
    [
        (FailureKind.STALLED, "UpdateFailed", "Failed"),
        (FailureKind.STALLED, "ConfigRejected", None),
        (FailureKind.RETRYING, "ChannelUnreachable", "Updating"),
    ],
    ids=["rolled back: Failed", "refused for another reason: void, no slot held", "may work next time: kept"],
)
def test_after_failure(kind: FailureKind, reason: str, state_after: str | None) -> None:
    status = api.InstanceStatus(version_update=record(UpdateState.UPDATING))
    after = rollout.after_failure(status, Failure(kind, reason, "m"), NOW).version_update
    assert (after.state.value if after else None) == state_after
    if state_after == "Failed":
        assert after is not None and after.finished_at == NOW


def test_after_failure_leaves_an_instance_without_an_update_alone() -> None:
    status = api.InstanceStatus(version_update=record(UpdateState.UPDATED))
    assert rollout.after_failure(status, Failure(FailureKind.STALLED, "UpdateFailed", "m"), NOW) is status


# --- the ledger --------------------------------------------------------------------------------------
def updating(to: str = NEW) -> FleetMember:
    return FleetMember(True, record(UpdateState.UPDATING, to=to))


def test_the_ledger_counts_what_the_watch_delivered_before_any_pass() -> None:
    """After a restart Kopf indexes the initial LIST before the first pass: the counts come from status."""
    ledger = FleetLedger(NEW, POLICY)
    for uid in ("a", "b"):
        ledger.watched(uid, updating())
    ledger.watched("c", FleetMember(True))
    assert ledger.total().in_flight == 2
    assert ledger.others("c").in_flight == 2
    assert ledger.others("a").in_flight == 1  # an instance is not in its own way


def test_a_pass_note_counts_before_its_write_is_back_and_yields_to_the_watch_once_it_is() -> None:
    ledger = FleetLedger(NEW, POLICY)
    ledger.watched("a", FleetMember(True))
    ledger.noted("a", updating(), waiting=False)
    ledger.watched("a", FleetMember(True))  # an older event still on its way
    assert ledger.total().in_flight == 1
    ledger.watched("a", updating())  # the write is back
    done = FleetMember(True, record(UpdateState.UPDATED))
    ledger.watched("a", done)
    assert ledger.total() == Fleet(0, 0, 1, 1, 1)
    ledger.forget("a")
    assert ledger.total() == rollout.NO_FLEET


def test_a_freed_slot_wakes_as_many_waiting_instances_as_there_are_free_slots() -> None:
    woken: list[str] = []
    ledger = FleetLedger(NEW, RolloutPolicy(max_parallel=2))
    ledger.on_wake = woken.append
    ledger.noted("x", updating(), waiting=False)
    ledger.noted("y", updating(), waiting=False)
    for uid in ("q1", "q2", "q3"):
        ledger.noted(uid, FleetMember(True), waiting=True)
    woken.clear()
    ledger.noted("x", FleetMember(True, record(UpdateState.UPDATED)), waiting=False)
    assert woken == ["q1"]  # the oldest waiting one; one slot is free
    ledger.noted("q1", updating(), waiting=False)  # admitted: it waits no more
    woken.clear()
    ledger.noted("y", FleetMember(True, record(UpdateState.FAILED)), waiting=False)
    assert woken == ["q2"]


def test_member_from_a_raw_body() -> None:
    body = {
        "spec": {"hostname": "a.example.com"},
        "status": {"versionUpdate": record(UpdateState.UPDATING).to_api()},
    }
    assert member_from_body(body) == updating()
    assert member_from_body({"spec": {"openclawVersion": PINNED}}) == FleetMember(False)

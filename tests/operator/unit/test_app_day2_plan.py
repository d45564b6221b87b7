"""Doctor and skills in the channel's plan, one row per situation: when `clawhost.dev/doctor-requested-at`
runs the doctor, what status.doctor and DoctorClean say about its answer, and how spec.skills reaches
the hash and the rendered openclaw.json."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.bootstrap.app_files import gateway_config, owned_paths_in
from openclaw_operator.reconcile.channel import desired_hash, doctor_report, doctor_verdict
from openclaw_operator.reconcile.model import RunDoctor, StatusDelta, step_name
from tests.operator.unit.test_channel_plan import APPLIED, DEFAULT_VERSION, RUNNING, Row, plan_for, spec

NOW = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
DOCTOR = api.DOCTOR_REQUESTED_AT


ROWS = [
    Row("doctor requested: run it", annotations={DOCTOR: "d1"}, steps=("doctor",)),
    Row("doctor already run for this value: nothing", annotations={DOCTOR: "d1"},
        status={"appliedConfigHash": APPLIED, "lastHandledDoctorAt": "d1"}),
    Row("doctor requested again: run it", annotations={DOCTOR: "d2"},
        status={"appliedConfigHash": APPLIED, "lastHandledDoctorAt": "d1"}, steps=("doctor",)),
    Row("doctor and a change: push first, then the doctor sees the new config", annotations={DOCTOR: "d1"},
        spec={"hostname": "beta.example.com"}, steps=("apply_server_config", "doctor"), reason="Applying"),
    Row("doctor while the server is off: wait", annotations={DOCTOR: "d1"},
        server=replace(RUNNING, status="off")),
    Row("doctor while suspended: wait", annotations={DOCTOR: "d1"}, spec={"suspended": True}),
    Row("skills set: the hash moves, push", spec={"skills": ["weather"]}, steps=("apply_server_config",),
        reason="Applying"),
    Row("skills unset: the hash is the one from before skills existed"),
    Row("doctor, approve-devices and skills together: push, approve, doctor", spec={"skills": ["weather"]},
        annotations={DOCTOR: "d1", api.APPROVE_DEVICES_REQUESTED_AT: "a1"},
        steps=("apply_server_config", "approve_devices", "doctor"), reason="Applying"),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_plan(row: Row) -> None:
    plan = plan_for(row)
    assert tuple(step_name(step) for step in plan.steps) == row.steps
    assert plan.verdict.reason == row.reason
    for step in plan.steps:
        if isinstance(step, RunDoctor):  # recorded as handled only once the doctor answered
            assert step.on_success == StatusDelta(last_handled_doctor_at=row.annotations[DOCTOR])


def test_skills_change_the_hash_and_their_order_counts_as_given() -> None:
    without = desired_hash(spec(), 7, DEFAULT_VERSION)
    assert desired_hash(spec(skills=[]), 7, DEFAULT_VERSION) != without  # [] blocks every bundled skill
    one = desired_hash(spec(skills=["weather"]), 7, DEFAULT_VERSION)
    assert one not in (without, desired_hash(spec(skills=["weather", "tmux"]), 7, DEFAULT_VERSION))


def finding(n: int, **extra: Any) -> dict[str, Any]:
    return {"checkId": f"core/doctor/c{n}", "severity": "warning", "message": f"m{n}", **extra}


@dataclass
class DoctorRow:
    name: str
    answer: dict[str, Any]
    clean: bool
    kept: int
    omitted: int
    condition: str
    message_has: str


DOCTOR_ROWS = [
    DoctorRow("no findings: clean", {"checksRun": 35, "findings": []}, True, 0, 0, "True", "35 checks"),
    DoctorRow("one finding: not clean, the first one in the condition",
              {"checksRun": 35, "findings": [finding(1, path="gateway.bind")]}, False, 1, 0, "False",
              "[warning] core/doctor/c1: m1"),
    DoctorRow("the agent's cap: the omitted count carries on",
              {"checksRun": 9, "findings": [finding(n) for n in range(20)], "omitted": 5}, False, 20, 5,
              "False", "25 finding(s)"),
    DoctorRow("more than the cap from an older agent: cut and counted",
              {"checksRun": 9, "findings": [finding(n) for n in range(23)]}, False, 20, 3, "False",
              "23 finding(s)"),
    DoctorRow("garbage entries are skipped", {"checksRun": 1, "findings": ["x", finding(2)]}, False, 1, 0,
              "False", "c2"),
]  # fmt: skip


@pytest.mark.parametrize("row", DOCTOR_ROWS, ids=[row.name for row in DOCTOR_ROWS])
def test_doctor_report_and_condition(row: DoctorRow) -> None:
    report = doctor_report(row.answer, NOW)
    assert (report.clean, len(report.findings), report.omitted) == (row.clean, row.kept, row.omitted)
    assert report.ran_at == NOW
    status = api.InstanceStatus.model_validate({"doctor": report.to_api()})
    assert status.doctor == report  # the status shape round-trips through the API's camelCase
    verdict = doctor_verdict(status)
    assert verdict is not None and verdict.status == row.condition
    assert row.message_has in verdict.message


def test_no_doctor_condition_before_the_first_run() -> None:
    assert doctor_verdict(api.InstanceStatus()) is None


def test_skills_render_as_the_bundled_allowlist_with_each_enabled() -> None:
    fragment = {"skills": {"entries": {"weather": {"env": {"X": "1"}}, "tmux": {"enabled": True}}}}
    merged = gateway_config("alpha.example.com", fragment, ["weather", "coding-agent"])
    assert merged["skills"]["allowBundled"] == ["weather", "coding-agent"]
    entries = merged["skills"]["entries"]
    assert entries["weather"] == {"env": {"X": "1"}, "enabled": True}  # the fragment's settings stay
    assert entries["coding-agent"] == {"enabled": True}  # an opt-in skill is switched on
    assert entries["tmux"] == {"enabled": True}  # not listed: allowBundled blocks it, whatever it says
    assert "skills" not in gateway_config("alpha.example.com", None, None)  # unset: OpenClaw's default
    assert gateway_config("alpha.example.com", None, [])["skills"]["allowBundled"] == []
    assert owned_paths_in({"skills": {"allowBundled": ["tmux"]}}) == ["config.skills.allowBundled"]

"""Doctor findings and spec.skills through the channel, against the real gateway (OpenClaw 2026.9.6,
real OpenSSH, the real agent as the user-data ships it). One server for the module; the tests run in
order. Offline proof of skills uses OpenClaw's bundled skills (the package ships them): the allowlist and
the enable flags are config, read back from the running gateway (`config.get`) and from OpenClaw's own
`skills list`. Skills from ClawHub or npm need the registry and are not tested here (docs/app-day2.md)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile.channel import ChannelInputs, doctor_report, doctor_verdict, plan_channel
from openclaw_operator.reconcile.model import Note, ServerObservation, step_name
from tests.channel.conftest import ADMIN_KEY, OLD_TOKEN, Operator
from tests.channel.server import ChannelServer, instance
from tests.channel.test_channel_real_gateway import _Secrets
from tests.support.channel_actuator import channel_actuator

# A path doctor quotes in its finding: a customer who pasted the gateway token into it must not see the
# token come back in status.
LEAKY = {"plugins": {"load": {"paths": [f"/srv/plugins/{OLD_TOKEN}"]}}}


def skills_seen_by_openclaw(server: ChannelServer) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [str(server.root / "bin/openclaw-admin"), "skills", "list", "--json"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    return {entry["name"]: entry for entry in json.loads(done.stdout)["skills"]}


def test_doctor_findings_come_back_bounded_with_the_token_masked(
    server: ChannelServer, operator: Operator
) -> None:
    operator.apply(config=LEAKY, desired_hash="h-leaky")
    answered = operator.call({"op": "doctor"})
    text = json.dumps(answered.answer)
    assert OLD_TOKEN not in text
    report = doctor_report(answered.answer, api.now())
    assert report.checks_run > 0 and not report.clean
    unavailable = [f for f in report.findings if f.check_id == "core/doctor/final-config-validation"]
    assert unavailable, [f.check_id for f in report.findings]
    assert "Configured plugin load path is unavailable: /srv/plugins/***" in (unavailable[0].message or "")
    assert all(len(f.message or "") <= 300 for f in report.findings)
    verdict = doctor_verdict(api.InstanceStatus(doctor=report))
    assert verdict is not None and verdict.status == "False" and OLD_TOKEN not in verdict.message
    # Read-only: doctor changed nothing the gateway runs on.
    assert server.gateway_config()["config"]["plugins"]["load"]["paths"] == LEAKY["plugins"]["load"]["paths"]


def test_skills_are_enabled_and_the_rest_of_the_bundled_ones_blocked(
    server: ChannelServer, operator: Operator
) -> None:
    starts = server.starts()
    answered = operator.apply(skills=["weather", "coding-agent"], desired_hash="h-skills")
    assert answered.answer["changed"] == ["gatewayConfig"]
    states = {state["name"]: state for state in answered.answer["skills"]}
    assert states["weather"]["eligible"] is True  # no requirements
    assert states["coding-agent"]["eligible"] is False  # needs a coding CLI this server lacks
    live = server.gateway_config()["config"]["skills"]
    assert live["allowBundled"] == ["weather", "coding-agent"]
    assert live["entries"]["coding-agent"] == {"enabled": True}
    seen = skills_seen_by_openclaw(server)
    assert seen["weather"]["eligible"] and not seen["weather"]["blockedByAllowlist"]
    assert seen["tmux"]["blockedByAllowlist"]  # bundled, eligible by default, not listed
    assert server.starts() == starts  # a config change: hot reload, no restart


def test_a_skill_taken_off_the_list_is_blocked_at_the_next_push(
    server: ChannelServer, operator: Operator
) -> None:
    answered = operator.apply(skills=["weather"], desired_hash="h-skills-2")
    assert [state["name"] for state in answered.answer["skills"]] == ["weather"]
    assert server.gateway_config()["config"]["skills"]["allowBundled"] == ["weather"]
    assert skills_seen_by_openclaw(server)["coding-agent"]["blockedByAllowlist"]


def test_a_skill_openclaw_does_not_know_stalls_with_its_message_and_nothing_changes(
    server: ChannelServer, operator: Operator
) -> None:
    with pytest.raises(Failure) as refused:
        operator.apply(skills=["weather", "no-such-skill"], desired_hash="h-skills-bad")
    failure = refused.value
    assert (failure.kind, failure.reason, failure.frozen) == (FailureKind.STALLED, "SkillRejected", True)
    assert failure.message == 'spec.skills: no-such-skill: Skill "no-such-skill" not found.'
    assert server.gateway_config()["config"]["skills"]["allowBundled"] == ["weather"]
    assert operator.call({"op": "state"}).answer["appliedHash"] == "h-skills-2"


def test_a_pass_pushes_the_skills_then_runs_the_doctor_and_status_records_both(
    server: ChannelServer, operator: Operator, operator_key_file: Path
) -> None:
    """The operator's pieces end to end below Kopf: the planner plans the push (spec.skills moved the
    hash) and the doctor (a new annotation value), the actuator carries both out through the channel,
    and status gets status.skills, status.doctor and the handled value; no event or status has the token."""
    notes: list[Note] = []
    actuator = channel_actuator(
        server, operator_key_file, _Secrets({("alice-gateway", "token"): OLD_TOKEN}), notes
    )
    body = instance(
        "alice.example.com", "2026.9.6", sshKeys=[ADMIN_KEY], skills=["weather", "tmux"], config=LEAKY
    ).model_dump(by_alias=True, mode="json")
    body["metadata"]["annotations"] = {api.DOCTOR_REQUESTED_AT: "2026-12-04T05:00:00Z"}
    body["status"] = {"appliedConfigHash": "sha256:before", "channelHostKey": operator.host_key}
    inst = api.OpenClawInstance.from_body(body)
    seen = ServerObservation(id=1, name="alice", status="running", server_type="cx23", ipv4="127.0.0.1")
    plan = plan_channel(
        ChannelInputs(inst.spec, inst.metadata.annotations, inst.status, seen, True, None, "2026.9.6", True)
    )
    assert [step_name(step) for step in plan.steps] == ["apply_server_config", "doctor"]
    status = inst.status
    for step in plan.steps:
        status = asyncio.run(actuator.apply(inst, status, step))
    skills = status.skills or ()
    assert [(skill.name, skill.source) for skill in skills] == [
        ("weather", "openclaw-bundled"),
        ("tmux", "openclaw-bundled"),
    ]
    assert skills[0].eligible  # weather needs nothing the server lacks
    assert server.gateway_config()["config"]["skills"]["allowBundled"] == ["weather", "tmux"]
    assert status.last_handled_doctor_at == "2026-12-04T05:00:00Z"
    assert status.doctor is not None and not status.doctor.clean and status.doctor.checks_run > 0
    assert any("/srv/plugins/***" in (f.message or "") for f in status.doctor.findings)
    assert [note.reason for note in notes if note.reason == "DoctorRan"] == ["DoctorRan"]
    shown = json.dumps([note.__dict__ for note in notes]) + status.model_dump_json()
    assert OLD_TOKEN not in shown

"""What the running server must be brought to through the channel (docs/channel.md): a pure decision.

Everything the channel carries is fingerprinted into one hash: the server it is for, the hostname, the
administrator's SSH keys, the Secret *references* of the gateway token and the env (never their values,
so status holds nothing secret), the config fragment and the OpenClaw version. A push is planned when
that hash differs from status.appliedConfigHash, and once more whenever a reconcile is requested (a
Secret's content may have changed under the same name). Nothing is pushed before the server has once
answered its health check (its bootstrap is still running), nor while it is suspended, off or busy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openclaw_operator import api
from openclaw_operator.api import UpdateState
from openclaw_operator.bootstrap.app_files import owned_paths_in
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile import rollout
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    ApplyServerConfig,
    AppObservation,
    ApproveDevices,
    Note,
    RunDoctor,
    ServerObservation,
    ServerStatus,
    StatusDelta,
    Step,
)

HASH_FORMAT = 1  # bump when what the hash covers changes: every server is then pushed once

# Day-2 requests the channel carries, run after a push planned in the same pass (so they see the new
# config): the annotation, the status field holding the value last handled, the step and its message.
DAY2_REQUESTS: tuple[tuple[str, str, type[ApproveDevices] | type[RunDoctor], str, str], ...] = (
    (
        api.APPROVE_DEVICES_REQUESTED_AT,
        "last_handled_approve_devices_at",
        ApproveDevices,
        "ApprovingDevices",
        "approving the gateway's pending device pairing requests",
    ),
    (
        api.DOCTOR_REQUESTED_AT,
        "last_handled_doctor_at",
        RunDoctor,
        "RunningDoctor",
        "running OpenClaw's doctor (read-only) on the server",
    ),
)


@dataclass(frozen=True)
class ChannelInputs:
    spec: api.InstanceSpec
    annotations: dict[str, str]
    status: api.InstanceStatus  # as the pass found it
    server: ServerObservation | None
    server_ready: bool  # the server planner has nothing left to do
    app: AppObservation | None
    default_openclaw_version: str
    enabled: bool
    # A claimed warm-pool server: its gateway is not started before the channel's first push, so that
    # push cannot wait for a health check (reconcile/pool.py).
    claimed_from_pool: bool = False
    # The fleet rollout (reconcile/rollout.py): the policy, and the shard's counts without this instance.
    now: datetime | None = None
    policy: rollout.RolloutPolicy = rollout.DEFAULT_POLICY
    fleet: rollout.Fleet = rollout.NO_FLEET


@dataclass(frozen=True)
class ChannelPlan:
    verdict: Verdict
    steps: tuple[Step, ...] = ()
    stall: Verdict | None = None
    updates: StatusDelta = NO_CHANGE
    requeue: float | None = None  # an update was admitted: the push follows at once, in the next pass
    notes: tuple[Note, ...] = ()


def desired_hash(spec: api.InstanceSpec, server_id: int, default_openclaw_version: str) -> str:
    return _hash(spec, server_id, spec.openclaw_version or default_openclaw_version)


def _hash(spec: api.InstanceSpec, server_id: int, version: str) -> str:
    """The spec as it would run on the server with OpenClaw `version` (a queued update pushes the rest
    of the spec with the version the server runs)."""
    inputs = {
        "format": HASH_FORMAT,
        "serverId": server_id,
        "hostname": spec.hostname,
        "sshKeys": list(spec.ssh_keys),
        "gatewayTokenSecretRef": spec.gateway_token_secret_ref.to_api(),
        "config": spec.config or {},
        "env": [variable.to_api() for variable in spec.env],
        "openclawVersion": version,
    }
    if spec.skills is not None:  # only then: the hash of every instance without skills stays as it was
        inputs["skills"] = list(spec.skills)
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def plan_channel(inp: ChannelInputs) -> ChannelPlan:
    if not inp.enabled:
        return ChannelPlan(
            cond.unknown("NoChannel", "the operator has no channel key (CLAWHOST_CHANNEL_SSH_KEY_FILE)")
        )
    owned = owned_paths_in(inp.spec.config)
    if owned:
        message = f"spec.{owned[0]} is owned by the operator and cannot be set in spec.config"
        return ChannelPlan(
            cond.false("ConfigFieldOwned", message), stall=cond.true("ConfigFieldOwned", message)
        )
    server = inp.server
    if inp.spec.suspended:
        return ChannelPlan(_applied_or(inp, server, "Suspended", "applied when the instance is resumed"))
    if server is None or server.status != ServerStatus.RUNNING or not server.ipv4 or not inp.server_ready:
        return ChannelPlan(_applied_or(inp, server, "WaitingForServer", "waiting for the server to run"))
    first_contact = inp.status.applied_config_hash is None
    if first_contact and not inp.claimed_from_pool and (inp.app is None or not inp.app.healthy):
        return ChannelPlan(
            cond.false("WaitingForBootstrap", "waiting for the server's first boot to finish (health check)")
        )
    desired = inp.spec.openclaw_version or inp.default_openclaw_version
    running = inp.status.openclaw_version
    record = inp.status.version_update
    version, held = desired, None
    if _needs_admission(running, desired, record):
        assert running is not None
        gate = rollout.admit(
            inp.policy,
            inp.fleet,
            to_version=desired,
            default_version=inp.default_openclaw_version,
            follows_default=inp.spec.openclaw_version is None,
        )
        if gate.admitted:
            return _admit(inp, running, desired)
        version, held = running, gate  # the rest of the spec goes ahead with the version it runs
    updating = running not in (None, version)
    wanted = _hash(inp.spec, server.id, version)
    steps: list[Step] = []
    reconcile = inp.annotations.get(api.RECONCILE_REQUESTED_AT)
    repush = reconcile is not None and reconcile != inp.status.last_handled_reconcile_at
    record_now = _record_now(record, desired, running, inp.now)
    if wanted != inp.status.applied_config_hash or repush:
        message = f"bringing the running server to the spec ({wanted})"
        applied = StatusDelta(applied_config_hash=wanted, openclaw_version=version)
        if updating:
            message = f"updating OpenClaw {running} to {version} and applying the spec"
            applied = applied.then(_updated(record, inp.now))
        steps.append(
            ApplyServerConfig(
                server_id=server.id,
                address=server.ipv4,
                desired_hash=wanted,
                openclaw_version=version,
                reason="UpdatingOpenClaw" if updating else "ApplyingConfig",
                message=message,
                on_success=applied,
            )
        )
        verdict = cond.false("Applying", message)
    else:
        verdict = cond.true("Applied", f"the running server follows the spec ({wanted})")
    for annotation, handled, step, reason, message in DAY2_REQUESTS:
        value = inp.annotations.get(annotation)
        if value and value != getattr(inp.status, handled):
            done = StatusDelta(**{handled: value})  # recorded once the agent answered
            where: dict[str, Any] = {"server_id": server.id, "address": server.ipv4}
            steps.append(step(**where, reason=reason, message=message, on_success=done))
    if held is None:
        return ChannelPlan(verdict, steps=tuple(steps), updates=record_now)
    before = inp.status.condition(api.ConditionType.CONFIG_APPLIED)
    news = before is None or before.reason != held.reason  # one Event per wait, not one per pass
    notes = (Note("Normal", held.reason, held.message),) if news else ()
    return ChannelPlan(cond.false(held.reason, held.message), tuple(steps), updates=record_now, notes=notes)


def _needs_admission(running: str | None, desired: str, record: api.VersionUpdate | None) -> bool:
    """A version change that the rollout has not admitted yet (a first contact installs nothing)."""
    if running in (None, desired):
        return False
    admitted = record is not None and record.state == UpdateState.UPDATING and record.to_version == desired
    return not admitted


def _admit(inp: ChannelInputs, running: str, version: str) -> ChannelPlan:
    """Record the update before the agent is asked (the push is the next pass): counted from status, an
    update in flight survives an operator restart, and the count never lags behind the agents' work."""
    start = api.VersionUpdate(
        from_version=running,
        to_version=version,
        state=UpdateState.UPDATING,
        started_at=inp.now or api.now(),
    )
    message = f"the update of OpenClaw {running} to {version} is admitted"
    return ChannelPlan(
        cond.false("UpdateAdmitted", message),
        updates=StatusDelta(version_update=start),
        requeue=0.0,
        notes=(Note("Normal", "UpdateAdmitted", message),),
    )


def _updated(record: api.VersionUpdate | None, now: datetime | None) -> StatusDelta:
    """The admitted update, once the agent answered that the server runs the new version."""
    if record is None:  # not reached: an update is pushed only once its record is written
        return NO_CHANGE
    finished = {"state": UpdateState.UPDATED, "finished_at": now or api.now()}
    return StatusDelta(version_update=record.model_copy(update=finished))


def _record_now(
    record: api.VersionUpdate | None, desired: str, running: str | None, now: datetime | None
) -> StatusDelta:
    """The version record's changes that need no push: an admitted update whose version the server
    already runs is done (its push answered, the record's write was lost); one for a version the
    instance no longer wants is void, and a Failed one is fixed that way (it stops counting)."""
    if record is None or record.state == UpdateState.UPDATED:
        return NO_CHANGE
    if record.to_version != desired:
        return StatusDelta(version_update=None)
    if record.state == UpdateState.UPDATING and running == desired:
        return _updated(record, now)
    return NO_CHANGE


def doctor_report(answer: Mapping[str, Any], ran_at: datetime) -> api.DoctorReport:
    """The agent's doctor answer as status.doctor (the agent already masked and bounded it)."""
    given = [
        api.DoctorFinding.model_validate(finding)
        for finding in answer.get("findings", [])
        if isinstance(finding, Mapping)
    ]
    findings = tuple(given[: api.MAX_DOCTOR_FINDINGS])
    omitted = int(answer.get("omitted") or 0) + len(given) - len(findings)
    return api.DoctorReport(
        ran_at=ran_at,
        clean=not findings and not omitted,
        checks_run=int(answer.get("checksRun") or 0),
        findings=findings,
        omitted=omitted,
    )


def doctor_verdict(status: api.InstanceStatus) -> Verdict | None:
    """DoctorClean from the last doctor run; no condition before the first. Advisory: Ready ignores it."""
    report = status.doctor
    if report is None:
        return None
    if report.clean:
        return cond.true("Clean", f"OpenClaw's doctor found nothing ({report.checks_run} checks)")
    count = len(report.findings) + report.omitted
    first = report.findings[0] if report.findings else None
    detail = f": [{first.severity}] {first.check_id}: {first.message}" if first is not None else ""
    return cond.false("Findings", f"OpenClaw's doctor reported {count} finding(s){detail}")


def _applied_or(inp: ChannelInputs, server: ServerObservation | None, reason: str, message: str) -> Verdict:
    """While nothing can be pushed, the condition still says whether the last push matches the spec."""
    applied = inp.status.applied_config_hash
    if server is not None and applied == desired_hash(inp.spec, server.id, inp.default_openclaw_version):
        return cond.true("Applied", f"the server follows the spec ({applied})")
    return cond.false(reason, message)

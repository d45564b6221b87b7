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
from dataclasses import dataclass

from openclaw_operator import api
from openclaw_operator.bootstrap.app_files import owned_paths_in
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    ApplyServerConfig,
    AppObservation,
    ApproveDevices,
    ServerObservation,
    ServerStatus,
    StatusDelta,
    Step,
)

HASH_FORMAT = 1  # bump when what the hash covers changes: every server is then pushed once


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


@dataclass(frozen=True)
class ChannelPlan:
    verdict: Verdict
    steps: tuple[Step, ...] = ()
    stall: Verdict | None = None
    updates: StatusDelta = NO_CHANGE


def desired_hash(spec: api.InstanceSpec, server_id: int, default_openclaw_version: str) -> str:
    inputs = {
        "format": HASH_FORMAT,
        "serverId": server_id,
        "hostname": spec.hostname,
        "sshKeys": list(spec.ssh_keys),
        "gatewayTokenSecretRef": spec.gateway_token_secret_ref.to_api(),
        "config": spec.config or {},
        "env": [variable.to_api() for variable in spec.env],
        "openclawVersion": spec.openclaw_version or default_openclaw_version,
    }
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
    wanted = desired_hash(inp.spec, server.id, inp.default_openclaw_version)
    version = inp.spec.openclaw_version or inp.default_openclaw_version
    steps: list[Step] = []
    reconcile = inp.annotations.get(api.RECONCILE_REQUESTED_AT)
    repush = reconcile is not None and reconcile != inp.status.last_handled_reconcile_at
    if wanted != inp.status.applied_config_hash or repush:
        updating = inp.status.openclaw_version not in (None, version)
        message = f"bringing the running server to the spec ({wanted})"
        if updating:
            message = f"updating OpenClaw {inp.status.openclaw_version} to {version} and applying the spec"
        steps.append(
            ApplyServerConfig(
                server_id=server.id,
                address=server.ipv4,
                desired_hash=wanted,
                openclaw_version=version,
                reason="UpdatingOpenClaw" if updating else "ApplyingConfig",
                message=message,
                on_success=StatusDelta(applied_config_hash=wanted, openclaw_version=version),
            )
        )
        verdict = cond.false("Applying", message)
    else:
        verdict = cond.true("Applied", f"the running server follows the spec ({wanted})")
    approve = inp.annotations.get(api.APPROVE_DEVICES_REQUESTED_AT)
    if approve and approve != inp.status.last_handled_approve_devices_at:
        steps.append(
            ApproveDevices(
                server_id=server.id,
                address=server.ipv4,
                reason="ApprovingDevices",
                message="approving the gateway's pending device pairing requests",
                on_success=StatusDelta(last_handled_approve_devices_at=approve),
            )
        )
    return ChannelPlan(verdict, steps=tuple(steps))


def _applied_or(inp: ChannelInputs, server: ServerObservation | None, reason: str, message: str) -> Verdict:
    """While nothing can be pushed, the condition still says whether the last push matches the spec."""
    applied = inp.status.applied_config_hash
    if server is not None and applied == desired_hash(inp.spec, server.id, inp.default_openclaw_version):
        return cond.true("Applied", f"the server follows the spec ({applied})")
    return cond.false(reason, message)

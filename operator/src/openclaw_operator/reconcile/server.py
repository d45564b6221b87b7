"""What to do with the Hetzner server next: one pure decision per pass, at most one action at a time.

Hetzner locks a server while one of its actions runs, so the plan never starts a second action; it
records the running one in status.action and the next pass observes its outcome instead of waiting.

Resizes keep the disk (`upgrade_disk=False`): the customer gets the new CPU and memory, and a later
downgrade back to the original type stays possible. A type whose disk is smaller than the server's, or
of another CPU architecture, can never be applied, so it stalls instead of shutting the server down.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from openclaw_operator import api
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    ActionObservation,
    ActionStatus,
    Note,
    ServerObservation,
    ServerStatus,
    ServerTypeInfo,
    Step,
    StepKind,
)

UNKNOWN_TYPE = ServerTypeInfo(name="", disk_gb=0, architecture="")  # Hetzner has no type of that name
TRANSITIONAL = frozenset(
    {
        ServerStatus.INITIALIZING,
        ServerStatus.STARTING,
        ServerStatus.STOPPING,
        ServerStatus.REBUILDING,
        ServerStatus.MIGRATING,
        ServerStatus.DELETING,
        ServerStatus.UNKNOWN,
    }
)


@dataclass(frozen=True)
class ServerInputs:
    uid: str
    name: str  # deterministic server name
    labels: dict[str, str]
    spec: api.InstanceSpec
    annotations: dict[str, str]
    status: api.InstanceStatus
    server: ServerObservation | None
    action: ActionObservation | None
    desired_type: ServerTypeInfo | None
    now: datetime
    shutdown_timeout: float
    poll: float


@dataclass(frozen=True)
class ServerPlan:
    verdict: Verdict
    steps: tuple[Step, ...] = ()
    stall: Verdict | None = None
    requeue: float | None = None
    updates: dict[str, Any] = field(default_factory=dict)
    notes: tuple[Note, ...] = ()
    provisioning: bool = False


def needs_fresh_server(status: api.InstanceStatus, server: ServerObservation | None) -> bool:
    """While the server is between states we look at it on every pass; otherwise the shared list suffices."""
    if server is None:
        return False
    waiting_for_off = status.shutdown_started_at is not None and server.status != ServerStatus.OFF
    return waiting_for_off or server.status in TRANSITIONAL


def plan_server(inp: ServerInputs) -> ServerPlan:
    if inp.status.action is None:
        return _plan_without_action(inp)
    following = _follow_action(inp)
    if following is not None:
        return following
    plan = _plan_without_action(replace(inp, status=inp.status.model_copy(update={"action": None})))
    return replace(plan, updates={"action": None, **plan.updates})


def _follow_action(inp: ServerInputs) -> ServerPlan | None:
    """A plan while the recorded action runs, or None once it is over and planning may go on."""
    recorded = inp.status.action
    assert recorded is not None
    action = inp.action
    if action is None or action.status == ActionStatus.RUNNING:
        return ServerPlan(
            verdict=cond.false(
                "ActionInProgress", f"waiting for Hetzner action {recorded.command} ({recorded.id})"
            ),
            requeue=inp.poll,
            provisioning=recorded.command == "create_server",
        )
    if action.status == ActionStatus.ERROR:
        message = (
            f"Hetzner action {action.command} ({action.id}) failed: {action.error_message or 'no reason'}"
        )
        return ServerPlan(
            verdict=cond.false("ActionFailed", message),
            updates={"action": None},
            notes=(Note("Warning", "ActionFailed", message),),
            requeue=max(inp.poll, 10.0),
        )
    return None


def _plan_without_action(inp: ServerInputs) -> ServerPlan:
    server, spec, status = inp.server, inp.spec, inp.status
    if server is None:
        return _create(inp)
    updates = _observed_fields(server)
    if server.status in TRANSITIONAL and not (
        server.status == ServerStatus.STOPPING and status.shutdown_started_at is not None
    ):
        return ServerPlan(
            verdict=cond.false("ServerTransitioning", f"server {server.name} is {server.status}"),
            requeue=inp.poll,
            updates=updates,
            provisioning=server.status in (ServerStatus.INITIALIZING, ServerStatus.STARTING),
        )
    reinstall = inp.annotations.get(api.REINSTALL_REQUESTED_AT)
    if reinstall and reinstall != status.last_handled_reinstall_at:
        return _reinstall(inp, server, reinstall, updates)
    if not (server.delete_protected and server.rebuild_protected):
        return _one(
            inp, Step(StepKind.PROTECT, "Protecting", "enabling delete and rebuild protection"), updates
        )
    missing = {k: v for k, v in inp.labels.items() if server.labels.get(k) != v}
    if missing:
        labels = {**server.labels, **inp.labels}
        step = Step(StepKind.SET_LABELS, "Labelling", "restoring the server's owner labels", labels=labels)
        return _one(inp, step, updates)
    if server.server_type != spec.server_type:
        return _resize(inp, server, updates)
    if spec.suspended:
        return _suspend(inp, server, updates)
    if server.status == ServerStatus.OFF:
        drift = status.shutdown_started_at is None
        message = "server was found powered off; powering it on" if drift else "powering the server on"
        step = Step(StepKind.POWER_ON, "PoweringOn", message, drift=drift)
        return _one(inp, step, {**updates, "shutdown_started_at": None})
    updates["shutdown_started_at"] = None
    reboot = inp.annotations.get(api.REBOOT_REQUESTED_AT)
    if reboot and reboot != status.last_handled_reboot_at:
        step = Step(
            StepKind.REBOOT, "Rebooting", "reboot requested", on_success={"last_handled_reboot_at": reboot}
        )
        return _one(inp, step, updates)
    if spec.backups != server.backups:
        kind = StepKind.ENABLE_BACKUP if spec.backups else StepKind.DISABLE_BACKUP
        verb = "enabling" if spec.backups else "disabling"
        return _one(inp, Step(kind, "Backups", f"{verb} Hetzner backups"), updates)
    return ServerPlan(verdict=cond.true("Running", f"server {server.name} is running"), updates=updates)


def _observed_fields(server: ServerObservation) -> dict[str, Any]:
    return {
        "server_id": server.id,
        "server_name": server.name,
        "server_type": server.server_type,
        "ipv4": server.ipv4,
        "ipv6": server.ipv6,
    }


def _one(inp: ServerInputs, step: Step, updates: dict[str, Any]) -> ServerPlan:
    server_id = inp.server.id if inp.server is not None else None
    step = replace(step, server_id=server_id)
    return ServerPlan(
        verdict=cond.false(step.reason, step.message), steps=(step,), updates=updates, requeue=inp.poll
    )


def _create(inp: ServerInputs) -> ServerPlan:
    lost = inp.status.server_id
    notes: tuple[Note, ...] = ()
    message = f"creating server {inp.name}"
    if lost is not None:
        message = f"server {lost} no longer exists; creating a new one named {inp.name}"
        notes = (Note("Warning", "ServerRecreated", message),)
    step = Step(StepKind.CREATE_SERVER, "Creating", message, labels=inp.labels, drift=lost is not None)
    cleared = {"server_id": None, "ipv4": None, "ipv6": None, "shutdown_started_at": None}
    return ServerPlan(
        verdict=cond.false("Creating", message),
        steps=(step,),
        updates=cleared,
        notes=notes,
        requeue=inp.poll,
        provisioning=True,
    )


def _reinstall(
    inp: ServerInputs, server: ServerObservation, value: str, updates: dict[str, Any]
) -> ServerPlan:
    if server.rebuild_protected:
        # Hetzner refuses to rebuild a protected server; protection comes back on after the rebuild.
        step = Step(StepKind.UNPROTECT, "Reinstalling", "lifting rebuild protection for the reinstall")
        return _one(inp, step, updates)
    step = Step(
        StepKind.REBUILD,
        "Reinstalling",
        "reinstall requested: rebuilding the server with fresh user-data",
        on_success={"last_handled_reinstall_at": value},
    )
    return _one(inp, step, updates)


def _resize(inp: ServerInputs, server: ServerObservation, updates: dict[str, Any]) -> ServerPlan:
    wanted = inp.spec.server_type
    target = inp.desired_type
    if target is None:
        return ServerPlan(
            verdict=cond.false("Resizing", f"looking up server type {wanted}"),
            requeue=inp.poll,
            updates=updates,
        )
    problem = resize_problem(server, target, wanted)
    if problem is not None:
        return ServerPlan(verdict=cond.false(problem.reason, problem.message), stall=problem, updates=updates)
    if server.status != ServerStatus.OFF:
        return _shut_down(inp, server, updates, why=f"resize from {server.server_type} to {wanted}")
    step = Step(
        StepKind.CHANGE_TYPE,
        "Resizing",
        f"changing server type from {server.server_type} to {wanted} (disk kept)",
        server_type=wanted,
    )
    return _one(inp, step, updates)


def resize_problem(server: ServerObservation, target: ServerTypeInfo, wanted: str) -> Verdict | None:
    if target == UNKNOWN_TYPE:
        return cond.true("UnknownServerType", f"Hetzner has no server type named {wanted}")
    if server.architecture and target.architecture and server.architecture != target.architecture:
        return cond.true(
            "IncompatibleServerType",
            f"cannot resize from {server.server_type} ({server.architecture}) to {wanted} "
            f"({target.architecture}): Hetzner cannot change a server's CPU architecture",
        )
    if server.disk_gb is not None and target.disk_gb < server.disk_gb:
        return cond.true(
            "DiskDowngrade",
            f"cannot resize to {wanted}: its {target.disk_gb} GB disk is smaller than the server's "
            f"{server.disk_gb} GB disk and Hetzner cannot shrink disks; choose a type with at least "
            f"{server.disk_gb} GB",
        )
    return None


def _suspend(inp: ServerInputs, server: ServerObservation, updates: dict[str, Any]) -> ServerPlan:
    if server.status == ServerStatus.OFF:
        reboot = inp.annotations.get(api.REBOOT_REQUESTED_AT)
        notes: tuple[Note, ...] = ()
        if reboot and reboot != inp.status.last_handled_reboot_at:
            # Rebooting a suspended server would bring it back up; the request is recorded, not acted on.
            updates = {**updates, "last_handled_reboot_at": reboot}
            notes = (Note("Normal", "RebootSkipped", "reboot requested while suspended: nothing to do"),)
        return ServerPlan(
            verdict=cond.true("Suspended", f"server {server.name} is powered off (suspended)"),
            updates={**updates, "shutdown_started_at": None},
            notes=notes,
        )
    return _shut_down(inp, server, updates, why="suspend")


def _shut_down(inp: ServerInputs, server: ServerObservation, updates: dict[str, Any], why: str) -> ServerPlan:
    started = inp.status.shutdown_started_at
    if started is None:
        step = Step(
            StepKind.SHUTDOWN,
            "ShuttingDown",
            f"shutting the server down gracefully ({why})",
            on_success={"shutdown_started_at": inp.now},
        )
        return _one(inp, step, updates)
    waited = (inp.now - started).total_seconds()
    if waited >= inp.shutdown_timeout:
        message = f"server did not shut down within {inp.shutdown_timeout:g}s; powering it off ({why})"
        return _one(inp, Step(StepKind.POWER_OFF, "PoweringOff", message), updates)
    return ServerPlan(
        verdict=cond.false("ShuttingDown", f"waiting for the server to shut down ({why})"),
        requeue=min(inp.poll, max(inp.shutdown_timeout - waited, 0.1)),
        updates=updates,
    )

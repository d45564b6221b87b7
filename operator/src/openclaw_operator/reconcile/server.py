"""What to do with the Hetzner server next: one pure decision per pass, at most one action at a time.

Hetzner locks a server while one of its actions runs, so the plan never starts a second action; it
records the running one in status.action and the next pass observes its outcome instead of waiting.

Resizes keep the disk (`upgrade_disk=False`): the customer gets the new CPU and memory, and a later
downgrade back to the original type stays possible. A type whose disk is smaller than the server's, or
of another CPU architecture, can never be applied, so it stalls instead of shutting the server down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from openclaw_operator import api
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile import golden, hibernate
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    UNKNOWN_TYPE,
    ActionObservation,
    ActionStatus,
    ClaimPoolServer,
    CreateServer,
    Note,
    RebuildServer,
    ServerAction,
    ServerCommand,
    ServerObservation,
    ServerStatus,
    ServerTypeInfo,
    SetServerLabels,
    SnapshotObservation,
    StatusDelta,
    Step,
    change_protection,
)
from openclaw_operator.reconcile.placement import location_candidates

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


# What status forgets when the instance gets a new server (created or claimed from the pool): a new
# server has a new host key and none of what the channel applied to the old one.
_NEW_SERVER = StatusDelta(
    server_id=None,
    ipv4=None,
    ipv6=None,
    shutdown_started_at=None,
    applied_config_hash=None,
    channel_host_key=None,
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
    snapshots: tuple[SnapshotObservation, ...] = ()  # this instance's (hibernation)
    golden_images: tuple[SnapshotObservation, ...] = ()  # the project's golden snapshots
    golden_inputs: golden.GoldenInputs | None = None  # what a new server would install; None: golden off
    # Ready warm-pool servers of its location, type and golden inputs (reconcile/pool.py), oldest first.
    pool_candidates: tuple[int, ...] = ()
    # Why a suspension's shutdown waits (its Suspend backup, reconcile/backup.py), or None.
    hold_shutdown: str | None = None

    def hibernation(self) -> hibernate.HibernationInputs:
        return hibernate.HibernationInputs(self.name, self.labels, self.spec, self.status, self.snapshots)


@dataclass(frozen=True)
class ServerPlan:
    verdict: Verdict
    steps: tuple[Step, ...] = ()
    stall: Verdict | None = None
    requeue: float | None = None
    updates: StatusDelta = NO_CHANGE
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
    cleared = StatusDelta(action=None)
    plan = _plan_without_action(replace(inp, status=cleared.applied_to(inp.status)))
    return replace(plan, updates=cleared.then(plan.updates))


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
            updates=StatusDelta(action=None),
            notes=(Note("Warning", "ActionFailed", message),),
            requeue=max(inp.poll, 10.0),
        )
    return None


def _plan_without_action(inp: ServerInputs) -> ServerPlan:
    server, spec, status = inp.server, inp.spec, inp.status
    if server is None:
        move = hibernate.without_server(inp.hibernation())
        if move is not None:
            return _moved(inp, move, NO_CHANGE)
        plan = _create(inp)
        return replace(plan, notes=plan.notes + hibernate.lost_snapshot_notes(inp.hibernation()))
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
    move = hibernate.with_server(inp.hibernation(), server)
    if move is not None:
        return _moved(inp, move, updates)
    reinstall = inp.annotations.get(api.REINSTALL_REQUESTED_AT)
    if reinstall and reinstall != status.last_handled_reinstall_at:
        return _reinstall(inp, server, reinstall, updates)
    if not (server.delete_protected and server.rebuild_protected):
        step = change_protection(server.id, True, "Protecting", "enabling delete and rebuild protection")
        return _one(inp, step, updates)
    missing = {k: v for k, v in inp.labels.items() if server.labels.get(k) != v}
    if missing:
        labels = {**server.labels, **inp.labels}
        message = "restoring the server's owner labels"
        return _one(
            inp,
            SetServerLabels(server_id=server.id, labels=labels, reason="Labelling", message=message),
            updates,
        )
    if server.server_type != spec.server_type:
        return _resize(inp, server, updates)
    if spec.suspended:
        return _suspend(inp, server, updates)
    if server.status == ServerStatus.OFF:
        drift = status.shutdown_started_at is None
        message = "server was found powered off; powering it on" if drift else "powering the server on"
        step = ServerAction(
            server_id=server.id, command="poweron", reason="PoweringOn", message=message, drift=drift
        )
        return _one(inp, step, updates.then(StatusDelta(shutdown_started_at=None)))
    updates = updates.then(StatusDelta(shutdown_started_at=None))
    reboot = inp.annotations.get(api.REBOOT_REQUESTED_AT)
    if reboot and reboot != status.last_handled_reboot_at:
        step = ServerAction(
            server_id=server.id,
            command="reboot",
            reason="Rebooting",
            message="reboot requested",
            on_success=StatusDelta(last_handled_reboot_at=reboot),
        )
        return _one(inp, step, updates)
    if spec.backups != server.backups:
        command: ServerCommand = "enable_backup" if spec.backups else "disable_backup"
        verb = "enabling" if spec.backups else "disabling"
        step = ServerAction(
            server_id=server.id, command=command, reason="Backups", message=f"{verb} Hetzner backups"
        )
        return _one(inp, step, updates)
    return ServerPlan(verdict=cond.true("Running", f"server {server.name} is running"), updates=updates)


def _observed_fields(server: ServerObservation) -> StatusDelta:
    # No location here: the create records it (a server never moves), and an instance from before it was
    # recorded lives in spec.location; filling it in would patch every such instance's status at once.
    return StatusDelta(
        server_id=server.id,
        server_name=server.name,
        server_type=server.server_type,
        ipv4=server.ipv4,
        ipv6=server.ipv6,
    )


def _moved(inp: ServerInputs, move: hibernate.Move, updates: StatusDelta) -> ServerPlan:
    if move.shut_down:
        assert inp.server is not None
        return _shut_down(inp, inp.server, updates, why="hibernate")
    return ServerPlan(
        verdict=move.verdict,
        steps=move.steps,
        updates=updates.then(move.updates),
        notes=move.notes,
        requeue=inp.poll if move.steps or move.wait else None,
        provisioning=move.provisioning,
    )


def _one(inp: ServerInputs, step: Step, updates: StatusDelta) -> ServerPlan:
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
    spec = inp.spec
    if inp.pool_candidates and inp.golden_inputs is not None:
        return _claim(inp, notes)
    # A recorded location is where the instance lives: a recreated server goes back there, no fallback.
    recorded = inp.status.location
    location = recorded or spec.location.value
    fallbacks = () if recorded else location_candidates(location, spec.location_policy)[1:]
    # A golden snapshot of exactly what the full install would put there skips the install; without
    # one the server installs everything (the fallback is always there).
    chosen = golden.choose(inp.golden_images, inp.golden_inputs, inp.desired_type)
    if chosen is not None:
        message += f" from golden snapshot {chosen.id}"
        boot_image = api.BootImage(kind=api.BootImageKind.GOLDEN, id=str(chosen.id))
    else:
        boot_image = api.BootImage(kind=api.BootImageKind.BASE, id=spec.image.value)
    step = CreateServer(
        name=inp.name,
        server_type=spec.server_type,
        image=spec.image.value,
        location=location,
        fallback_locations=fallbacks,
        labels=inp.labels,
        golden_snapshot=chosen.id if chosen is not None else None,
        reason="Creating",
        message=message,
        drift=lost is not None,
        on_success=StatusDelta(boot_image=boot_image),
    )
    return ServerPlan(
        verdict=cond.false("Creating", message),
        steps=(step,),
        updates=_NEW_SERVER,
        notes=notes,
        requeue=inp.poll,
        provisioning=True,
    )


def _claim(inp: ServerInputs, notes: tuple[Note, ...]) -> ServerPlan:
    """A ready pool server skips the create and the boot: it is relabelled as this instance's server and
    personalised through the channel (the actuator records it in status, status.bootImage kind Pool)."""
    assert inp.golden_inputs is not None
    message = f"claiming a warm-pool server as {inp.name}"
    step = ClaimPoolServer(
        candidates=inp.pool_candidates,
        name=inp.name,
        labels=inp.labels,
        inputs_hash=inp.golden_inputs.inputs_hash,
        reason="ClaimingPoolServer",
        message=message,
    )
    return ServerPlan(
        verdict=cond.false("ClaimingPoolServer", message),
        steps=(step,),
        updates=_NEW_SERVER,
        notes=notes,
        requeue=inp.poll,
        provisioning=True,
    )


def _reinstall(inp: ServerInputs, server: ServerObservation, value: str, updates: StatusDelta) -> ServerPlan:
    if server.rebuild_protected:
        # Hetzner refuses to rebuild a protected server; protection comes back on after the rebuild.
        message = "lifting rebuild protection for the reinstall"
        return _one(inp, change_protection(server.id, False, "Reinstalling", message), updates)
    step = RebuildServer(
        server_id=server.id,
        image=inp.spec.image.value,
        reason="Reinstalling",
        message="reinstall requested: rebuilding the server with fresh user-data",
        # Fresh user-data and a fresh host key: the channel pins the new key and applies the spec again.
        on_success=StatusDelta(
            last_handled_reinstall_at=value, applied_config_hash=None, channel_host_key=None
        ),
    )
    return _one(inp, step, updates)


def _resize(inp: ServerInputs, server: ServerObservation, updates: StatusDelta) -> ServerPlan:
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
    step = ServerAction(
        server_id=server.id,
        command="change_type",
        # upgrade_disk=False keeps the disk size, so the customer can always resize back down.
        payload={"server_type": wanted, "upgrade_disk": False},
        reason="Resizing",
        message=f"changing server type from {server.server_type} to {wanted} (disk kept)",
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


def _suspend(inp: ServerInputs, server: ServerObservation, updates: StatusDelta) -> ServerPlan:
    if server.status == ServerStatus.OFF:
        reboot = inp.annotations.get(api.REBOOT_REQUESTED_AT)
        notes: tuple[Note, ...] = ()
        if reboot and reboot != inp.status.last_handled_reboot_at:
            # Rebooting a suspended server would bring it back up; the request is recorded, not acted on.
            updates = updates.then(StatusDelta(last_handled_reboot_at=reboot))
            notes = (Note("Normal", "RebootSkipped", "reboot requested while suspended: nothing to do"),)
        return ServerPlan(
            verdict=cond.true("PoweredOff", f"server {server.name} is powered off (suspended)"),
            updates=updates.then(StatusDelta(shutdown_started_at=None)),
            notes=notes,
        )
    return _shut_down(inp, server, updates, why="suspend")


def _shut_down(inp: ServerInputs, server: ServerObservation, updates: StatusDelta, why: str) -> ServerPlan:
    started = inp.status.shutdown_started_at
    if started is None and inp.hold_shutdown is not None and why in ("suspend", "hibernate"):
        return ServerPlan(verdict=cond.false("BackingUp", f"{why}: {inp.hold_shutdown}"), updates=updates)
    if started is None:
        step = ServerAction(
            server_id=server.id,
            command="shutdown",
            reason="ShuttingDown",
            message=f"shutting the server down gracefully ({why})",
            on_success=StatusDelta(shutdown_started_at=inp.now),
        )
        return _one(inp, step, updates)
    waited = (inp.now - started).total_seconds()
    if waited >= inp.shutdown_timeout:
        message = f"server did not shut down within {inp.shutdown_timeout:g}s; powering it off ({why})"
        step = ServerAction(server_id=server.id, command="poweroff", reason="PoweringOff", message=message)
        return _one(inp, step, updates)
    return ServerPlan(
        verdict=cond.false("ShuttingDown", f"waiting for the server to shut down ({why})"),
        requeue=min(inp.poll, max(inp.shutdown_timeout - waited, 0.1)),
        updates=updates,
    )

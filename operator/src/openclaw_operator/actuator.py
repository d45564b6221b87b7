"""Carries out the steps the planners decide: one provider write per step, and what status learns from it.

Everything a write needs is in its step, except the user data of a create or rebuild: only here is the
gateway token Secret read and rendered, so no planner ever holds a token. A create whose deterministic
name is taken is our own server from before a crash (adopted) or someone else's (never touched: Stalled).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from openclaw_operator import api, metrics
from openclaw_operator.bootstrap.firewall import managed_firewall_rules
from openclaw_operator.bootstrap.render import BootstrapInputError, render_user_data
from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.bootstrap.versions import UnsafeVersionError
from openclaw_operator.config import Config
from openclaw_operator.kube import KubeClient, SecretUnavailable
from openclaw_operator.observe import Observer
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    CreateServer,
    CreateSnapshot,
    DeleteRecord,
    DeleteServer,
    DeleteSnapshot,
    Note,
    RebuildServer,
    RecordObservation,
    ServerAction,
    SetServerLabels,
    SetSnapshotLabels,
    StatusDelta,
    Step,
    WriteRecord,
    step_name,
)

PostEvent = Callable[[api.OpenClawInstance, Note], None]


class Actuator:
    def __init__(
        self,
        config: Config,
        observer: Observer,
        hetzner: HetznerProvider,
        cloudflare: CloudflareProvider,
        kube: Callable[[], KubeClient],
        post: PostEvent,
    ) -> None:
        self.config = config
        self.observer = observer
        self.hetzner = hetzner
        self.cloudflare = cloudflare
        self._kube = kube
        self._post = post
        self.bootstrap = BootstrapSettings(
            default_openclaw_version=config.default_openclaw_version,
            min_openclaw_version=config.min_openclaw_version,
        )
        self._firewall_ready = False
        self._firewall_lock = asyncio.Lock()  # one creating pass ensures it; the others wait for it

    async def apply(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: Step
    ) -> api.InstanceStatus:
        """Carry out one step; the status with what the step recorded and what the provider answered."""
        learned = await self._carry_out(instance, step)
        self._post(instance, Note("Normal", step.reason, step.message))
        if step.drift:
            metrics.DRIFT_REPAIRS.labels(step_name(step)).inc()
        return step.on_success.then(learned).applied_to(status)

    async def _carry_out(self, instance: api.OpenClawInstance, step: Step) -> StatusDelta:
        match step:
            case CreateServer():
                return await self._create_server(instance, step)
            case RebuildServer(server_id=server_id, image=image):
                payload = {"image": image, "user_data": await self._user_data(instance)}
                return await self._server_action(server_id, "rebuild", payload)
            case ServerAction(server_id=server_id, command=command, payload=payload):
                return await self._server_action(server_id, command, payload)
            case DeleteServer(server_id=server_id):
                action_id = await self.hetzner.delete_server(server_id)
                return NO_CHANGE if action_id is None else self._action_started(action_id, "delete_server")
            case SetServerLabels(server_id=server_id, labels=labels):
                self.observer.server_seen(await self.hetzner.set_labels(server_id, labels))
                return NO_CHANGE
            case WriteRecord(record=record):
                await self._write_record(record)
                return NO_CHANGE
            case DeleteRecord(record=record):
                await self.cloudflare.delete_record(record)
                self.observer.record_gone(record)
                return NO_CHANGE
            case CreateSnapshot(server_id=server_id, description=description, labels=labels):
                snapshot, action_id = await self.hetzner.create_snapshot(server_id, description, labels)
                self.observer.snapshot_seen(snapshot)
                return self._action_started(action_id, "create_image")
            case DeleteSnapshot(snapshot_id=snapshot_id):
                await self.hetzner.delete_snapshot(snapshot_id)
                self.observer.snapshot_gone(snapshot_id)
                return NO_CHANGE
            case SetSnapshotLabels(snapshot_id=snapshot_id, labels=labels):
                self.observer.snapshot_seen(await self.hetzner.set_snapshot_labels(snapshot_id, labels))
                return NO_CHANGE

    async def _write_record(self, record: RecordObservation) -> None:
        try:
            if record.id:
                written = await self.cloudflare.update_record(record)
            else:
                written = await self.cloudflare.create_record(record)
        except Failure as exc:
            if exc.kind not in (FailureKind.ALREADY_EXISTS, FailureKind.NOT_FOUND):
                raise
            await self.observer.refresh()  # someone else's write raced ours: look again, decide again
            return
        self.observer.record_written(written)

    def _action_started(self, action_id: int, command: str) -> StatusDelta:
        self.observer.action_started(action_id, command)
        return StatusDelta(action=api.ActionInProgress(id=action_id, command=command, started_at=api.now()))

    async def _server_action(
        self, server_id: int, command: str, payload: dict[str, Any] | None
    ) -> StatusDelta:
        action_id = await self.hetzner.server_action(command, server_id, payload)
        return self._action_started(action_id, command)

    async def _user_data(self, instance: api.OpenClawInstance, restoring: bool = False) -> str:
        ref = instance.spec.gateway_token_secret_ref
        try:
            token = await self._kube().secret_value(instance.metadata.namespace, ref.name, ref.key)
        except SecretUnavailable as exc:
            raise Failure(FailureKind.WAITING, "GatewayTokenUnavailable", str(exc)) from None
        try:
            return render_user_data(instance, self.bootstrap, token.get_secret_value(), restoring=restoring)
        except (BootstrapInputError, UnsafeVersionError) as exc:
            message = str(exc).replace(token.get_secret_value(), "***")
            raise Failure(FailureKind.STALLED, "InvalidBootstrapInput", message, frozen=True) from None

    async def ensure_firewall(self) -> None:
        """The managed firewall exists before the first server is created (once per process)."""
        async with self._firewall_lock:
            if not self._firewall_ready:
                rules = managed_firewall_rules(list(self.config.ssh_source_ranges))
                await self.hetzner.ensure_firewall(rules)
                self._firewall_ready = True

    async def _create_server(self, instance: api.OpenClawInstance, step: CreateServer) -> StatusDelta:
        user_data = await self._user_data(instance, restoring=step.from_snapshot is not None)
        await self.ensure_firewall()
        try:
            server, action_id = await self.hetzner.create_server(
                name=step.name,
                server_type=step.server_type,
                image=step.image,
                location=step.location,
                labels=step.labels,
                user_data=user_data,
                from_snapshot=step.from_snapshot,
            )
        except Failure as exc:
            if exc.kind != FailureKind.ALREADY_EXISTS:
                raise
            return await self._adopt(instance, step.name)
        self.observer.server_seen(server)
        created = StatusDelta(server_id=server.id, server_name=server.name)
        return created.then(self._action_started(action_id, "create_server"))

    async def _adopt(self, instance: api.OpenClawInstance, name: str) -> StatusDelta:
        """The name is taken: ours from before a crash (adopt it), or someone else's (never touch it)."""
        existing = await self.hetzner.server_by_name(name)
        if existing is None:
            raise Failure(FailureKind.RETRYING, "ServerNameTaken", f"server name {name} is taken")
        if not naming.owned_by(existing.labels, instance.metadata.uid):
            owner = existing.labels.get(naming.INSTANCE_UID_LABEL, "nobody we know")
            message = (
                f"a Hetzner server named {name} (id {existing.id}) already exists and is not owned by this "
                f"instance (owner: {owner}); it is left untouched: delete or rename it, then request "
                "a reconcile"
            )
            raise Failure(FailureKind.STALLED, "ServerNameConflict", message, frozen=True)
        self.observer.server_seen(existing)
        self._post(
            instance, Note("Normal", "AdoptedServer", f"adopted existing server {name} ({existing.id})")
        )
        return StatusDelta(server_id=existing.id, server_name=existing.name)

"""Carries out the steps the planners decide: one provider write per step, and what status learns from it.

Everything a write needs is in its step, except the user data of a create or rebuild: only here is the
gateway token Secret read and rendered, so no planner ever holds a token. A create whose deterministic
name is taken is our own server from before a crash (adopted) or someone else's (never touched: Stalled).
The fleet's firewall steps come from managed_firewall.py (once per listing, no instance involved), and a
server is created only once that firewall is in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from openclaw_operator import api, metrics
from openclaw_operator.bootstrap.render import BootstrapInputError, render_user_data
from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.bootstrap.versions import UnsafeVersionError
from openclaw_operator.config import Config
from openclaw_operator.kube import KubeClient, SecretUnavailable
from openclaw_operator.managed_firewall import ManagedFirewall
from openclaw_operator.observe import Observer
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.firewall import desired_firewall
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    ApplyFirewallToSelector,
    CreateFirewall,
    CreateServer,
    DeleteRecord,
    DeleteServer,
    FirewallStep,
    Note,
    RebuildServer,
    RecordObservation,
    ServerAction,
    SetFirewallRules,
    SetServerLabels,
    StatusDelta,
    Step,
    WriteRecord,
    step_name,
)

PostEvent = Callable[[api.OpenClawInstance, Note], None]

log = logging.getLogger(__name__)


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
        # The fleet's firewall, planned after each listing; creates wait until it is in place.
        self.firewall = ManagedFirewall(
            observer, desired_firewall(config.ssh_source_ranges), self.apply_to_fleet
        )

    async def apply(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: Step
    ) -> api.InstanceStatus:
        """Carry out one step; the status with what the step recorded and what the provider answered."""
        learned = await self._carry_out(instance, step)
        self._post(instance, Note("Normal", step.reason, step.message))
        _count_repair(step)
        return step.on_success.then(learned).applied_to(status)

    async def apply_to_fleet(self, step: FirewallStep) -> None:
        """Carry out a step of the fleet's own: no instance to post an Event about, so a log line."""
        await self._write_firewall(step)
        # A repair is worth a warning: someone changed the firewall behind the operator's back.
        level = logging.WARNING if step.drift else logging.INFO
        log.log(level, "managed firewall: %s (%s)", step.message, step.reason)
        _count_repair(step)

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
            case CreateFirewall() | SetFirewallRules() | ApplyFirewallToSelector():
                await self._write_firewall(step)
                return NO_CHANGE

    async def _write_firewall(self, step: FirewallStep) -> None:
        match step:
            case CreateFirewall(name=name, labels=labels, rules=rules, selector=selector):
                created = await self.hetzner.create_firewall(
                    name=name, labels=labels, rules=rules, selector=selector
                )
                self.observer.firewall_seen(created)
            case SetFirewallRules(firewall_id=firewall_id, rules=rules):
                await self.hetzner.set_firewall_rules(firewall_id, rules)
                self.observer.firewall_changed(firewall_id, rules=rules)
            case ApplyFirewallToSelector(firewall_id=firewall_id, selector=selector):
                await self.hetzner.apply_firewall_to_selector(firewall_id, selector)
                self.observer.firewall_changed(firewall_id, selector=selector)

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

    async def _user_data(self, instance: api.OpenClawInstance) -> str:
        ref = instance.spec.gateway_token_secret_ref
        try:
            token = await self._kube().secret_value(instance.metadata.namespace, ref.name, ref.key)
        except SecretUnavailable as exc:
            raise Failure(FailureKind.WAITING, "GatewayTokenUnavailable", str(exc)) from None
        try:
            return render_user_data(instance, self.bootstrap, token.get_secret_value())
        except (BootstrapInputError, UnsafeVersionError) as exc:
            message = str(exc).replace(token.get_secret_value(), "***")
            raise Failure(FailureKind.STALLED, "InvalidBootstrapInput", message, frozen=True) from None

    async def _create_server(self, instance: api.OpenClawInstance, step: CreateServer) -> StatusDelta:
        user_data = await self._user_data(instance)
        await self.firewall.ensure_in_place()
        try:
            server, action_id = await self.hetzner.create_server(
                name=step.name,
                server_type=step.server_type,
                image=step.image,
                location=step.location,
                labels=step.labels,
                user_data=user_data,
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


def _count_repair(step: Step) -> None:
    if step.drift:
        metrics.DRIFT_REPAIRS.labels(step_name(step)).inc()

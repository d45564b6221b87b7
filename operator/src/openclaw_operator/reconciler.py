"""The I/O edge of a reconcile pass: gather observations, ask the pure planner, carry out its steps.

One pass per call, serialised per instance (Kopf runs change handlers and the drift timer concurrently).
The status a pass ends with is kept in memory, because the next pass may start before Kopf's status
patch of the previous one has come back through the watch. Nothing here imports Kopf: events go out
through the `post` callback and requeues are returned, so handlers.py owns the framework.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from openclaw_operator import api, metrics
from openclaw_operator.bootstrap.firewall import managed_firewall_rules
from openclaw_operator.bootstrap.render import BootstrapInputError, render_user_data
from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.bootstrap.versions import UnsafeVersionError
from openclaw_operator.config import Config
from openclaw_operator.kube import KubeClient, SecretUnavailable
from openclaw_operator.observe import Observer
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Kind, ProviderError
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimited
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.delete import plan_delete
from openclaw_operator.reconcile.failures import (
    Failure,
    FailureKind,
    backoff,
    is_frozen,
    status_after_failure,
)
from openclaw_operator.reconcile.instance import PlanSettings, Situation, decide
from openclaw_operator.reconcile.model import Note, ServerObservation, Step, StepKind
from openclaw_operator.reconcile.server import needs_fresh_server

log = logging.getLogger(__name__)

ACTION_COMMANDS: dict[StepKind, tuple[str, dict[str, Any] | None]] = {
    StepKind.POWER_ON: ("poweron", None),
    StepKind.SHUTDOWN: ("shutdown", None),
    StepKind.POWER_OFF: ("poweroff", None),
    StepKind.REBOOT: ("reboot", None),
    StepKind.ENABLE_BACKUP: ("enable_backup", None),
    StepKind.DISABLE_BACKUP: ("disable_backup", None),
    StepKind.PROTECT: ("change_protection", {"delete": True, "rebuild": True}),
    StepKind.UNPROTECT: ("change_protection", {"delete": False, "rebuild": False}),
}

PostEvent = Callable[[api.OpenClawInstance, Note], None]
FINALIZED_REMEMBERED = 100_000  # uids, ~10 MB at most


class StepFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass
class InstanceMemory:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    status: api.InstanceStatus | None = None
    failures: int = 0


@dataclass(frozen=True)
class PassResult:
    status: api.InstanceStatus
    requeue: float | None  # None: settled (or stalled) until something changes
    done: bool = False  # deletion: nothing is left, the finalizer may go


class Reconciler:
    def __init__(
        self,
        config: Config,
        observer: Observer,
        hetzner: HetznerProvider,
        cloudflare: CloudflareProvider,
        kube: Callable[[], KubeClient],
        post: PostEvent,
        app_health: AppHealth,
    ) -> None:
        self.config = config
        self.observer = observer
        self.hetzner = hetzner
        self.cloudflare = cloudflare
        self._kube = kube
        self._post = post
        self.app_health = app_health
        self.memory: dict[str, InstanceMemory] = {}
        # Instances whose deletion finished: a pass that was queued behind the finalizer (a timer that
        # had not stopped yet) must not create their server again. Bounded, oldest forgotten first.
        self._finalized: dict[str, None] = {}
        # Instances that vanished from the API without our finalize (their finalizer was removed by hand,
        # or the delete raced Kopf's finalizer patch): cleaned up in the background, no pass meanwhile.
        self._vanished: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._rng = random.Random()
        self._firewall_ready = False
        self._firewall_lock = asyncio.Lock()  # one creating pass ensures it; the others wait for it
        self.gauges = metrics.InstanceGauges()
        self.settings = PlanSettings(
            managed_zones=config.managed_zones,
            default_openclaw_version=config.default_openclaw_version,
            min_openclaw_version=config.min_openclaw_version,
            app_ready_check=config.app_ready_check,
            shutdown_timeout=config.shutdown_timeout_seconds,
            poll=config.action_poll_seconds,
            cluster=config.cluster_id,
        )
        self.bootstrap = BootstrapSettings(
            default_openclaw_version=config.default_openclaw_version,
            min_openclaw_version=config.min_openclaw_version,
        )

    def _memory(self, uid: str) -> InstanceMemory:
        return self.memory.setdefault(uid, InstanceMemory())

    async def close(self, grace: float) -> None:
        """Start no more passes; wait (at most `grace` seconds) for the ones in flight."""
        self._closing = True
        for task in self._vanished.values():
            task.cancel()
        locks = [memory.lock for memory in self.memory.values() if memory.lock.locked()]

        async def drained() -> None:
            for lock in locks:
                async with lock:
                    pass

        try:
            await asyncio.wait_for(drained(), grace)
        except TimeoutError:
            log.warning("%d reconcile passes still running at shutdown", sum(lk.locked() for lk in locks))

    # --- the reconcile pass --------------------------------------------------------------------------
    async def reconcile(
        self, instance: api.OpenClawInstance, trigger: str, created_at: datetime | None = None
    ) -> PassResult:
        uid = instance.metadata.uid
        if not self._may_pass(uid):
            return PassResult(instance.status, None)
        memory = self._memory(uid)
        async with memory.lock:
            if not self._may_pass(uid):  # it may have been deleted or shut down while this pass waited
                return PassResult(memory.status or instance.status, None)
            started = time.monotonic()
            if memory.status is not None:
                instance = instance.model_copy(update={"status": memory.status})
            result, outcome = await self._pass(instance, memory)
            if created_at is not None and first_ready(instance.status, result.status):
                metrics.TIME_TO_READY.observe((api.now() - created_at).total_seconds())
            memory.status = result.status
            metrics.RECONCILE_SECONDS.labels(trigger, outcome).observe(time.monotonic() - started)
            self.gauges.set(uid, result.status)
            return result

    def _may_pass(self, uid: str) -> bool:
        return not (self._closing or uid in self._finalized or uid in self._vanished)

    async def _pass(self, instance: api.OpenClawInstance, memory: InstanceMemory) -> tuple[PassResult, str]:
        if is_frozen(instance):
            return PassResult(instance.status, None), "frozen"
        self.observer.track(instance.metadata.uid, instance.spec.hostname)
        status = instance.status
        try:
            decision = decide(await self._situation(instance, memory))
            status = decision.status
            for note in decision.notes:
                self._post(instance, note)
            for step in decision.steps:
                status = await self._apply(instance, status, step)
        except (RateLimited, ProviderError, StepFailed) as exc:
            failure, delay = self._failure(exc, memory)
        except Exception as exc:  # a bug must not stop the other instances, nor leak a value in status
            log.exception("reconcile of %s/%s failed", instance.metadata.namespace, instance.metadata.name)
            memory.failures += 1
            failure = Failure(FailureKind.RETRYING, "InternalError", f"internal error ({type(exc).__name__})")
            delay = backoff(memory.failures, False, self._rng)
        else:
            memory.failures = 0
            return PassResult(status, decision.requeue), "stalled" if decision.stalled else "ok"
        kind = "Normal" if failure.kind == FailureKind.RATE_LIMITED else "Warning"
        self._post(instance, Note(kind, failure.reason, failure.message))
        status = status_after_failure(instance, status, failure, api.now())
        return PassResult(status, delay), failure.kind.value

    def _failure(self, exc: Exception, memory: InstanceMemory) -> tuple[Failure, float | None]:
        if isinstance(exc, RateLimited):
            message = f"{exc.provider} rate limit reached; retrying in {exc.delay:.0f}s"
            return Failure(FailureKind.RATE_LIMITED, "RateLimited", message), max(exc.delay, 0.5)
        if isinstance(exc, StepFailed):
            memory.failures += 1
            stalled = exc.failure.kind == FailureKind.STALLED
            return exc.failure, None if stalled else backoff(memory.failures, False, self._rng)
        assert isinstance(exc, ProviderError)
        if exc.kind == Kind.PERMANENT:
            return Failure(FailureKind.STALLED, "ProviderRejected", str(exc)), None
        if exc.kind == Kind.RATE_LIMITED:
            return Failure(FailureKind.RATE_LIMITED, "RateLimited", str(exc)), backoff(1, False, self._rng)
        memory.failures += 1
        return Failure(FailureKind.RETRYING, "ProviderRetrying", str(exc)), backoff(
            memory.failures, exc.long_backoff, self._rng
        )

    async def _situation(self, instance: api.OpenClawInstance, memory: InstanceMemory) -> Situation:
        observer, spec, status = self.observer, instance.spec, instance.status
        uid = instance.metadata.uid
        await observer.ensure_fresh()
        server = observer.server_for(uid, status.server_id)
        action = None
        if status.action is not None:
            action = await observer.action(status.action.id)
            finished = action is not None and action.status != "running"
            if finished and server is not None:
                server = await observer.fresh_server(server.id, force=True)
        elif server is not None and needs_fresh_server(status, server):
            server = await observer.fresh_server(server.id)
        desired_type = None
        if server is not None and server.server_type != spec.server_type:
            desired_type = await observer.server_type(spec.server_type)
        zone_name = naming.zone_for(spec.hostname, spec.dns.zone, self.config.managed_zones)
        app = None
        if self.config.app_ready_check and server is not None and not spec.suspended:
            app = await self.app_health.observe(instance, server)
        return Situation(
            instance=instance,
            server=server,
            action=action,
            desired_type=desired_type,
            zone=observer.zone(zone_name),
            records=observer.records_for(uid, spec.hostname),
            app=app,
            settings=self.settings,
            now=api.now(),
        )

    # --- steps ---------------------------------------------------------------------------------------
    async def _apply(
        self, instance: api.OpenClawInstance, status: api.InstanceStatus, step: Step
    ) -> api.InstanceStatus:
        updates = await self._run_step(instance, step)
        self._post(instance, Note("Normal", step.reason, step.message))
        if step.drift:
            metrics.DRIFT_REPAIRS.labels(step.kind.value).inc()
        return status.model_copy(update={**step.on_success, **updates})

    async def _run_step(self, instance: api.OpenClawInstance, step: Step) -> dict[str, Any]:
        kind = step.kind
        if kind == StepKind.CREATE_SERVER:
            return await self._create_server(instance)
        if kind in ACTION_COMMANDS or kind in (StepKind.REBUILD, StepKind.CHANGE_TYPE):
            return await self._server_action(instance, step)
        if kind == StepKind.DELETE_SERVER:
            assert step.server_id is not None
            action_id = await self.hetzner.delete_server(step.server_id)
            return self._action_started(action_id, "delete_server") if action_id is not None else {}
        if kind == StepKind.SET_LABELS:
            assert step.server_id is not None and step.labels is not None
            self.observer.server_seen(await self.hetzner.set_labels(step.server_id, step.labels))
            return {}
        assert step.record is not None
        if kind == StepKind.DELETE_RECORD:
            await self.cloudflare.delete_record(step.record)
            self.observer.record_gone(step.record)
            return {}
        try:
            if kind == StepKind.CREATE_RECORD:
                written = await self.cloudflare.create_record(step.record)
            else:
                written = await self.cloudflare.update_record(step.record)
        except ProviderError as exc:
            if exc.kind not in (Kind.ALREADY_EXISTS, Kind.NOT_FOUND):
                raise
            await self.observer.refresh()  # someone else's write raced ours: look again, decide again
            return {}
        self.observer.record_written(written)
        return {}

    def _action_started(self, action_id: int, command: str) -> dict[str, Any]:
        self.observer.action_started(action_id, command)
        return {"action": api.ActionInProgress(id=action_id, command=command, started_at=api.now())}

    async def _server_action(self, instance: api.OpenClawInstance, step: Step) -> dict[str, Any]:
        assert step.server_id is not None
        payload: dict[str, Any] | None
        if step.kind == StepKind.REBUILD:
            payload = {"image": instance.spec.image.value, "user_data": await self._user_data(instance)}
            command = "rebuild"
        elif step.kind == StepKind.CHANGE_TYPE:
            # upgrade_disk=False keeps the disk size, so the customer can always resize back down.
            payload = {"server_type": step.server_type, "upgrade_disk": False}
            command = "change_type"
        else:
            command, fixed = ACTION_COMMANDS[step.kind]
            payload = dict(fixed) if fixed else None
        action_id = await self.hetzner.server_action(command, step.server_id, payload)
        return self._action_started(action_id, command)

    async def _user_data(self, instance: api.OpenClawInstance) -> str:
        ref = instance.spec.gateway_token_secret_ref
        try:
            token = await self._kube().secret_value(instance.metadata.namespace, ref.name, ref.key)
        except SecretUnavailable as exc:
            raise StepFailed(Failure(FailureKind.WAITING, "GatewayTokenUnavailable", str(exc))) from None
        try:
            return render_user_data(instance, self.bootstrap, token.get_secret_value())
        except (BootstrapInputError, UnsafeVersionError) as exc:
            message = str(exc).replace(token.get_secret_value(), "***")
            raise StepFailed(Failure(FailureKind.STALLED, "InvalidBootstrapInput", message)) from None

    async def _ensure_firewall(self) -> None:
        async with self._firewall_lock:
            if not self._firewall_ready:
                rules = managed_firewall_rules(list(self.config.ssh_source_ranges))
                await self.hetzner.ensure_firewall(rules)
                self._firewall_ready = True

    async def _create_server(self, instance: api.OpenClawInstance) -> dict[str, Any]:
        meta, spec = instance.metadata, instance.spec
        name = naming.server_name(meta.name, meta.uid)
        user_data = await self._user_data(instance)
        await self._ensure_firewall()
        try:
            server, action_id = await self.hetzner.create_server(
                name=name,
                server_type=spec.server_type,
                image=spec.image.value,
                location=spec.location.value,
                labels=naming.owner_labels(instance, self.config.cluster_id),
                user_data=user_data,
            )
        except ProviderError as exc:
            if exc.kind != Kind.ALREADY_EXISTS:
                raise
            return await self._adopt(instance, name)
        if self.config.test_crash_after == "server-create":
            log.warning(
                "CLAWHOST_TEST_CRASH_AFTER=server-create: exiting before the status write (test only)"
            )
            os._exit(137)
        self.observer.server_seen(server)
        return {
            "server_id": server.id,
            "server_name": server.name,
            **self._action_started(action_id, "create_server"),
        }

    async def _adopt(self, instance: api.OpenClawInstance, name: str) -> dict[str, Any]:
        """The name is taken: ours from before a crash (adopt it), or someone else's (never touch it)."""
        existing: ServerObservation | None = await self.hetzner.server_by_name(name)
        if existing is None:
            raise StepFailed(Failure(FailureKind.RETRYING, "ServerNameTaken", f"server name {name} is taken"))
        if not naming.owned_by(existing.labels, instance.metadata.uid):
            owner = existing.labels.get(naming.INSTANCE_UID_LABEL, "nobody we know")
            message = (
                f"a Hetzner server named {name} (id {existing.id}) already exists and is not owned by this "
                f"instance (owner: {owner}); it is left untouched: delete or rename it, then request "
                "a reconcile"
            )
            raise StepFailed(Failure(FailureKind.STALLED, "ServerNameConflict", message))
        self.observer.server_seen(existing)
        self._post(
            instance, Note("Normal", "AdoptedServer", f"adopted existing server {name} ({existing.id})")
        )
        return {"server_id": existing.id, "server_name": existing.name}

    # --- deletion ------------------------------------------------------------------------------------
    def vanished(self, instance: api.OpenClawInstance) -> None:
        """The resource is gone from the API. If our finalize did not run to the end, clean up anyway,
        retrying in the background until nothing is left, and run no more passes for it."""
        uid = instance.metadata.uid
        if uid in self._finalized or uid in self._vanished or self._closing:
            return
        log.warning(
            "%s/%s vanished without our finalizer; cleaning up its provider resources",
            instance.metadata.namespace,
            instance.metadata.name,
        )
        self._vanished[uid] = asyncio.create_task(self._clean_up(instance), name=f"clean-up {uid}")

    async def _clean_up(self, instance: api.OpenClawInstance) -> None:
        uid = instance.metadata.uid
        try:
            while True:
                result = await self.finalize(instance)
                if result.done:
                    return
                await asyncio.sleep(result.requeue or self.config.action_poll_seconds)
        finally:
            self._vanished.pop(uid, None)

    async def finalize(self, instance: api.OpenClawInstance) -> PassResult:
        memory = self._memory(instance.metadata.uid)
        async with memory.lock:
            if memory.status is not None:
                instance = instance.model_copy(update={"status": memory.status})
            result = await self._finalize(instance, memory)
            memory.status = result.status
            uid = instance.metadata.uid
            if result.done:
                self.memory.pop(uid, None)
                self.observer.forget(uid)
                self.app_health.forget(uid)
                self.gauges.set(uid, None)
                self._finalized[uid] = None
                while len(self._finalized) > FINALIZED_REMEMBERED:
                    del self._finalized[next(iter(self._finalized))]
            else:
                self.gauges.set(uid, result.status)
            return result

    async def _finalize(self, instance: api.OpenClawInstance, memory: InstanceMemory) -> PassResult:
        uid, status = instance.metadata.uid, instance.status
        deleting = status.model_copy(update={"phase": api.Phase.DELETING})
        try:
            action = await self.observer.action(status.action.id) if status.action is not None else None
            servers = tuple(await self.observer.servers_owned_by(uid))
            records = tuple(await self.observer.records_owned_by(uid))
            plan = plan_delete(instance.spec.deletion_policy, servers, records, action)
            if action is not None and action.status != "running":
                deleting = deleting.model_copy(update={"action": None})
            for step in plan.steps:
                deleting = await self._apply(instance, deleting, step)
        except (RateLimited, ProviderError, StepFailed) as exc:
            failure, delay = self._failure(exc, memory)
            if failure.kind == FailureKind.STALLED:  # deletion never stalls: keep trying, slowly
                delay = backoff(memory.failures or 1, True, self._rng)
            self._post(instance, Note("Warning", failure.reason, failure.message))
            message = f"deleting: {failure.message}"
            return PassResult(deleting.model_copy(update={"message": message}), delay)
        deleting = deleting.model_copy(update={"message": plan.message})
        if plan.done:
            self._post(instance, Note("Normal", "Deleted", plan.message))
            return PassResult(deleting, None, done=True)
        return PassResult(deleting, self.config.action_poll_seconds)


def first_ready(before: api.InstanceStatus, after: api.InstanceStatus) -> bool:
    """The pass that made a never-ready instance Ready (it was still being provisioned)."""
    never_ready = before.phase in (None, api.Phase.PENDING, api.Phase.PROVISIONING)
    return never_ready and after.phase == api.Phase.RUNNING


def status_patch(old: api.InstanceStatus, new: api.InstanceStatus) -> dict[str, Any]:
    """A JSON merge patch for status with only the fields that differ (None deletes a field)."""
    before, after = old.to_api(), new.to_api()
    patch: dict[str, Any] = {key: value for key, value in after.items() if before.get(key) != value}
    patch.update({key: None for key in before if key not in after})
    return patch

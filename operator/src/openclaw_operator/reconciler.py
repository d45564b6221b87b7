"""One reconcile pass: observe, ask the pure planner, have the actuator carry out its steps.

`Reconciler` is also the facade Kopf's handlers call (reconcile, finalize, vanished, close), wiring the
actuator (actuator.py: provider writes) and the finalizer (finalizer.py: deletion). Nothing here imports
Kopf: events go out through the `post` callback and requeues are returned, so handlers.py owns the
framework.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from openclaw_operator import api, metrics
from openclaw_operator.actuator import Actuator, PostEvent
from openclaw_operator.config import Config
from openclaw_operator.finalizer import Finalizer
from openclaw_operator.kube import KubeClient
from openclaw_operator.observe import Observer
from openclaw_operator.passes import InstanceBook, InstanceMemory, PassResult
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.failures import is_frozen, status_after_failure
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import ActionStatus, Note, PlanSettings, Situation
from openclaw_operator.reconcile.server import needs_fresh_server

__all__ = ["PassResult", "PostEvent", "Reconciler", "first_ready", "status_patch"]

log = logging.getLogger(__name__)


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
        self.app_health = app_health
        self._post = post
        self._rng = random.Random()
        self.book = InstanceBook()
        self.gauges = metrics.InstanceGauges()
        self.actuator = Actuator(config, observer, hetzner, cloudflare, kube, post)
        self.finalizer = Finalizer(config, observer, self.actuator, app_health, self.book, self.gauges, post)
        self.settings = PlanSettings(
            managed_zones=config.managed_zones,
            default_openclaw_version=config.default_openclaw_version,
            min_openclaw_version=config.min_openclaw_version,
            app_ready_check=config.app_ready_check,
            shutdown_timeout=config.shutdown_timeout_seconds,
            poll=config.action_poll_seconds,
            cluster=config.cluster_id,
            channel=self.actuator.channel is not None,
        )

    async def close(self, grace: float) -> None:
        """Start no more passes; wait (at most `grace` seconds) for the ones in flight."""
        self.book.closing = True
        for task in self.book.vanished.values():
            task.cancel()
        locks = [memory.lock for memory in self.book.memory.values() if memory.lock.locked()]

        async def drained() -> None:
            for lock in locks:
                async with lock:
                    pass

        try:
            await asyncio.wait_for(drained(), grace)
        except TimeoutError:
            log.warning("%d reconcile passes still running at shutdown", sum(lk.locked() for lk in locks))

    def vanished(self, instance: api.OpenClawInstance) -> None:
        self.finalizer.vanished(instance)

    async def finalize(self, instance: api.OpenClawInstance) -> PassResult:
        return await self.finalizer.finalize(instance)

    # --- the reconcile pass --------------------------------------------------------------------------
    async def reconcile(
        self, instance: api.OpenClawInstance, trigger: str, created_at: datetime | None = None
    ) -> PassResult:
        uid = instance.metadata.uid
        if not self.book.may_pass(uid):
            return PassResult(instance.status, None)
        memory = self.book.of(uid)
        async with memory.lock:
            if not self.book.may_pass(uid):  # it may have been deleted or shut down while this pass waited
                return PassResult(memory.status or instance.status, None)
            started = time.monotonic()
            instance = memory.with_status(instance)
            result, outcome = await self._pass(instance, memory)
            if created_at is not None and first_ready(instance.status, result.status):
                metrics.TIME_TO_READY.observe((api.now() - created_at).total_seconds())
            memory.status = result.status
            metrics.RECONCILE_SECONDS.labels(trigger, outcome).observe(time.monotonic() - started)
            self.gauges.set(uid, result.status)
            return result

    async def _pass(self, instance: api.OpenClawInstance, memory: InstanceMemory) -> tuple[PassResult, str]:
        if is_frozen(instance):
            return PassResult(instance.status, None), "frozen"
        self.observer.track(instance.metadata.uid, instance.spec.hostname)
        status = instance.status
        try:
            decision = decide(await self._situation(instance))
            status = decision.status
            for note in decision.notes:
                self._post(instance, note)
            for step in decision.steps:
                status = await self.actuator.apply(instance, status, step)
        except Failure as exc:
            failure = exc
        except Exception as exc:  # a bug must not stop the other instances, nor leak a value in status
            log.exception("reconcile of %s/%s failed", instance.metadata.namespace, instance.metadata.name)
            failure = Failure(FailureKind.RETRYING, "InternalError", f"internal error ({type(exc).__name__})")
        else:
            memory.failures = 0
            return PassResult(status, decision.requeue), "stalled" if decision.stalled else "ok"
        delay = memory.failed(failure, self._rng)
        kind = "Normal" if failure.kind == FailureKind.RATE_LIMITED else "Warning"
        self._post(instance, Note(kind, failure.reason, failure.message))
        status = status_after_failure(instance, status, failure, api.now())
        return PassResult(status, delay), failure.kind.value

    async def _situation(self, instance: api.OpenClawInstance) -> Situation:
        observer, spec, status = self.observer, instance.spec, instance.status
        uid = instance.metadata.uid
        await observer.ensure_fresh()
        server = observer.server_for(uid, status.server_id)
        action = None
        if status.action is not None:
            action = await observer.action(status.action.id)
            finished = action is not None and action.status != ActionStatus.RUNNING
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

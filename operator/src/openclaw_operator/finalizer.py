"""Deletion passes: Delete removes what the instance owns, Retain only our ownership marks, and an instance
that vanished from the API without our finalizer is cleaned up in the background all the same.

Deletion never stalls: a provider that refuses is asked again, slowly, because a finalizer that gave up
would leave a resource nobody can delete. What to do is decided by `reconcile/delete.py` over a fresh look
at everything the instance owns; the actuator carries it out. Its servers are looked for in its
status.project, or in every project when none is recorded (it vanished before placement was written, or
the orphan sweep found it; the actuator sends each server's writes to the project that holds it), and so
are its hibernation snapshots. Before the server goes, a Final backup is taken
(reconcile/backup.py, plan_final_backup); it may take CLAWHOST_FINAL_BACKUP_TIMEOUT_SECONDS at most.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from openclaw_operator import api, metrics
from openclaw_operator.actuator import Actuator, PostEvent
from openclaw_operator.config import Config
from openclaw_operator.kube import KubeClient, KubeUnavailable
from openclaw_operator.observe import Observer
from openclaw_operator.passes import InstanceBook, InstanceMemory, PassResult
from openclaw_operator.projects import ProjectPool, single_project
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile.backup import FinalInputs, plan_final_backup
from openclaw_operator.reconcile.delete import plan_delete
from openclaw_operator.reconcile.failures import backoff
from openclaw_operator.reconcile.model import ActionStatus, Note, StatusDelta

log = logging.getLogger(__name__)


class Finalizer:
    def __init__(
        self,
        config: Config,
        observer: Observer,
        actuator: Actuator,
        app_health: AppHealth,
        book: InstanceBook,
        gauges: metrics.InstanceGauges,
        post: PostEvent,
        projects: ProjectPool | None = None,
        kube: Callable[[], KubeClient] | None = None,
    ) -> None:
        self.config = config
        self._kube = kube
        self.observer = observer
        self.projects = projects or single_project(actuator.hetzner, observer)
        self.actuator = actuator
        self.app_health = app_health
        self.book = book
        self.gauges = gauges
        self._post = post
        self._rng = random.Random()

    def vanished(self, instance: api.OpenClawInstance) -> None:
        """The resource is gone from the API. If our finalize did not run to the end, clean up anyway,
        retrying in the background until nothing is left, and run no more passes for it."""
        uid, book = instance.metadata.uid, self.book
        if uid in book.finalized or uid in book.vanished or book.closing:
            return
        log.warning(
            "%s/%s vanished without our finalizer; cleaning up its provider resources",
            instance.metadata.namespace,
            instance.metadata.name,
        )
        book.vanished[uid] = asyncio.create_task(self._clean_up(instance), name=f"clean-up {uid}")

    async def _clean_up(self, instance: api.OpenClawInstance) -> None:
        try:
            if await self._still_exists(instance):
                return
            while True:
                result = await self.finalize(instance)
                if result.done:
                    return
                await asyncio.sleep(result.requeue or self.config.action_poll_seconds)
        finally:
            self.book.vanished.pop(instance.metadata.uid, None)

    async def _still_exists(self, instance: api.OpenClawInstance) -> bool:
        """A watch also reports an instance as deleted when its shard label moved it out of this shard's
        selector: the apiserver, asked directly, has the last word before anything is deleted."""
        meta = instance.metadata
        while self._kube is not None:
            try:
                exists = await self._kube().instance_exists(meta.namespace, meta.name, meta.uid)
            except KubeUnavailable as exc:
                log.warning(
                    "cannot tell whether %s/%s still exists (%s); asking again",
                    meta.namespace,
                    meta.name,
                    exc,
                )
                await asyncio.sleep(self.config.resync_interval_seconds / 10)
                continue
            if exists:
                log.warning(
                    "%s/%s left this shard's watch but still exists (its %s label changed); its server is "
                    "left alone",
                    meta.namespace,
                    meta.name,
                    api.SHARD_LABEL,
                )
            return exists
        return False

    async def finalize(self, instance: api.OpenClawInstance) -> PassResult:
        uid = instance.metadata.uid
        memory = self.book.of(uid)
        async with memory.lock:
            result = await self._finalize(memory.with_status(instance), memory)
            memory.status = result.status
            if result.done:
                self.book.finished(uid)
                self.projects.created(uid)  # no longer pending anywhere
                for project in self.projects:
                    project.observer.forget(uid)
                self.app_health.forget(uid)
                self.gauges.set(uid, None)
            else:
                self.gauges.set(uid, result.status)
            return result

    async def _finalize(self, instance: api.OpenClawInstance, memory: InstanceMemory) -> PassResult:
        uid, status = instance.metadata.uid, instance.status
        deleting = StatusDelta(phase=api.Phase.DELETING).applied_to(status)
        try:
            known = status.project is not None and self.projects.known(status.project)
            home = self.projects.get(status.project) if known else None
            polled = (home or self.projects.first).observer
            action = await polled.action(status.action.id) if status.action is not None else None
            searched = [home] if home is not None else list(self.projects)
            servers = tuple([s for p in searched for s in await p.observer.servers_owned_by(uid)])
            records = tuple(await self.observer.records_owned_by(uid))
            snapshots = tuple([s for p in searched for s in await p.observer.snapshots_owned_by(uid)])
            final = plan_final_backup(
                FinalInputs(
                    instance=instance,
                    servers=servers,
                    channel=self.actuator.channel is not None,
                    store=self.actuator.bucket is not None,
                    now=api.now(),
                    timeout=self.config.final_backup_timeout_seconds,
                )
            )
            deleting = final.updates.applied_to(deleting)
            for note in final.notes:
                self._post(instance, note)
            if not final.done:  # the server stays until its last backup is in the bucket (or given up)
                for step in final.steps:
                    deleting = await self.actuator.apply(instance, deleting, step)
                return PassResult(StatusDelta(message=final.message).applied_to(deleting), 0.0)
            plan = plan_delete(instance.spec.deletion_policy, servers, records, action, snapshots)
            if action is not None and action.status != ActionStatus.RUNNING:
                deleting = StatusDelta(action=None).applied_to(deleting)
            for step in plan.steps:
                deleting = await self.actuator.apply(instance, deleting, step)
        except Failure as failure:
            delay = memory.failed(failure, self._rng)
            if failure.kind == FailureKind.STALLED:  # deletion never stalls: keep trying, slowly
                delay = backoff(memory.failures or 1, True, self._rng)
            self._post(instance, Note("Warning", failure.reason, failure.message))
            message = StatusDelta(message=f"deleting: {failure.message}")
            return PassResult(message.applied_to(deleting), delay)
        deleting = StatusDelta(message=plan.message).applied_to(deleting)
        if plan.done:
            self._post(instance, Note("Normal", "Deleted", plan.message))
            return PassResult(deleting, None, done=True)
        return PassResult(deleting, self.config.action_poll_seconds)

"""One reconcile pass: observe, ask the pure planner, have the actuator carry out its steps.

`Reconciler` is also the facade Kopf's handlers call (reconcile, finalize, vanished, close), wiring the
actuator (actuator.py: provider writes) and the finalizer (finalizer.py: deletion). Nothing here imports
Kopf: events go out through the `post` callback and requeues are returned, so handlers.py owns the
framework.

Before anything is created the instance is placed in a Hetzner project (projects.py, reconcile/placement.py)
and status.project records it. With several projects that is a pass of its own, which writes only status:
server names are unique per project only, so the project must be on record before the create, or a crash
between the create and the status write could be followed by a create in another project. Ownership
labels are the second line: an instance without status.project adopts the project whose listing holds a
server it owns (an instance from before projects, or one whose status write was lost).
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
from openclaw_operator.backups import Bucket, restore_source
from openclaw_operator.config import Config
from openclaw_operator.finalizer import Finalizer
from openclaw_operator.fleet import FleetLedger
from openclaw_operator.kube import KubeClient
from openclaw_operator.observe import Observer
from openclaw_operator.passes import InstanceBook, InstanceMemory, PassResult
from openclaw_operator.projects import ProjectPool, single_project
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import naming, pool, rollout, shards
from openclaw_operator.reconcile.failures import is_frozen, status_after_failure
from openclaw_operator.reconcile.golden import GoldenInputs
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import (
    ActionObservation,
    ActionStatus,
    ImageStatus,
    Note,
    PlanSettings,
    Situation,
    SnapshotObservation,
    StatusDelta,
)
from openclaw_operator.reconcile.placement import location_candidates
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
        projects: ProjectPool | None = None,
        bucket: Bucket | None = None,
    ) -> None:
        self.config = config
        self.bucket = bucket
        self.observer = observer  # lists the Cloudflare zones (and the first project's servers)
        self.projects = projects or single_project(hetzner, observer)
        self.app_health = app_health
        self._post = post
        self._rng = random.Random()
        self.book = InstanceBook()
        self.gauges = metrics.InstanceGauges()
        self.actuator = Actuator(config, observer, hetzner, cloudflare, kube, post, self.projects, bucket)
        self.finalizer = Finalizer(
            config, observer, self.actuator, app_health, self.book, self.gauges, post, self.projects, kube
        )
        policy = rollout.RolloutPolicy(
            max_parallel=config.update_max_parallel,
            failure_budget=config.update_failure_budget,
            canary_percent=config.update_canary_percent,
        )
        self.fleet = FleetLedger(config.default_openclaw_version, policy)
        self.settings = PlanSettings(
            managed_zones=config.managed_zones,
            default_openclaw_version=config.default_openclaw_version,
            min_openclaw_version=config.min_openclaw_version,
            app_ready_check=config.app_ready_check,
            shutdown_timeout=config.shutdown_timeout_seconds,
            poll=config.action_poll_seconds,
            cluster=config.cluster_id,
            channel=self.actuator.channel is not None,
            backup_store=bucket is not None,
            rollout=policy,
            suspend_backup_timeout=config.final_backup_timeout_seconds,
        )
        for project in self.projects:
            project.observer.golden_wanted = config.golden_images

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
            in_body = instance.status
            instance = memory.with_status(instance)
            result, outcome = await self._pass(instance, memory)
            if created_at is not None and first_ready(instance.status, result.status):
                metrics.TIME_TO_READY.observe((api.now() - created_at).total_seconds())
            memory.remember(result.status, in_body)
            metrics.RECONCILE_SECONDS.labels(trigger, outcome).observe(time.monotonic() - started)
            self.gauges.set(uid, result.status)
            return result

    async def _pass(self, instance: api.OpenClawInstance, memory: InstanceMemory) -> tuple[PassResult, str]:
        if is_frozen(instance):
            return PassResult(instance.status, None), "frozen"
        hibernating = instance.spec.suspend_mode == api.SuspendMode.HIBERNATE
        self.observer.track(instance.metadata.uid, instance.spec.hostname, hibernating)
        status = instance.status
        try:
            status, placed_only = await self._place(instance)
            if placed_only:  # recorded before the create: the next pass creates, in that project
                memory.failures = 0
                return PassResult(status, 0.0), "placed"
            instance = instance.model_copy(update={"status": status})
            decision = decide(await self._situation(instance))
            status = decision.status
            self._note_fleet(instance, status)  # before any await: another pass may be deciding next
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
            self._note_fleet(instance, status)
            return PassResult(status, decision.requeue), "stalled" if decision.stalled else "ok"
        delay = memory.failed(failure, self._rng)
        kind = "Normal" if failure.kind == FailureKind.RATE_LIMITED else "Warning"
        self._post(instance, Note(kind, failure.reason, failure.message))
        now = api.now()
        status = status_after_failure(instance, rollout.after_failure(status, failure, now), failure, now)
        self._note_fleet(instance, status)
        return PassResult(status, delay), failure.kind.value

    def _note_fleet(self, instance: api.OpenClawInstance, status: api.InstanceStatus) -> None:
        applied = status.condition(api.ConditionType.CONFIG_APPLIED)
        waiting = applied is not None and applied.reason in rollout.WAITING_REASONS
        self.fleet.noted(instance.metadata.uid, rollout.member_of(instance.spec, status), waiting)

    async def _place(self, instance: api.OpenClawInstance) -> tuple[api.InstanceStatus, bool]:
        """The status with status.shard and status.project set, and whether this pass only placed it."""
        status, spec, uid = instance.status, instance.spec, instance.metadata.uid
        refused = shards.refusal(self.config.shard, status.shard)
        if refused is not None:  # its label moved without admission stopping it (reconcile/shards.py)
            raise Failure(FailureKind.STALLED, "ShardMismatch", refused)
        if status.shard is None and self.config.shards:  # unsharded, there is no other shard to refuse
            status = StatusDelta(shard=self.config.shard).applied_to(status)
        if status.project is not None:
            if not self.projects.known(status.project):
                message = (
                    f"status.project names Hetzner project {status.project}, which this operator does not "
                    "hold; add it to CLAWHOST_HETZNER_PROJECTS again"
                )
                raise Failure(FailureKind.STALLED, "UnknownProject", message)
            return status, False
        for project in self.projects:
            await project.observer.ensure_fresh()
        # No status.project means the first project (every instance from before projects lives there), so
        # nothing is written for those: an upgrade must not patch the status of every instance at once.
        owned = self.projects.owner_of(uid)
        if owned is not None:
            if owned[0] is self.projects.first:
                return status, False
            return StatusDelta(project=owned[0].name).applied_to(status), False
        if status.server_id is not None:  # it had a server, in the first project: a new one goes there too
            return status, False
        if status.hibernation is not None:  # its snapshot is in the first project: the restore goes there
            return status, False
        requested = status.location or spec.location.value
        allowed = (requested,) if status.location else location_candidates(requested, spec.location_policy)
        placement = self.projects.place(uid, allowed)
        if placement.project is None:
            raise Failure(FailureKind.WAITING, "NoProjectCapacity", placement.message)
        if len(self.projects) == 1:
            return status, False  # names are unique within the one project: a crash is adopted there
        self._post(instance, Note("Normal", "Placed", placement.message))
        return StatusDelta(project=placement.project).applied_to(status), True

    async def _situation(self, instance: api.OpenClawInstance) -> Situation:
        observer, spec, status = self.observer, instance.spec, instance.status
        uid = instance.metadata.uid
        await observer.ensure_fresh()
        servers = self.projects.get(status.project).observer  # _place made sure the project is known
        if servers is not observer:
            # Its listing wakes the instance when its server changes, and lists snapshots while it may
            # hibernate (its snapshots are in its project).
            servers.track(uid, spec.hostname, spec.suspend_mode == api.SuspendMode.HIBERNATE)
            await servers.ensure_fresh()
        server = servers.server_for(uid, status.server_id)
        # Placement counts the instances placed in a project whose server is not made yet (also those
        # placed before a restart), so that a burst cannot overshoot a project's quota.
        self.projects.pending(uid, self.projects.get(status.project).name, server is None)
        action = None
        if status.action is not None:
            action = await servers.action(status.action.id)
            finished = action is not None and action.status != ActionStatus.RUNNING
            if finished and server is not None:
                server = await servers.fresh_server(server.id, force=True)
        elif server is not None and needs_fresh_server(status, server):
            server = await servers.fresh_server(server.id)
        snapshots = await self._snapshots(servers, uid, action)
        desired_type = None
        if server is not None and server.server_type != spec.server_type:
            desired_type = await servers.server_type(spec.server_type)
        golden_images: tuple[SnapshotObservation, ...] = ()
        golden_inputs: GoldenInputs | None = None
        if server is None and self.config.golden_images:
            golden_images = servers.golden_images()
            golden_inputs = self.actuator.golden_inputs(spec.image.value, spec.openclaw_version)
            if golden_images:  # the type's disk and architecture decide which snapshot fits (cached)
                desired_type = await servers.server_type(spec.server_type)
        pool_candidates: tuple[int, ...] = ()
        warm = self.actuator.warm_pool
        if (
            server is None
            and golden_inputs is not None
            and warm is not None
            and warm.project.observer is servers
        ):
            pool_candidates = pool.claimable(
                servers.listed_servers(),
                status.location or spec.location.value,
                spec.server_type,
                golden_inputs.inputs_hash,
                self.config.cluster_id,
            )
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
            snapshots=snapshots,
            golden_images=golden_images,
            golden_inputs=golden_inputs,
            pool_candidates=pool_candidates,
            restore_source=None if self.bucket is None else await restore_source(self.bucket, instance),
            fleet=self.fleet.others(uid),
        )

    async def _snapshots(
        self, observer: Observer, uid: str, action: ActionObservation | None
    ) -> tuple[SnapshotObservation, ...]:
        """This instance's snapshots, from the observer of its Hetzner project (where its server is and
        its snapshot was taken); one still being created is looked at again, since hibernation waits
        for it: at once when its create_image action is over, and at most once per poll when no action
        is recorded (a crash lost it). While the action runs, the batched action poll says when it is
        done, and a GET per image and poll would cost a mass suspension its rate limit."""
        snapshots = observer.snapshots_for(uid)
        if action is not None and action.status == ActionStatus.RUNNING:
            return snapshots
        done = action is not None and action.command == "create_image"
        if not any(s.status == ImageStatus.CREATING for s in snapshots):
            return snapshots
        for snapshot in snapshots:
            if snapshot.status == ImageStatus.CREATING:
                await observer.fresh_snapshot(snapshot.id, force=done)
        return observer.snapshots_for(uid)


def first_ready(before: api.InstanceStatus, after: api.InstanceStatus) -> bool:
    """The pass that made a never-ready instance Ready (it was still being provisioned)."""
    never_ready = before.phase in (None, api.Phase.PENDING, api.Phase.PROVISIONING)
    return never_ready and after.phase == api.Phase.RUNNING


def status_patch(old: api.InstanceStatus, new: api.InstanceStatus) -> dict[str, Any]:
    """A JSON merge patch for status with only the fields that differ (None deletes a field)."""
    return _merge_patch(old.to_api(), new.to_api())


def _merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    # A merge patch merges objects key by key, so a key gone from a nested object (billing.serverType
    # once the server is deleted) must be deleted with an explicit None, as at the top level.
    patch: dict[str, Any] = {}
    for key, value in after.items():
        was = before.get(key)
        if was == value:
            continue
        both_objects = isinstance(was, dict) and isinstance(value, dict)
        patch[key] = _merge_patch(was, value) if both_objects else value  # type: ignore[arg-type]
    patch.update({key: None for key in before if key not in after})
    return patch

"""Kopf registration only: each handler parses the body, runs one pass, writes status, maybe requeues.

- resume/create/update: one level-based reconcile. Day-2 requests are annotations under clawhost.dev/,
  which Kopf counts as changes because its own bookkeeping lives under a different prefix (see
  KOPF_PREFIX). A pass that waits for something raises kopf.TemporaryError with the delay.
- the drift timer: sleeps until the shared observer saw this instance's providers change, or one resync
  interval passed, then runs the same pass.
- delete (non-optional, so Kopf keeps our finalizer on the resource): cleans up, then lets go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import kopf

from openclaw_operator import api
from openclaw_operator.reconcile.model import Note
from openclaw_operator.reconciler import PassResult, status_patch

if TYPE_CHECKING:
    from openclaw_operator.runner import Runtime

# Kopf ignores every annotation under its storage prefix when it looks for changes, so its bookkeeping
# must not share `clawhost.dev/` with the day-2 request annotations, or those would never trigger.
KOPF_PREFIX = f"operator.{api.GROUP}"

log = logging.getLogger(__name__)


def event_target(instance: api.OpenClawInstance) -> dict[str, Any]:
    meta = instance.metadata
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid},
    }


def post_event(instance: api.OpenClawInstance, note: Note) -> None:
    target = cast(kopf.Body, event_target(instance))  # kopf only reads the object reference from it
    kopf.event(target, type=note.type, reason=note.reason, message=note.message)


def configure_settings(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = api.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX, v1=False)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=KOPF_PREFIX, key="last-handled-configuration", v1=False
    )
    settings.peering.standalone = True  # one replica (Recreate strategy); no peering objects needed
    # Kopf would otherwise list namespaces and CRDs cluster-wide to discover what to watch; the chart's
    # least-privilege RBAC (namespaced installs especially) grants neither, and we know our one resource.
    settings.scanning.disabled = True
    settings.posting.level = logging.WARNING  # our own events go out explicitly, one per step
    settings.networking.request_timeout = 60
    settings.execution.default_backoff = 30


def _write(patch: kopf.Patch, before: api.InstanceStatus, result: PassResult) -> None:
    changes = status_patch(before, result.status)
    if changes:
        patch.status.update(changes)


def build_registry(runtime: Runtime) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    resource: dict[str, Any] = {"group": api.GROUP, "version": api.VERSION, "plural": api.PLURAL}
    interval = runtime.config.resync_interval_seconds
    requeued: set[str] = set()  # instances whose drift timer asked to come back soon

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_settings(settings)
        await runtime.start()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
        if info is not None:
            runtime.use_credentials(info)
        return info

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await runtime.stop()

    async def run_pass(body: kopf.Body, patch: kopf.Patch, trigger: str) -> PassResult:
        instance = api.OpenClawInstance.from_body(body)
        created = body.metadata.creation_timestamp
        created_at = datetime.fromisoformat(created) if created else None
        result = await runtime.reconciler.reconcile(instance, trigger, created_at)
        _write(patch, instance.status, result)
        return result

    @kopf.on.resume(**resource, registry=registry)
    @kopf.on.create(**resource, registry=registry)
    @kopf.on.update(**resource, registry=registry)
    async def reconcile(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        result = await run_pass(body, patch, "change")
        if result.requeue is not None:
            raise kopf.TemporaryError(result.status.message or "waiting", delay=result.requeue)

    @kopf.timer(**resource, registry=registry, interval=0.5, initial_delay=1.0)
    async def drift(body: kopf.Body, patch: kopf.Patch, **kwargs: Any) -> None:
        stopped: kopf.DaemonStopped = kwargs["stopped"]
        uid = body.metadata.uid or ""
        if uid in requeued:
            requeued.discard(uid)
        else:
            await _wait_for_turn(runtime.observer.wakeup(uid), stopped, interval)
        if stopped:
            return
        result = await run_pass(body, patch, "drift")
        if result.requeue is not None:
            requeued.add(uid)
            raise kopf.TemporaryError(result.status.message or "waiting", delay=result.requeue)

    @kopf.on.delete(**resource, registry=registry)
    async def finalize(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        instance = api.OpenClawInstance.from_body(body)
        result = await runtime.reconciler.finalize(instance)
        if not result.done:
            _write(patch, instance.status, result)
            raise kopf.TemporaryError(result.status.message or "deleting", delay=result.requeue or 5.0)

    return registry


async def _wait_for_turn(wakeup: asyncio.Event, stopped: kopf.DaemonStopped, longest: float) -> None:
    """Until the observer saw a change for this instance, the interval passed, or the timer stops."""
    deadline = time.monotonic() + longest
    while not stopped and not wakeup.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=min(left, 1.0))
    wakeup.clear()

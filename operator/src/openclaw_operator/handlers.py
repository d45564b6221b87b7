"""Kopf registration only: each handler parses the body, runs one pass, writes status, maybe requeues.

The handlers are module-level functions with explicit ids (HANDLER_IDS), registered in `REGISTRY`;
what they work with, the Runtime, reaches them as Kopf's memo (`kopf.operator(memo=runtime)`).

- resume/create/update: one level-based reconcile. Day-2 requests are annotations under clawhost.dev/,
  which Kopf counts as changes because its own bookkeeping lives under a different prefix (see
  KOPF_PREFIX). The pass says when the next one is due, and the instance's timer runs it.
- the drift timer is a daemon in a timer's clothes: `interval=0.1`, and its body blocks in the
  PassSchedule until the next pass is due (a requeue, the observer having seen this instance's providers
  change, or one resync interval), then runs the same pass. A timer rather than a daemon because Kopf
  hands each run the freshest body and applies its `patch` afterwards, so a pass writes status the same
  way from here as from the change handler. Requeues live in the schedule rather than in
  kopf.TemporaryError, so a wake-up can cut a backoff short and Kopf writes no retry bookkeeping to the
  resource on every poll.
- delete (non-optional, so Kopf keeps our finalizer on the resource): cleans up, then lets go.
- a DELETED event for a resource whose finalize did not finish (its finalizer removed by hand, or a
  delete that raced Kopf's finalizer patch): the same clean-up runs in the background, and no more passes.

No pass runs for a resource without our finalizer or with a deletion timestamp: Kopf starts timers on
the first event, before it adds the finalizer, and a resource deleted in that moment vanishes without a
delete handler, so a server created then would belong to nobody.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import kopf

from openclaw_operator import api
from openclaw_operator.fleet import member_from_body
from openclaw_operator.kopf_session import limited_session
from openclaw_operator.reconcile import shards
from openclaw_operator.reconciler import PassResult, status_patch
from openclaw_operator.runtime import Runtime

# Kopf ignores every annotation under its storage prefix when it looks for changes, so its bookkeeping
# must not share `clawhost.dev/` with the day-2 request annotations, or those would never trigger.
KOPF_PREFIX = f"operator.{api.GROUP}"

# Kopf names a handler by its id in every log line about it ("Timer 'drift' succeeded.").
RECONCILE, DRIFT, GONE, FINALIZE, FLEET = "reconcile", "drift", "gone", "finalize", "fleet"
HANDLER_IDS = (RECONCILE, DRIFT, GONE, FINALIZE, FLEET)

# Instances per page of the initial LIST: small enough that a page's text and objects are a few MB, large
# enough that 5,000 instances take ten requests.
INITIAL_LIST_CHUNK = 500

REGISTRY = kopf.OperatorRegistry()
RESOURCE: dict[str, Any] = {"group": api.GROUP, "version": api.VERSION, "plural": api.PLURAL}

log = logging.getLogger(__name__)


def diffbase_storage() -> kopf.AnnotationsDiffBaseStorage:
    """Where Kopf keeps the spec it last handled (what it diffs a change against), on the resource."""
    return kopf.AnnotationsDiffBaseStorage(prefix=KOPF_PREFIX, key="last-handled-configuration", v1=False)


def configure_settings(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = api.FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=KOPF_PREFIX, v1=False)
    settings.persistence.diffbase_storage = diffbase_storage()
    # The initial LIST in pages (Kopf 1.45): unpaged, thousands of instances arrive as one response that
    # is held as text and as parsed objects at once, which set the process's peak RSS (docs/benchmarks.md).
    settings.watching.chunk_size = INITIAL_LIST_CHUNK
    settings.peering.standalone = True  # one replica (Recreate strategy); no peering objects needed
    # Kopf would otherwise list namespaces and CRDs cluster-wide to discover what to watch; the chart's
    # least-privilege RBAC (namespaced installs especially) grants neither, and we know our one resource.
    settings.scanning.disabled = True
    settings.posting.level = logging.WARNING  # our own events go out explicitly, one per step
    settings.networking.request_timeout = 60
    settings.execution.default_backoff = 30
    # A timer exits as soon as it is told to stop (its wait watches the flag), so a deletion need not
    # wait for Kopf's 60-second polling of timers that have not exited yet.
    settings.background.instant_exit_timeout = 5.0
    settings.background.cancellation_polling = 5.0


@kopf.on.startup(id="startup", registry=REGISTRY)
async def startup(settings: kopf.OperatorSettings, memo: Runtime, **_: Any) -> None:
    configure_settings(settings)
    # This shard's instances only, filtered by the apiserver (reconcile/shards.py).
    selector = shards.label_selector(memo.config.shard, memo.config.shards)
    if selector is not None:
        settings.watching.label_selectors[api.GROUP, api.PLURAL] = selector
    await memo.start()


@kopf.on.login(id="login", registry=REGISTRY)
async def login(memo: Runtime, **kwargs: Any) -> kopf.AiohttpSession | None:
    info = kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)
    if info is None:
        return None
    await memo.use_credentials(info)
    # Kopf's requests through a bounded pool: a start's first passes end together (kopf_session.py).
    return limited_session(info, memo.kopf_connections())


@kopf.on.cleanup(id="cleanup", registry=REGISTRY)
async def cleanup(memo: Runtime, **_: Any) -> None:
    await memo.stop()


@kopf.on.resume(**RESOURCE, id=RECONCILE, registry=REGISTRY)
@kopf.on.create(**RESOURCE, id=RECONCILE, registry=REGISTRY)
@kopf.on.update(**RESOURCE, id=RECONCILE, registry=REGISTRY)
async def reconcile(body: kopf.Body, patch: kopf.Patch, memo: Runtime, **_: Any) -> None:
    await run_pass(memo, body, patch, "change")


# Kopf's own pause between runs only adds to every requeue: the schedule does the waiting.
@kopf.timer(**RESOURCE, id=DRIFT, registry=REGISTRY, interval=0.1, initial_delay=1.0)
async def drift(body: kopf.Body, patch: kopf.Patch, memo: Runtime, **kwargs: Any) -> None:
    stopped: kopf.DaemonStopped = kwargs["stopped"]
    if not await memo.schedule.wait(body.metadata.uid or "", stopped.wait()) or stopped:
        return
    await run_pass(memo, body, patch, "drift")


@kopf.on.event(**RESOURCE, id=GONE, registry=REGISTRY)
async def gone(event: kopf.RawEvent, body: kopf.Body, memo: Runtime, **_: Any) -> None:
    # Kopf keeps a timer running for an object that vanished without passing through `finalize`.
    if event.get("type") == "DELETED":
        memo.schedule.forget(body.metadata.uid or "")
        memo.reconciler.fleet.forget(body.metadata.uid or "")
        memo.reconciler.vanished(api.OpenClawInstance.from_body(body))


# An indexer because Kopf runs indexers on every event before any handler, and holds every handler back
# until the initial LIST is indexed: the rollout's counts come from status before the first pass after a
# start (fleet.py). Nothing is stored in Kopf's index itself (None): the ledger keeps the running sums.
@kopf.index(**RESOURCE, id=FLEET, registry=REGISTRY)
async def fleet(body: kopf.Body, memo: Runtime, **_: Any) -> None:
    memo.reconciler.fleet.watched(body.metadata.uid or "", member_from_body(body))


@kopf.on.delete(**RESOURCE, id=FINALIZE, registry=REGISTRY)
async def finalize(body: kopf.Body, patch: kopf.Patch, memo: Runtime, **_: Any) -> None:
    # Its own slots, left before Kopf sleeps the requeue's delay (admission.py): deletions that wait for
    # their servers to go, or take final backups, never hold back another instance's pass.
    async with memo.admission.deletions:
        instance = api.OpenClawInstance.from_body(body)
        result = await memo.reconciler.finalize(instance)
    if not result.done:
        _write(patch, instance.status, result)
        raise kopf.TemporaryError(result.status.message or "deleting", delay=result.requeue or 5.0)
    memo.schedule.forget(instance.metadata.uid)


async def run_pass(runtime: Runtime, body: kopf.Body, patch: kopf.Patch, trigger: str) -> None:
    uid = body.metadata.uid or ""
    if not may_reconcile(body):
        runtime.schedule.after_pass(uid, time.monotonic(), None)  # the change handler runs once it is on
        return
    # Admitted before the body becomes models: at start-up every instance's pass arrives at once.
    async with runtime.admission.passes:
        started = time.monotonic()  # what it reads comes after this: a wake while it queued is seen
        instance = api.OpenClawInstance.from_body(body)
        created = body.metadata.creation_timestamp
        created_at = datetime.fromisoformat(created) if created else None
        result = await runtime.reconciler.reconcile(instance, trigger, created_at)
    _write(patch, instance.status, result)
    runtime.schedule.after_pass(uid, started, result.requeue)


def may_reconcile(body: kopf.Body) -> bool:
    """Only a live resource that our finalizer protects: its deletion is then sure to reach `finalize`."""
    meta = body.metadata
    return api.FINALIZER in (meta.get("finalizers") or []) and not meta.get("deletionTimestamp")


def _write(patch: kopf.Patch, before: api.InstanceStatus, result: PassResult) -> None:
    changes = status_patch(before, result.status)
    if changes:
        patch.status.update(changes)

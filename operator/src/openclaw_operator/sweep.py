"""The orphan sweep's I/O edge: after each listing, find our servers whose instance no longer exists
(reconcile/orphans.py decides) and hand each to the finalizer once its grace period is over.

The finalizer is the same one a DELETED event without our finalize reaches (`Reconciler.vanished`):
records first, then the server, retried in the background until nothing is left; Retain releases
instead. It posts an Event per step, about the (gone) instance; this module logs one line per orphan.
The sweep reads the observer's snapshot before it lists the instances, so every server in the snapshot
was made for an instance that either shows up in the LIST or was deleted before it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from openclaw_operator import api
from openclaw_operator.kube import KubeClient, KubeUnavailable
from openclaw_operator.observe import Observer
from openclaw_operator.providers.errors import Failure
from openclaw_operator.reconcile.golden import expired_builders
from openclaw_operator.reconcile.model import ServerObservation
from openclaw_operator.reconcile.orphans import Orphan, SweepInputs, SweepPlan, plan_sweep

log = logging.getLogger(__name__)


class OrphanSweep:
    def __init__(
        self,
        observer: Observer,
        kube: Callable[[], KubeClient],
        clean_up: Callable[[api.OpenClawInstance], None],
        cluster: str,
        grace: float,
        namespaces: tuple[str, ...],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._observer = observer
        self._kube = kube
        self._clean_up = clean_up
        self._cluster = cluster
        self._grace = grace
        self._namespaces = namespaces
        self._clock = clock
        self._wall_clock = wall_clock  # golden builders' deadlines are unix seconds
        self._first_seen: dict[str, float] = {}
        self._reported: set[str] = set()  # orphans logged (and handed over) once each, while they last
        self._task: asyncio.Task[SweepPlan | None] | None = None

    def after_listing(self) -> None:
        """The observer's hook: one sweep at a time, so a slow one never delays the next listing."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.sweep(), name="orphan sweep")

    async def sweep(self) -> SweepPlan | None:
        servers = tuple(self._observer.listed_servers())
        snapshots = tuple(self._observer.listed_snapshots())
        await self._delete_expired_builders(servers)  # judged by their own deadline, not by instances
        try:
            live = await self._kube().instance_uids(self._namespaces)
        except KubeUnavailable as exc:  # not logged in yet, or the apiserver is away
            log.warning("orphan sweep skipped: %s", exc)
            return None
        plan = plan_sweep(
            SweepInputs(
                servers=servers,
                live=live,
                namespaces=frozenset(self._namespaces) or None,
                cluster=self._cluster,
                first_seen=self._first_seen,
                now=self._clock(),
                grace=self._grace,
                snapshots=snapshots,
            )
        )
        self._first_seen = plan.first_seen
        self._reported &= set(plan.first_seen)
        for orphan in plan.kept:
            if orphan.uid not in self._reported:
                self._reported.add(orphan.uid)
                log.warning(
                    "orphan %s: kept, its servers and snapshots %s name no deletion policy",
                    _who(orphan),
                    _names(orphan),
                )
        for orphan in plan.clean_up:
            if orphan.uid in self._reported:
                continue  # the finalizer has it, and retries until nothing is left
            self._reported.add(orphan.uid)
            assert orphan.policy is not None
            verb = "deleting" if orphan.policy == api.DeletionPolicy.DELETE else "releasing"
            log.warning(
                "orphan %s: its instance no longer exists; %s %s and its DNS records (deletionPolicy %s)",
                _who(orphan),
                verb,
                _names(orphan),
                orphan.policy.value,
            )
            self._clean_up(orphan_instance(orphan))
        return plan

    async def _delete_expired_builders(self, servers: tuple[ServerObservation, ...]) -> None:
        """A golden build that crashed left its builder (docs/golden-images.md): deleted once the
        deadline on its label passed; a build still running deletes its own before that."""
        for server in expired_builders(servers, self._wall_clock(), self._cluster):
            log.warning("golden builder %s (%d) outlived its build: deleting it", server.name, server.id)
            try:
                await self._observer.hetzner.delete_server(server.id)
            except Failure as exc:  # the next sweep tries again
                log.warning("deleting golden builder %s failed: %s", server.name, exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def orphan_instance(orphan: Orphan) -> api.OpenClawInstance:
    """What the finalizer needs of the deleted instance, from its server's labels: uid, namespace and
    name (for Events and logs) and the deletion policy. The rest of its spec is gone and not needed."""
    return api.OpenClawInstance(
        metadata=api.ObjectMeta(name=orphan.name or orphan.uid, namespace=orphan.namespace, uid=orphan.uid),
        spec=api.InstanceSpec(
            hostname="",
            gateway_token_secret_ref=api.SecretKeyRef(name=""),
            deletion_policy=orphan.policy or api.DeletionPolicy.RETAIN,
        ),
    )


def _who(orphan: Orphan) -> str:
    return f"{orphan.namespace}/{orphan.name} (uid {orphan.uid})"


def _names(orphan: Orphan) -> str:
    servers = [f"{s.name} ({s.id})" for s in orphan.servers]
    return ", ".join(servers + [f"snapshot {s.id}" for s in orphan.snapshots])

"""The warm pool's I/O edge (reconcile/pool.py decides): after each listing, create the missing pool
servers and delete stale or surplus ones; at an instance's claim, take one pool server by relabelling it.

The claim is a compare-and-set built from Hetzner's requests, which have none: a claim first reserves one
candidate in this process (no other claim of this operator works on that server meanwhile, so no two of
its passes race for it, while claims of different servers run side by side), re-reads it (GET), and only
if it is still an unclaimed pool server of the wanted inputs replaces its name and labels with the
instance's (one PUT: Hetzner replaces labels whole), then reads it back. The PUT is the step that
decides: before it the server is the pool's, after it the instance's, whatever happens to this process
(a restarted operator adopts it by its instance-uid label, like a server created just before a crash).
A claim that fails after its PUT may have been sent keeps its server reserved: that PUT could still land.
One operator (one shard) owns a project's pool; two operators sharing a project's pool are not supported.

The fleet has no instance to post Events about: each create and delete is a log line.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable

from openclaw_operator import api, metrics
from openclaw_operator.bootstrap.render import render_pool_user_data
from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.projects import Project
from openclaw_operator.providers.errors import Failure
from openclaw_operator.reconcile import naming, pool
from openclaw_operator.reconcile.golden import GoldenInputs
from openclaw_operator.reconcile.model import ClaimPoolServer, ServerObservation

log = logging.getLogger(__name__)


class WarmPool:
    def __init__(
        self,
        project: Project,
        slots: tuple[pool.PoolSlot, ...],
        cluster: str | None,
        bootstrap: BootstrapSettings,
        wanted: Callable[[], GoldenInputs | None],
        base_image: str,
    ) -> None:
        self._project = project
        self.slots = slots
        self._cluster = cluster
        self._bootstrap = bootstrap
        self._wanted = wanted  # what a create of the default version would install now
        self._base_image = base_image
        self._reserved: set[int] = set()  # pool servers a claim of this process is working on
        self._put_uncertain: set[int] = set()  # claims that failed after their PUT was sent
        self._claims_in_flight = 0
        self._no_claim_in_flight = asyncio.Event()
        self._no_claim_in_flight.set()
        self._maintaining = asyncio.Lock()
        self._planned_at = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._waiting_logged: tuple[str, ...] = ()

    # --- upkeep, once per listing --------------------------------------------------------------------
    def after_listing(self) -> None:
        """The observer's hook: one upkeep at a time, so a slow create never delays the next listing."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._maintain_logged(), name="warm pool")

    async def maintain(self) -> pool.PoolPlan | None:
        """Plan from the newest listing (once per listing) and carry the plan out; None: nothing new."""
        observer = self._project.observer
        async with self._maintaining:
            if observer.listed_at <= self._planned_at:
                return None
            self._planned_at = observer.listed_at
            # A claim in flight changes what the pool holds: plan between claims (nothing awaits between
            # the wait and the plan, so no claim starts in between).
            while self._claims_in_flight:
                await self._no_claim_in_flight.wait()
            plan = pool.plan_pool(
                pool.PoolInputs(
                    slots=self.slots,
                    servers=tuple(observer.listed_servers()),
                    golden_images=observer.golden_images(),
                    wanted=self._wanted(),
                    cluster=self._cluster,
                )
            )
            if plan.waiting != self._waiting_logged and plan.waiting:
                log.warning(
                    "warm pool: no golden snapshot of the current inputs for %s; build one "
                    "(openclaw-operator golden build)",
                    ", ".join(plan.waiting),
                )
            self._waiting_logged = plan.waiting
            for delete in plan.deletes:
                await self._delete(delete)
            for create in plan.creates:
                await self._create(create)
            await self._count()
            return plan

    async def _create(self, create: pool.PoolCreate) -> None:
        wanted = self._wanted()
        assert wanted is not None  # the planner plans creates only with inputs
        name = pool.pool_server_name(create.location, create.server_type, secrets.token_hex(4))
        server, _ = await self._project.provider.create_server(
            name=name,
            server_type=create.server_type,
            image=self._base_image,
            location=create.location,
            labels=create.labels,
            user_data=render_pool_user_data(self._bootstrap, wanted.openclaw_version, create.server_type),
            from_snapshot=create.snapshot_id,
        )
        self._project.observer.server_seen(server)
        log.info(
            "warm pool: created %s (%s, %s) from golden snapshot %d",
            name,
            create.location,
            create.server_type,
            create.snapshot_id,
        )

    async def _delete(self, delete: pool.PoolDelete) -> None:
        await self._project.provider.delete_server(delete.server.id)
        self._project.observer.server_gone(delete.server.id)
        log.info("warm pool: deleted %s (%s)", delete.server.name, delete.why)

    async def _maintain_logged(self) -> None:
        try:
            await self.maintain()
        except Failure as exc:  # tried again after the next listing
            log.warning("warm pool: %s failed: %s", exc.reason, exc.message)
        except Exception:  # a bug must not end the observer's hook for good
            log.exception("warm pool: upkeep failed")

    async def _count(self) -> None:
        observer = self._project.observer
        types = {slot.server_type: await observer.server_type(slot.server_type) for slot in self.slots}
        for count in pool.count_slots(self.slots, observer.listed_servers(), types, self._cluster):
            labels = (count.slot.location, count.slot.server_type)
            metrics.WARM_POOL_SERVERS.labels(*labels, "ready").set(count.ready)
            metrics.WARM_POOL_SERVERS.labels(*labels, "starting").set(count.starting)
            if count.monthly_eur is not None:
                metrics.WARM_POOL_MONTHLY_COST.labels(*labels).set(count.monthly_eur)

    # --- the claim ------------------------------------------------------------------------------------
    @property
    def project(self) -> Project:
        return self._project

    async def claim(
        self, instance: api.OpenClawInstance, step: ClaimPoolServer
    ) -> tuple[ServerObservation, str] | None:
        """The pool server now this instance's (renamed and relabelled) and the golden snapshot it was
        made from, or None when every candidate was taken or went away meanwhile (the next pass creates
        a server instead)."""
        for server_id in step.candidates:
            if server_id in self._reserved:
                continue  # another claim of this process has it
            self._reserved.add(server_id)
            self._claims_in_flight += 1
            self._no_claim_in_flight.clear()
            try:
                claimed = await self._claim_one(server_id, instance, step)
            finally:
                if server_id not in self._put_uncertain:
                    self._reserved.discard(server_id)  # claimed or not, a GET now tells what it is
                self._claims_in_flight -= 1
                if not self._claims_in_flight:
                    self._no_claim_in_flight.set()
            if claimed is not None:
                return claimed
        return None

    async def _claim_one(
        self, server_id: int, instance: api.OpenClawInstance, step: ClaimPoolServer
    ) -> tuple[ServerObservation, str] | None:
        provider, uid = self._project.provider, instance.metadata.uid
        found = await provider.get_server(server_id)
        if not pool.still_claimable(found, step.inputs_hash, self._cluster):
            return None
        assert found is not None
        snapshot = found.labels.get(pool.POOL_SNAPSHOT_LABEL, "")
        try:
            await provider.claim_server(server_id, step.name, step.labels)
            claimed = await provider.get_server(server_id)
        except BaseException:
            self._put_uncertain.add(server_id)  # the PUT may yet land: this process never offers it again
            raise
        if claimed is None or claimed.labels.get(naming.INSTANCE_UID_LABEL) != uid:
            return None  # someone else's write came between ours and the read: not ours, never used
        self._project.observer.server_seen(claimed)
        metrics.WARM_POOL_CLAIMS.inc()
        return claimed, snapshot

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

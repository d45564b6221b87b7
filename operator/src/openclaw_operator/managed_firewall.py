"""The managed firewall's I/O edge: after each listing, plan it (reconcile/firewall.py decides) and have the
actuator carry the plan out; before a server is created, make sure it is in place.

A plan is made at most once per listing, whoever asks first (the observer's hook or a create), so the
fleet costs one firewall listing per resync and no firewall request per instance; a failed write is tried
again after the next listing, not by every create in between. The fleet has no instance to post Events
about, so each step and each conflict is a log line (and a repair counts in clawhost_drift_repairs_total).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from openclaw_operator.observe import Observer
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile.firewall import DesiredFirewall, FirewallPlan, plan_firewall
from openclaw_operator.reconcile.model import FirewallStep

log = logging.getLogger(__name__)

Problem = tuple[FailureKind, str, str]  # kind, reason, message: a fresh Failure is raised from it each time
NOT_LISTED: Problem = (FailureKind.WAITING, "FirewallNotReady", "the managed firewall is not listed yet")


class ManagedFirewall:
    def __init__(
        self,
        observer: Observer,
        desired: DesiredFirewall,
        carry_out: Callable[[FirewallStep], Awaitable[None]],
    ) -> None:
        self._observer = observer
        self._desired = desired
        self._carry_out = carry_out
        self._lock = asyncio.Lock()
        self._planned_at = float("-inf")  # the listing the last plan was made from
        self._in_place = False  # the last plan was carried out in full
        self._been_in_place = False  # ever, in this process: a difference now is a drift repair
        self._problem = NOT_LISTED  # why it is not in place
        self._reported: str | None = None  # the conflict logged, once while it lasts
        self._task: asyncio.Task[FirewallPlan | None] | None = None

    def after_listing(self) -> None:
        """The observer's hook: one plan at a time, so a slow write never delays the next listing."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._repair_logged(), name="managed firewall")

    async def ensure_in_place(self) -> None:
        """Before a create: the firewall is in place as planned from the newest listing, else the reason
        (a Failure: waiting for a listing or a retried write; stalled on a foreign firewall's name)."""
        if not self._in_place:
            await self.repair()
        if not self._in_place:
            raise Failure(*self._problem)

    async def repair(self) -> FirewallPlan | None:
        """Plan from the newest listing unless that was done already, and carry the plan out; None when
        there was nothing new to plan from."""
        async with self._lock:
            listed_at = self._observer.listed_at
            if listed_at <= self._planned_at:
                return None
            self._planned_at = listed_at
            plan = plan_firewall(self._observer.firewall(), self._desired, self._been_in_place)
            if plan.conflict is not None:
                self._in_place = False
                self._problem = (FailureKind.STALLED, "FirewallNameConflict", plan.conflict)
                if plan.conflict != self._reported:
                    self._reported = plan.conflict
                    log.warning("managed firewall: %s", plan.conflict)
                return plan
            self._reported = None
            for step in plan.steps:
                try:
                    await self._carry_out(step)
                except Failure as exc:
                    self._in_place = False
                    message = f"the managed firewall is not in place yet: {exc.message}"
                    self._problem = (FailureKind.WAITING, "FirewallNotReady", message)
                    raise
            self._in_place = self._been_in_place = True
            return plan

    async def _repair_logged(self) -> FirewallPlan | None:
        try:
            return await self.repair()
        except Failure as exc:  # tried again after the next listing
            log.warning("managed firewall: %s failed: %s", exc.reason, exc.message)
        except Exception:  # a bug must not end the observer's hook for good
            log.exception("managed firewall: planning failed")
        return None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

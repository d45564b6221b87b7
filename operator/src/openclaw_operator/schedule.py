"""When each instance's next reconcile pass is due, and a way to wait for it that costs nothing meanwhile.

Every pass ends by saying when the next one is due: its requeue (an action to poll, a backoff, an app
still booting), else one resync interval. The observer calls `wake` when a listing showed that an
instance's provider state changed, which makes its pass due at once and cuts any backoff short: a
server deleted out of band is repaired right after the listing that saw it, not after a retry delay.

One timer per instance waits here on a future with a deadline, never polling, so thousands of settled
instances cost no CPU between their passes. A wake that arrives while a pass runs is not lost: the pass
may have read the snapshot before the change, so the next one is due at once.

A waiting instance holds one bare future, made when it starts to wait and resolved by the change that
moves its deadline: no task of its own and no event kept between passes (at 5,000 instances each task
and its frame counted, docs/benchmarks.md "Memory").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


class PassSchedule:
    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._due: dict[str, float] = {}
        self._woken_at: dict[str, float] = {}
        self._waiters: dict[str, asyncio.Future[None]] = {}

    def due_in(self, uid: str) -> float:
        return self._due.get(uid, self._clock() + self.interval) - self._clock()

    def after_pass(self, uid: str, started: float, requeue: float | None) -> None:
        """A pass that began at `started` ended asking to come back after `requeue` (None: an interval)."""
        now = self._clock()
        due = now + (requeue if requeue is not None else self.interval)
        if self._woken_at.get(uid, float("-inf")) >= started:
            due = now  # woken while it ran: what it read may predate the change
        self._set(uid, due)

    def wake(self, uid: str) -> None:
        now = self._clock()
        self._woken_at[uid] = now
        self._set(uid, now)

    def forget(self, uid: str) -> None:
        self._due.pop(uid, None)
        self._woken_at.pop(uid, None)
        self._waiters.pop(uid, None)

    def waiting(self) -> int:
        """Instances waiting for their pass now."""
        return len(self._waiters)

    def _set(self, uid: str, due: float) -> None:
        self._due[uid] = due
        waiter = self._waiters.get(uid)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, uid: str, stopping: Awaitable[Any]) -> bool:
        """Until the instance's pass is due (True) or `stopping` completes first (False); `stopping`
        is cancelled either way (Kopf's `stopped.wait()` makes a fresh one for every call)."""
        stop = asyncio.ensure_future(stopping)
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] | None = None
        try:
            while True:
                # Made before the deadline is read, so a change made after the read resolves it.
                waiter = self._waiters[uid] = loop.create_future()
                left = self._due.setdefault(uid, self._clock() + self.interval) - self._clock()
                if left <= 0:
                    return True
                done, _ = await asyncio.wait({waiter, stop}, timeout=left, return_when="FIRST_COMPLETED")
                if stop in done:
                    return False
        finally:
            stop.cancel()
            if waiter is not None and self._waiters.get(uid) is waiter:
                del self._waiters[uid]

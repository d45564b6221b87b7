"""What the reconciler and the finalizer remember about each instance between passes.

One lock per instance serialises its passes (Kopf runs change handlers and the drift timer concurrently).
The status a pass ends with is kept, because the next pass may start before Kopf's status patch of the
previous one has come back through the watch. Instances whose deletion finished, or that vanished from the
API, get no more passes.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from openclaw_operator import api
from openclaw_operator.providers.errors import Failure
from openclaw_operator.reconcile.failures import counts_as_failure, retry_delay

FINALIZED_REMEMBERED = 100_000  # uids, ~10 MB at most


@dataclass(frozen=True)
class PassResult:
    status: api.InstanceStatus
    requeue: float | None  # None: settled (or stalled) until something changes
    done: bool = False  # deletion: nothing is left, the finalizer may go


@dataclass
class InstanceMemory:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    status: api.InstanceStatus | None = None
    failures: int = 0  # failed passes in a row

    def with_status(self, instance: api.OpenClawInstance) -> api.OpenClawInstance:
        """The instance as the last pass left it (its status patch may not be back through the watch)."""
        return instance if self.status is None else instance.model_copy(update={"status": self.status})

    def remember(self, status: api.InstanceStatus, in_body: api.InstanceStatus) -> None:
        """Keep a pass's status only while the body may not show it yet: when it equals the body's (every
        settled pass), the body holds it already, and a second copy per instance is what made the
        reconciler's memory grow with the fleet (docs/benchmarks.md, "Memory")."""
        self.status = None if status == in_body else status

    def failed(self, failure: Failure, rng: random.Random) -> float | None:
        """Count one failed pass; the delay until the next (None: not until the spec changes)."""
        if counts_as_failure(failure):
            self.failures += 1
        return retry_delay(failure, self.failures, rng)


class InstanceBook:
    def __init__(self) -> None:
        self.memory: dict[str, InstanceMemory] = {}
        # Instances whose deletion finished: a pass that was queued behind the finalizer (a timer that
        # had not stopped yet) must not create their server again. Bounded, oldest forgotten first.
        self.finalized: dict[str, None] = {}
        # Instances that vanished from the API without our finalize (their finalizer was removed by hand,
        # or the delete raced Kopf's finalizer patch): cleaned up in the background, no pass meanwhile.
        self.vanished: dict[str, asyncio.Task[None]] = {}
        self.closing = False

    def of(self, uid: str) -> InstanceMemory:
        return self.memory.setdefault(uid, InstanceMemory())

    def may_pass(self, uid: str) -> bool:
        return not (self.closing or uid in self.finalized or uid in self.vanished)

    def finished(self, uid: str) -> None:
        self.memory.pop(uid, None)
        self.finalized[uid] = None
        while len(self.finalized) > FINALIZED_REMEMBERED:
            del self.finalized[next(iter(self.finalized))]

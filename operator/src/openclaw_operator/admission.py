"""How many passes may be under way at once: admitted before they parse their body into models.

Kopf runs one worker per object and starts every object's resume handler at once, so at start-up with
5,000 instances 5,000 passes would build their models and then queue together behind the observer's
first listing and the app probes, each holding its parsed instance and status: the process's peak grew
with the fleet (docs/benchmarks.md, "Memory: where it goes"). A pass waits here instead, holding only
the body Kopf keeps anyway.

Deletions have slots of their own. Kopf's `settings.queueing.worker_limit` would bound the workers
instead, but Kopf sleeps a TemporaryError's delay inside the worker, so a mass deletion (the finalizer
requeues while servers go) or long final backups would hold the workers and starve every create. Here a
finalizer's requeue delay is slept after it has left its slot, and a final backup holds a deletion slot,
never a pass's.
"""

from __future__ import annotations

import asyncio

# Passes mostly wait (on the providers' threads, rate limiters, listings, app probes): twice the provider
# threads keeps every thread busy while bounding the models alive at once to a few hundred KB.
PASSES_PER_THREAD = 2


class Admission:
    def __init__(self, threads: int) -> None:
        """`threads`: the provider threads that passes share (CLAWHOST_CONCURRENCY over the projects)."""
        self.pass_slots = PASSES_PER_THREAD * threads
        self.deletion_slots = threads
        self.passes = asyncio.Semaphore(self.pass_slots)
        self.deletions = asyncio.Semaphore(self.deletion_slots)

"""What a failed pass does to status, when to try again, and when not to try at all.

A failure that is `frozen` (the provider refused the spec, or it cannot be rendered into user data)
records its generation in status.refusedGeneration, and the instance is not reconciled again until the
spec changes (a new generation) or someone bumps clawhost.dev/reconcile-requested-at: repeating a request
the provider refused only burns rate limit. Stalls the planner derives from the snapshot (a foreign DNS
record, a disk downgrade) cost nothing to re-check and lift by themselves.
"""

from __future__ import annotations

import random
from datetime import datetime

from openclaw_operator import api
from openclaw_operator.api import ConditionType, Phase
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.model import StatusDelta

BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
SLOW_BACKOFF = 300.0
MIN_RATE_LIMIT_WAIT = 0.5


def is_frozen(instance: api.OpenClawInstance) -> bool:
    status = instance.status
    if status.refused_generation is None or status.refused_generation != instance.metadata.generation:
        return False
    return instance.metadata.annotations.get(api.RECONCILE_REQUESTED_AT) == status.last_handled_reconcile_at


def counts_as_failure(failure: Failure) -> bool:
    """Waiting for the rate limiter is no failure of the instance's: it does not lengthen its backoff."""
    return failure.kind != FailureKind.RATE_LIMITED


def retry_delay(failure: Failure, failures: int, rng: random.Random) -> float | None:
    """Seconds until the next pass after `failure`, the `failures`-th in a row; None: not until the spec
    changes."""
    if failure.kind == FailureKind.RATE_LIMITED:
        if failure.retry_in is None:  # the provider answered 429 without saying for how long
            return backoff(1, False, rng)
        return max(failure.retry_in, MIN_RATE_LIMIT_WAIT)
    if failure.kind == FailureKind.STALLED:
        return None
    return backoff(failures, failure.slow, rng)


def backoff(failures: int, slow: bool, rng: random.Random) -> float:
    """Exponential backoff with full jitter over the upper half: 2-4 s, 4-8 s, ... capped at 5 minutes."""
    if slow:
        return SLOW_BACKOFF * rng.uniform(0.8, 1.0)
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(failures - 1, 0))
    return rng.uniform(ceiling / 2, ceiling)


def status_after_failure(
    instance: api.OpenClawInstance, status: api.InstanceStatus, failure: Failure, now: datetime
) -> api.InstanceStatus:
    """Conditions after a failed pass. A transient failure leaves Ready alone: the instance may well be
    serving; only Reconciling says that the operator is retrying."""
    generation = instance.metadata.generation
    verdicts: dict[ConditionType, cond.Verdict] = {}
    phase = status.phase or Phase.PENDING
    if failure.kind == FailureKind.STALLED:
        verdicts[ConditionType.STALLED] = cond.true(failure.reason, failure.message)
        verdicts[ConditionType.READY] = cond.false(failure.reason, failure.message)
        verdicts[ConditionType.RECONCILING] = cond.false("Stalled", "stopped until the spec changes")
        phase = Phase.FAILED
    else:
        verdicts[ConditionType.RECONCILING] = cond.true(failure.reason, failure.message)
        if status.condition(ConditionType.READY) is None:
            verdicts[ConditionType.READY] = cond.false(failure.reason, failure.message)
        if phase == Phase.FAILED:
            phase = Phase.UPDATING
    if failure.about is not None:
        verdicts[ConditionType(failure.about)] = cond.false(failure.reason, failure.message)
    delta = StatusDelta(
        conditions=cond.merge(status.conditions, verdicts, generation, now),
        phase=phase,
        message=failure.message,
        observed_generation=generation,
        last_handled_reconcile_at=instance.metadata.annotations.get(
            api.RECONCILE_REQUESTED_AT, status.last_handled_reconcile_at
        ),
        refused_generation=generation if failure.frozen else None,
    )
    return delta.applied_to(status)

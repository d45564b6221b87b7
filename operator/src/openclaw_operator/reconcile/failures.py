"""What a failed pass does to status, when to try again, and when not to try at all.

A provider that rejected the spec (Stalled, reason ProviderRejected or ServerNameConflict) is not asked
again until the spec changes (a new generation) or someone bumps clawhost.dev/reconcile-requested-at:
repeating a request the provider refused only burns rate limit. Stalls the planner derives from the
snapshot (a foreign DNS record, a disk downgrade) cost nothing to re-check and lift by themselves.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from openclaw_operator import api
from openclaw_operator.api import ConditionType, Phase
from openclaw_operator.reconcile import conditions as cond

FROZEN_REASONS = frozenset({"ProviderRejected", "ServerNameConflict", "InvalidBootstrapInput"})
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0
SLOW_BACKOFF = 300.0


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # wait for the limiter
    RETRYING = "retrying"  # transient: back off with jitter
    WAITING = "waiting"  # something outside the providers (the token Secret) is not there yet
    STALLED = "stalled"  # needs a spec change


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    reason: str
    message: str


def is_frozen(instance: api.OpenClawInstance) -> bool:
    stalled = instance.status.condition(ConditionType.STALLED)
    if stalled is None or stalled.status != cond.TRUE or stalled.reason not in FROZEN_REASONS:
        return False
    same_spec = stalled.observed_generation == instance.metadata.generation
    asked = instance.metadata.annotations.get(api.RECONCILE_REQUESTED_AT)
    return same_spec and asked == instance.status.last_handled_reconcile_at


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
    conditions = cond.merge(status.conditions, verdicts, generation, now)
    return status.model_copy(
        update={
            "conditions": conditions,
            "phase": phase,
            "message": failure.message,
            "observed_generation": generation,
            "last_handled_reconcile_at": instance.metadata.annotations.get(
                api.RECONCILE_REQUESTED_AT, status.last_handled_reconcile_at
            ),
        }
    )

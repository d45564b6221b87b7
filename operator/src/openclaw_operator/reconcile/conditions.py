"""kstatus conditions, computed on every pass; lastTransitionTime only moves when a status flips."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from openclaw_operator import api
from openclaw_operator.api import ConditionStatus, ConditionType

TRUE: ConditionStatus = "True"
FALSE: ConditionStatus = "False"
UNKNOWN: ConditionStatus = "Unknown"

ORDER = (
    ConditionType.READY,
    ConditionType.RECONCILING,
    ConditionType.STALLED,
    ConditionType.SERVER_READY,
    ConditionType.DNS_READY,
    ConditionType.APP_READY,
    ConditionType.CONFIG_APPLIED,
    ConditionType.BACKED_UP,
)


@dataclass(frozen=True)
class Verdict:
    """One condition as a planner sees it, before timestamps."""

    status: ConditionStatus
    reason: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == TRUE


def true(reason: str, message: str) -> Verdict:
    return Verdict(TRUE, reason, message)


def false(reason: str, message: str) -> Verdict:
    return Verdict(FALSE, reason, message)


def unknown(reason: str, message: str) -> Verdict:
    return Verdict(UNKNOWN, reason, message)


def merge(
    previous: tuple[api.Condition, ...],
    verdicts: dict[ConditionType, Verdict],
    generation: int,
    now: datetime,
) -> tuple[api.Condition, ...]:
    """New conditions in a stable order; a condition keeps its lastTransitionTime unless its status flips."""
    old = {condition.type: condition for condition in previous}
    merged: list[api.Condition] = []
    for type_ in ORDER:
        verdict = verdicts.get(type_)
        if verdict is None:
            if type_ in old:
                merged.append(old[type_])
            continue
        before = old.get(type_)
        since = before.last_transition_time if before is not None and before.status == verdict.status else now
        merged.append(
            api.Condition(
                type=type_.value,
                status=verdict.status,
                reason=verdict.reason,
                message=verdict.message,
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    return tuple(merged)


def is_true(status: api.InstanceStatus, type_: ConditionType) -> bool:
    condition = status.condition(type_)
    return condition is not None and condition.status == TRUE

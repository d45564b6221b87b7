"""Conditions, failures, freezing and backoff: the rules that shape status between passes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from openclaw_operator import api
from openclaw_operator.api import ConditionType, Phase
from openclaw_operator.providers.errors import Failure, FailureKind, RateLimited
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.failures import (
    BACKOFF_CAP,
    MIN_RATE_LIMIT_WAIT,
    backoff,
    is_frozen,
    retry_delay,
    status_after_failure,
)
from openclaw_operator.reconciler import first_ready

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def instance(
    generation: int = 3, status: dict | None = None, annotations: dict | None = None
) -> api.OpenClawInstance:
    return api.OpenClawInstance.from_body(
        {
            "metadata": {
                "name": "a",
                "namespace": "n",
                "uid": "u",
                "generation": generation,
                "annotations": annotations or {},
            },
            "spec": {"hostname": "a.example.com", "gatewayTokenSecretRef": {"name": "t"}},
            "status": status or {},
        }
    )


def test_last_transition_time_moves_only_when_the_status_flips() -> None:
    first = cond.merge((), {ConditionType.READY: cond.false("Creating", "x")}, 1, T0)
    same = cond.merge(first, {ConditionType.READY: cond.false("Booting", "y")}, 2, T1)
    flipped = cond.merge(same, {ConditionType.READY: cond.true("Ready", "z")}, 2, T1)
    assert same[0].last_transition_time == T0
    assert (same[0].reason, same[0].observed_generation) == ("Booting", 2)
    assert flipped[0].last_transition_time == T1


def test_conditions_keep_a_stable_order_and_untouched_ones() -> None:
    first = cond.merge(
        (), {ConditionType.DNS_READY: cond.true("a", "b"), ConditionType.READY: cond.true("a", "b")}, 1, T0
    )
    assert [c.type for c in first] == ["Ready", "DNSReady"]
    second = cond.merge(first, {ConditionType.STALLED: cond.false("a", "b")}, 1, T0)
    assert [c.type for c in second] == ["Ready", "Stalled", "DNSReady"]


READY_STATUS = {
    "phase": "Running",
    "conditions": [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "ok",
            "lastTransitionTime": T0.isoformat(),
        }
    ],
}


@pytest.mark.parametrize(
    ("kind", "status", "ready", "reconciling", "stalled", "phase"),
    [
        (FailureKind.STALLED, {}, "False", "False", "True", Phase.FAILED),
        (FailureKind.RETRYING, {}, "False", "True", None, Phase.PENDING),
        (FailureKind.RETRYING, READY_STATUS, "True", "True", None, Phase.RUNNING),  # serving: Ready stays
        (FailureKind.RATE_LIMITED, READY_STATUS, "True", "True", None, Phase.RUNNING),
        (FailureKind.WAITING, {}, "False", "True", None, Phase.PENDING),
    ],
)
def test_status_after_failure(
    kind: FailureKind, status: dict, ready: str, reconciling: str, stalled: str | None, phase: Phase
) -> None:
    inst = instance(status=status)
    after = status_after_failure(inst, inst.status, Failure(kind, "Why", "the provider said no"), T1)
    values = {c.type: c.status for c in after.conditions}
    assert (values.get("Ready"), values.get("Reconciling"), values.get("Stalled")) == (
        ready,
        reconciling,
        stalled,
    )
    assert after.phase == phase
    assert after.message == "the provider said no"
    assert after.observed_generation == 3


@pytest.mark.parametrize(("frozen", "refused"), [(True, 3), (False, None)])
def test_a_frozen_failure_records_the_refused_generation(frozen: bool, refused: int | None) -> None:
    inst = instance(status={"refusedGeneration": 2})
    failure = Failure(FailureKind.STALLED, "ProviderRejected", "no", frozen=frozen)
    after = status_after_failure(inst, inst.status, failure, T1)
    assert after.refused_generation == refused


def refused(generation: int, handled: str | None = None) -> dict:
    return {"refusedGeneration": generation, "lastHandledReconcileAt": handled}


@pytest.mark.parametrize(
    ("status", "annotations", "frozen"),
    [
        (refused(3), {}, True),
        (refused(2), {}, False),  # the spec changed since
        (refused(3, "r1"), {api.RECONCILE_REQUESTED_AT: "r2"}, False),  # asked again
        (refused(3, "r1"), {api.RECONCILE_REQUESTED_AT: "r1"}, True),
        ({"conditions": READY_STATUS["conditions"]}, {}, False),
        ({}, {}, False),
    ],
)
def test_is_frozen(status: dict, annotations: dict, frozen: bool) -> None:
    assert is_frozen(instance(status=status, annotations=annotations)) == frozen


@pytest.mark.parametrize(
    ("failure", "failures", "low", "high"),
    [
        (RateLimited("hetzner", retry_at=107.0, now=100.0), 0, 7.0, 7.0),  # the limiter knows when
        (RateLimited("hetzner", retry_at=100.0, now=100.0), 0, MIN_RATE_LIMIT_WAIT, MIN_RATE_LIMIT_WAIT),
        (Failure(FailureKind.RATE_LIMITED, "RateLimited", "429"), 5, 1.0, 2.0),  # a bare 429: short
        (Failure(FailureKind.RETRYING, "ProviderRetrying", "503"), 3, 4.0, 8.0),
        (Failure(FailureKind.RETRYING, "ProviderRetrying", "401", slow=True), 1, 240.0, 300.0),
        (Failure(FailureKind.WAITING, "GatewayTokenUnavailable", "no Secret"), 1, 1.0, 2.0),
        (Failure(FailureKind.NOT_FOUND, "ProviderRetrying", "gone"), 2, 2.0, 4.0),
    ],
)
def test_retry_delay(failure: Failure, failures: int, low: float, high: float) -> None:
    delay = retry_delay(failure, failures, random.Random(0))
    assert delay is not None and low <= delay <= high


def test_a_stall_is_not_retried_on_a_timer() -> None:
    stalled = Failure(FailureKind.STALLED, "ProviderRejected", "invalid_input", frozen=True)
    assert retry_delay(stalled, 1, random.Random(0)) is None


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    firsts = [backoff(1, False, rng) for _ in range(50)]
    assert all(1.0 <= d <= 2.0 for d in firsts) and len(set(firsts)) > 1
    assert all(4.0 <= backoff(3, False, rng) <= 8.0 for _ in range(50))
    assert all(backoff(30, False, rng) <= BACKOFF_CAP for _ in range(50))
    assert all(backoff(1, True, rng) >= 200 for _ in range(10))


@pytest.mark.parametrize(
    ("before", "after", "first"),
    [
        (None, Phase.RUNNING, True),
        (Phase.PROVISIONING, Phase.RUNNING, True),
        (Phase.RUNNING, Phase.RUNNING, False),
        (Phase.UPDATING, Phase.RUNNING, False),
        (Phase.PROVISIONING, Phase.PROVISIONING, False),
    ],
)
def test_first_ready_is_counted_once(before: Phase | None, after: Phase, first: bool) -> None:
    assert first_ready(api.InstanceStatus(phase=before), api.InstanceStatus(phase=after)) == first

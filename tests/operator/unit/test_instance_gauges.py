"""InstanceGauges: each pass moves only its own instance between phases and condition values."""

from __future__ import annotations

from openclaw_operator import api, metrics


def status(phase: api.Phase, ready: str) -> api.InstanceStatus:
    condition = {"type": "Ready", "status": ready, "reason": "R", "message": "m",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip
    return api.InstanceStatus.model_validate({"phase": phase.value, "conditions": [condition]})


def value(gauge: object, *labels: str) -> float:
    return gauge.labels(*labels)._value.get()  # type: ignore[attr-defined, no-any-return]


def test_gauges_follow_each_instance_and_forget_deleted_ones() -> None:
    gauges = metrics.InstanceGauges()  # starts every series at zero
    gauges.set("a", status(api.Phase.PROVISIONING, "False"))
    gauges.set("b", status(api.Phase.PROVISIONING, "False"))
    assert value(metrics.INSTANCES, "Provisioning") == 2
    gauges.set("a", status(api.Phase.RUNNING, "True"))
    gauges.set("a", status(api.Phase.RUNNING, "True"))  # a pass that changed nothing counts nothing
    assert value(metrics.INSTANCES, "Provisioning") == 1
    assert value(metrics.INSTANCES, "Running") == 1
    assert value(metrics.CONDITIONS, "Ready", "True") == 1
    assert value(metrics.CONDITIONS, "Ready", "False") == 1
    gauges.set("b", None)  # deleted
    gauges.set("a", None)
    assert value(metrics.INSTANCES, "Provisioning") == 0
    assert value(metrics.INSTANCES, "Running") == 0
    assert value(metrics.CONDITIONS, "Ready", "True") == 0

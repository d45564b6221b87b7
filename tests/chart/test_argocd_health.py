"""The Argo CD health check (docs/argocd-health.lua), run for real in Lua 5.1 — the dialect of gopher-lua,
which Argo CD embeds — through lupa, on statuses shaped by the operator's own models (api.py), so a
renamed status field breaks these tests rather than the verdicts in production."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import lupa.lua51 as lua51
import pytest

from openclaw_operator import api
from tests.chart.chartkit import REPO_ROOT

HEALTH_LUA = REPO_ROOT / "docs" / "argocd-health.lua"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def health(obj: dict[str, Any]) -> tuple[str, str]:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    runtime.globals().obj = runtime.table_from(obj, recursive=True)
    result = runtime.execute(HEALTH_LUA.read_text())
    return str(result["status"]), str(result["message"])


def condition(type_: api.ConditionType, status: api.ConditionStatus, message: str = "") -> api.Condition:
    return api.Condition(
        type=type_.value, status=status, reason="Test", message=message, last_transition_time=NOW
    )


def instance(
    *conditions: api.Condition,
    generation: int = 3,
    observed: int | None = 3,
    phase: api.Phase | None = None,
    deleting: bool = False,
    with_status: bool = True,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "alice", "namespace": "customers", "generation": generation}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-01T00:00:00Z"
    body: dict[str, Any] = {"apiVersion": api.API_VERSION, "kind": api.KIND, "metadata": metadata}
    if with_status:
        status = api.InstanceStatus(observed_generation=observed, phase=phase, conditions=conditions)
        body["status"] = status.to_api()
    return body


Ready, Stalled, Reconciling = (
    api.ConditionType.READY,
    api.ConditionType.STALLED,
    api.ConditionType.RECONCILING,
)

CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "no status yet": (instance(with_status=False), "Progressing", "pick up"),
    "status without conditions": (instance(observed=None), "Progressing", "generation 3"),
    "older generation observed": (
        instance(condition(Ready, "True", "serving"), observed=2, phase=api.Phase.RUNNING),
        "Progressing",
        "generation 3",
    ),
    "stalled wins over an old Ready": (
        instance(
            condition(Ready, "False", "server type cx99 does not exist"),
            condition(Stalled, "True", "server type cx99 does not exist"),
            phase=api.Phase.FAILED,
        ),
        "Degraded",
        "cx99",
    ),
    "ready and running": (
        instance(condition(Ready, "True", "OpenClaw is serving"), condition(Stalled, "False")),
        "Healthy",
        "OpenClaw is serving",
    ),
    "ready and suspended": (
        instance(condition(Ready, "True", "powered off"), phase=api.Phase.SUSPENDED),
        "Suspended",
        "powered off",
    ),
    "provisioning": (
        instance(
            condition(Ready, "False", "waiting for the server"),
            condition(Reconciling, "True", "waiting for the server"),
            condition(Stalled, "False"),
            phase=api.Phase.PROVISIONING,
        ),
        "Progressing",
        "waiting for the server",
    ),
    "ready unknown": (instance(condition(Ready, "Unknown")), "Progressing", "Waiting for the instance"),
    "being deleted": (
        instance(condition(Ready, "True", "serving"), phase=api.Phase.DELETING, deleting=True),
        "Progressing",
        "Deleting",
    ),
}


@pytest.mark.parametrize(("obj", "verdict", "message_part"), CASES.values(), ids=CASES.keys())
def test_health_verdicts(obj: dict[str, Any], verdict: str, message_part: str) -> None:
    status, message = health(obj)
    assert status == verdict
    assert message_part in message


def test_every_argo_verdict_is_reachable() -> None:
    """The script uses exactly Argo CD's health statuses for this kind, each one at least once."""
    assert {verdict for _, verdict, _ in CASES.values()} == {
        "Healthy",
        "Progressing",
        "Degraded",
        "Suspended",
    }


def test_health_check_is_documented_for_installation() -> None:
    gitops = (REPO_ROOT / "docs" / "gitops.md").read_text()
    assert "resource.customizations.health.clawhost.dev_OpenClawInstance" in gitops
    # The snippet in the docs is the script itself, not a copy that could drift.
    script_lines = [line for line in HEALTH_LUA.read_text().splitlines() if line.strip()]
    assert all(line in gitops for line in script_lines if not line.lstrip().startswith("--"))

"""The chart's `openclaw.rollout` values (docs/channel.md, "Fleet rollout") reach every operator
Deployment, one per shard (the cap is per shard), as the CLAWHOST_UPDATE_* variables, and the rendered
environment is an operator configuration with that policy. Values the operator would refuse at its
start are refused by the chart's schema first."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_operator.config import load_config
from tests.chart.chartkit import SHARD_VALUES, container_env, helm, of_kind, render, template_args

ROLLOUT_VARS = (
    "CLAWHOST_UPDATE_MAX_PARALLEL",
    "CLAWHOST_UPDATE_CANARY_PERCENT",
    "CLAWHOST_UPDATE_FAILURE_BUDGET",
)
SETTINGS = {"HCLOUD_TOKEN": "h", "CLOUDFLARE_API_TOKEN": "c", "CLAWHOST_MANAGED_ZONES": "example.com"}


@pytest.mark.parametrize(
    ("values", "sets", "policy"),
    [
        ((), [], (10, 10, 2)),
        ((SHARD_VALUES,), [], (10, 10, 2)),
        (
            (SHARD_VALUES,),
            [
                "openclaw.rollout.maxParallel=3",
                "openclaw.rollout.canaryPercent=0",
                "openclaw.rollout.failureBudget=5",
            ],
            (3, 0, 5),
        ),
    ],
    ids=["defaults", "defaults, every shard", "set, every shard"],
)
def test_every_deployment_gets_the_rollout_policy(
    values: tuple[Path, ...], sets: list[str], policy: tuple[int, int, int]
) -> None:
    deployments = of_kind(render(values=values, sets=sets), "Deployment")
    assert deployments
    for deployment in deployments:
        env = container_env(deployment)
        config = load_config({**SETTINGS, **{name: env[name] for name in ROLLOUT_VARS}})
        assert (
            config.update_max_parallel,
            config.update_canary_percent,
            config.update_failure_budget,
        ) == policy


BAD_ROLLOUT_VALUES = {
    "no parallelism": "openclaw.rollout.maxParallel=0",
    "a share over 100 %": "openclaw.rollout.canaryPercent=101",
    "a budget of nothing": "openclaw.rollout.failureBudget=0",
    "not a number": "openclaw.rollout.maxParallel=many",
    "unknown key": "openclaw.rollout.waves=3",
}


@pytest.mark.parametrize("assignment", BAD_ROLLOUT_VALUES.values(), ids=BAD_ROLLOUT_VALUES.keys())
def test_schema_rejects_bad_rollout_values(assignment: str) -> None:
    result = helm(*template_args(sets=[assignment]), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr

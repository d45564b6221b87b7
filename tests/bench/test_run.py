"""Which fleets a run measures, and with which time scale, window and start-up allowance."""

from __future__ import annotations

import pytest

from bench.run import FULL_STEADY, QUICK_STEADY, Sizing, parse_args, sharded_config, steady_plan


@pytest.mark.parametrize(
    ("quick", "sizes", "expected"),
    [
        (False, None, FULL_STEADY),
        (True, None, QUICK_STEADY),
        (False, "1000", {1000: FULL_STEADY[1000]}),
        (True, "100,1000", {100: QUICK_STEADY[100], 1000: FULL_STEADY[1000]}),  # quick first, else full
        (False, "250", {250: Sizing(20.0, 20.0, 3600.0, 300.0)}),  # a size of its own gets the defaults
    ],
)
def test_steady_plan(quick: bool, sizes: str | None, expected: dict[int, Sizing]) -> None:
    assert steady_plan(quick, sizes) == expected


def test_full_plan_measures_the_sizes_the_issue_names() -> None:
    assert sorted(FULL_STEADY) == [100, 1000, 5000]
    assert FULL_STEADY[1000].window == 3600.0  # the headline target is per simulated hour at 1,000
    args = parse_args([])
    assert (args.quick, args.no_burst, args.burst_instances) == (False, False, 200)


def test_the_scale_scenarios_are_opt_in_and_default_to_the_issues_fleet() -> None:
    plain, scale = parse_args([]), parse_args(["--scale"])
    assert (plain.scale, scale.scale) == (False, True)
    full = sharded_config(scale)
    assert (full.instances, full.burst_instances) == (10_000, 1_000)  # issue 16: 10,000 and a burst of 1,000
    assert sum(len(shard.projects) for shard in full.shards) == 3 and len(full.shards) == 2
    quick = sharded_config(parse_args(["--scale", "--quick"]))
    assert quick.instances < full.instances and quick.burst_instances < full.burst_instances

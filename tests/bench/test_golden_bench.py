"""bench/golden.py's arithmetic: order -> Ready percentiles by nearest rank, and the report's table."""

from __future__ import annotations

from bench.golden import golden_markdown, nearest_rank, order_to_ready
from bench.run import parse_args


def test_percentiles_are_nearest_rank_from_the_order() -> None:
    ready = {f"u{i}": 100.0 + i for i in range(1, 201)}  # 1..200 s after an order at 100
    assert order_to_ready(100.0, ready) == {"p50": 101.0, "p99": 199.0, "max": 200.0}
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0
    assert order_to_ready(0.0, {}) is None


def test_the_report_shows_both_runs() -> None:
    run = {"ready": 2, "order_to_ready_seconds": {"p50": 1.0, "p99": 2.0, "max": 2.0},
           "one_server_chain_seconds": 1.5, "boot_images": {"Golden": 2}}  # fmt: skip
    results = {"instances": 2, "boot_model": {"cold": 66.2, "golden": 12.9}, "tcg_slowdown": 44.24,
               "cold": {**run, "boot_images": {"Base": 2}}, "golden": run}  # fmt: skip
    table = golden_markdown(results)
    assert "| cold | 2 | 1.0 | 2.0 | 2.0 | 1.5 | {'Base': 2} |" in table
    assert "| golden | 2 | 1.0 | 2.0 | 2.0 | 1.5 | {'Golden': 2} |" in table


def test_make_bench_runs_it_unless_told_not_to() -> None:
    assert parse_args([]).no_golden is False
    assert parse_args(["--no-golden"]).no_golden is True

"""bench/golden.py's arithmetic: order -> Ready percentiles by nearest rank, and the report's table."""

from __future__ import annotations

from bench.golden import golden_markdown, nearest_rank, order_to_ready, waits_from_status
from bench.run import parse_args


def test_percentiles_are_nearest_rank() -> None:
    assert order_to_ready([float(i) for i in range(200, 0, -1)]) == {"p50": 101.0, "p99": 199.0, "max": 200.0}
    assert nearest_rank([3.0, 1.0, 2.0], 0.5) == 2.0
    assert order_to_ready([]) is None


def test_waits_run_from_the_order_to_readys_transition() -> None:
    def item(created: str, ready: str | None, status: str = "True") -> dict[str, object]:
        conditions = [{"type": "Ready", "status": status, "lastTransitionTime": ready}] if ready else []
        return {"metadata": {"creationTimestamp": created}, "status": {"conditions": conditions}}

    items = [
        item("2026-12-04T01:00:00Z", "2026-12-04T01:00:42.500000+00:00"),
        item("2026-12-04T01:00:01Z", "2026-12-04T01:01:01Z"),
        item("2026-12-04T01:00:01Z", "2026-12-04T01:00:30Z", status="False"),  # not Ready: not counted
        item("2026-12-04T01:00:01Z", None),
    ]
    assert waits_from_status(items, 1.0) == [42.5, 60.0]
    assert waits_from_status(items[:1], 2.0) == [85.0]


def test_the_report_shows_both_runs() -> None:
    run = {"ready": 2, "order_to_ready_seconds": {"p50": 1.0, "p99": 2.0, "max": 2.0},
           "one_server_chain_seconds": 1.5, "boot_images": {"Golden": 2}}  # fmt: skip
    results = {"instances": 2, "boot_model": {"cold": 66.2, "golden": 12.9}, "tcg_slowdown": 44.24,
               "cold": {**run, "boot_images": {"Base": 2}}, "golden": run}  # fmt: skip
    table = golden_markdown(results)
    assert "| cold | 2 | 1.0 | 2.0 | 2.0 | 1.5 | {'Base': 2} |" in table
    assert "| golden | 2 | 1.0 | 2.0 | 2.0 | 1.5 | {'Golden': 2} |" in table


def test_the_report_shows_the_pool_run_or_why_it_was_skipped() -> None:
    run = {"ready": 2, "order_to_ready_seconds": {"p50": 8.0, "p99": 9.0, "max": 9.5},
           "one_server_chain_seconds": 7.4, "boot_images": {"Pool": 2},
           "pool_slots": {"fsn1": 1, "nbg1": 1}, "pool_fill": {"seconds": 60.0},
           "personalise_seconds": 7.0, "personalised_by_agents": 2}  # fmt: skip
    results = {"instances": 2, "boot_model": {"cold": 77.9, "golden": 20.1}, "tcg_slowdown": 5.37,
               "pool": run}  # fmt: skip
    table = golden_markdown(results)
    assert "| pool | 2 | 8.0 | 9.0 | 9.5 | 7.4 | {'Pool': 2} |" in table
    assert "2 servers personalised" in table
    skipped = golden_markdown({**results, "pool": {"skipped": "needs /usr/sbin/sshd"}})
    assert "| pool | skipped: needs /usr/sbin/sshd |" in skipped


def test_make_bench_runs_it_unless_told_not_to() -> None:
    assert parse_args([]).no_golden is False
    assert parse_args(["--no-golden"]).no_golden is True
    assert parse_args([]).no_pool is False
    assert parse_args(["--no-pool"]).no_pool is True

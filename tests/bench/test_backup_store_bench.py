"""`make bench` reports the backup store: bench.run runs it by default (beside the hibernate cycle and its
PowerOff-vs-Hibernate costs), in a process of its own against the real versitygw, and the report shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.backup_store import backup_store_markdown, run_backup_store
from bench.run import parse_args
from tests.support.s3 import BUILD_SCRIPT, versitygw_binary


def test_make_bench_runs_the_backup_store_and_the_hibernate_cycle_by_default() -> None:
    args = parse_args([])
    assert (args.no_backup_store, args.backup_store_instances, args.no_hibernate) == (False, 5000, False)


def test_the_backup_store_entry_lists_every_instance_and_reports_it(tmp_path: Path) -> None:
    if versitygw_binary() is None:
        pytest.skip(f"versitygw is not built: run {BUILD_SCRIPT} (or `make s3server`)")
    found = run_backup_store(1200, tmp_path)
    # 1,200 objects take two ListObjectsV2 pages of 1,000 keys: the count is the adapter's, not a constant.
    assert (found["instances"], found["list_objects"], found["list_requests"]) == (1200, 1200, 2)
    assert found["presigned_urls_per_second"] > 0
    report = backup_store_markdown(found)
    assert "| 1,200 | 2 |" in report

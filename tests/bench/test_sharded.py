"""The sharded bench (bench/sharded.py) and the memory probe (bench/footprint.py, bench/memprobe.py) at a tiny
size against the real apiserver, the simulators and the real operator processes: the code `make bench`
runs at 10,000 stays exercised, and its figures come from what the simulators saw."""

from __future__ import annotations

from pathlib import Path

from clawhost_sandbox.controlplane import ClusterAccess

from bench.cluster import Cluster
from bench.footprint import FootprintConfig, run_footprint
from bench.report import assemble, markdown
from bench.sharded import SHARDS, ShardedConfig, project_of, run_sharded, shard_of, sharded_body
from openclaw_operator import api
from tests.bench.test_report import META


def test_instances_are_spread_over_shards_and_their_projects() -> None:
    placed = [(shard_of(i, SHARDS).name, project_of(i, SHARDS)) for i in range(8)]
    assert placed == [("default", "p1"), ("b", "p3"), ("default", "p2"), ("b", "p3")] * 2
    assert api.SHARD_LABEL not in sharded_body(0, SHARDS)["metadata"]["labels"]  # the default shard's own
    assert sharded_body(1, SHARDS)["metadata"]["labels"][api.SHARD_LABEL] == "b"


def test_sharded_run_at_a_tiny_size(cluster: ClusterAccess, tmp_path: Path) -> None:
    cfg = ShardedConfig(
        instances=12,
        burst_instances=6,
        time_scale=30.0,
        window_seconds=900.0,
        baseline_burst_time_scale=10.0,
        burst_timeout_sim_seconds=600.0,
        settle_timeout=180.0,
    )
    found = run_sharded(Cluster(cluster), cfg, tmp_path)
    steady = found["steady_state"]
    assert set(steady["projects"]) == {"p1", "p2", "p3"}
    assert {name: p["servers"] for name, p in steady["projects"].items()} == {"p1": 3, "p2": 3, "p3": 6}
    assert set(steady["processes"]) == {"default", "b"}
    for project in steady["projects"].values():
        assert project["list_passes"] >= 1
        assert project["hetzner_requests_per_hour"] > 0
    assert steady["drift"]["deletions"] == 3
    assert len(steady["drift"]["noticed_seconds"]) == 3  # every deletion seen by its project's listing
    assert all(p["reconciles"] > 0 for p in steady["processes"].values())
    naive = found["baseline"]["steady_state"]
    assert set(naive["processes"]) == {"p1", "p2", "p3"}  # one baseline per project
    burst = found["burst"]
    assert burst["ready"] == 6
    assert burst["duplicate_servers"] == 0
    assert burst["time_to_all_ready_seconds"] >= burst["lower_bound_seconds"] > 0
    # Each shard placed its own in its own projects: shard b's three in p3, the default's in p1 and p2.
    assert burst["projects"]["p3"]["servers"] == 3
    assert burst["projects"]["p1"]["servers"] + burst["projects"]["p2"]["servers"] == 3
    # The results document carries the run, with a verdict per target and its markdown section.
    doc = assemble({**META, "wall_seconds": 1.0}, {}, None, None, {"sharded": found})
    assert doc["sharded"] is found
    assert doc["targets"]["sharded_burst_zero_duplicates"] is True
    assert doc["targets"]["sharded_peak_rss_within_250_mb_per_shard"] is not None
    assert "## Sharded: 12 instances, 3 Hetzner projects, 2 shards" in markdown(doc, None)


def test_footprint_reports_rss_and_where_memory_goes(cluster: ClusterAccess, tmp_path: Path) -> None:
    found = run_footprint(Cluster(cluster), FootprintConfig(sizes=(5, 20), time_scale=30.0), tmp_path)
    assert found["baseline"]["peak_rss_mb"] > 30
    at_20 = found["20"]
    assert at_20["settled"]
    assert at_20["peak_rss_mb"] >= at_20["rss_at_rest_mb"] > 30
    parts = at_20["structures"]
    assert parts["counts"]["kopf Body (live body per timer)"] == 20  # one live body per instance's timer
    assert parts["counts"]["ServerObservation"] >= 20
    assert parts["observer snapshots (servers, records, views)"]["objects"] > 0

"""Footprint: the operator's memory with N seeded Ready instances in one shard, and where it goes.

For each N the operator starts against a seeded fleet (bench/seed.py: it has nothing to do), settles (one
pass per instance), runs two more resync intervals, and is then read: peak RSS (the kernel's VmHWM: the
start-up, when every object arrives at once, is usually the peak) and RSS at rest, then the breakdown of
bench/memprobe.py (its SIGUSR1 report). An operator watching an empty namespace gives the baseline every
fleet pays: the interpreter, the imported libraries, the threads and pools.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.cluster import Cluster
from bench.fleet import ZONE, Clouds
from bench.processes import RESYNC_SECONDS, OperatorProcess, operator_env
from bench.seed import GATEWAY_SECRET, instance_body
from bench.steady import seed_ready
from openclaw_operator import api

TARGET_PEAK_RSS_MB_AT_5000 = 250.0


@dataclass(frozen=True)
class FootprintConfig:
    sizes: tuple[int, ...] = (1000, 5000)
    time_scale: float = 10.0
    intervals_after_settling: float = 2.0
    settle_timeout: float = 600.0  # wall seconds
    tracemalloc: bool = False  # allocations by package too (slower, and inflates RSS: no RSS target then)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} for {pid}")


def run_footprint(cluster: Cluster, cfg: FootprintConfig, workdir: Path) -> dict[str, Any]:
    found: dict[str, Any] = {"baseline": _measure(cluster, cfg, 0, workdir)}
    for n in cfg.sizes:
        found[str(n)] = _measure(cluster, cfg, n, workdir)
        print(f"bench:   {n}: peak RSS {found[str(n)]['peak_rss_mb']} MB", flush=True)
    found["per_instance_kb"] = _per_instance(found, cfg.sizes)
    found["tracemalloc"] = cfg.tracemalloc
    return found


def _per_instance(found: dict[str, Any], sizes: tuple[int, ...]) -> float | None:
    """The slope of RSS at rest between the smallest and the largest fleet: what one more instance costs."""
    if len(sizes) < 2:
        return None
    low, high = found[str(min(sizes))], found[str(max(sizes))]
    return round((high["rss_at_rest_mb"] - low["rss_at_rest_mb"]) * 1024 / (max(sizes) - min(sizes)), 1)


def _measure(cluster: Cluster, cfg: FootprintConfig, n: int, workdir: Path) -> dict[str, Any]:
    namespace = cluster.namespace(f"footprint-{n}")
    cluster.secret(namespace, GATEWAY_SECRET)
    created = cluster.create_instances(namespace, [instance_body(i, ZONE) for i in range(n)])
    instances = [api.OpenClawInstance.from_body(body) for body in created]
    report = workdir / f"memory-{n}.json"
    with Clouds(cfg.time_scale) as clouds:
        env = operator_env(clouds.hetzner, clouds.cloudflare, cluster.access, [ZONE], cfg.time_scale)
        if cfg.tracemalloc:
            env["BENCH_TRACEMALLOC"] = "1"
        seed_ready(cluster, clouds, namespace, instances, env)
        operator = OperatorProcess(env, [namespace], workdir / f"operator-footprint-{n}.log",
                                   memory_report=report)  # fmt: skip
        operator.start()
        try:
            started = time.monotonic()
            settled = _wait(lambda: _listed(clouds), cfg.settle_timeout, operator)
            settled = settled and operator.wait_for_reconciles(n, cfg.settle_timeout)
            settle_wall = time.monotonic() - started
            rest = cfg.intervals_after_settling * RESYNC_SECONDS / cfg.time_scale
            deadline = time.monotonic() + rest
            while time.monotonic() < deadline and operator.alive():
                operator.sample_rss()
                time.sleep(0.5)
            peak, at_rest = operator.peak_rss_mb(), rss_mb(operator.pid)
            os.kill(operator.pid, signal.SIGUSR1)
            breakdown = _wait_for_report(report, operator)
        finally:
            operator.kill()
    return {
        "instances": n,
        "settled": settled,
        "settle_wall_seconds": round(settle_wall, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_at_rest_mb": round(at_rest, 1),
        **breakdown,
    }


def _listed(clouds: Clouds) -> bool:
    """The operator is up: its observer has listed the servers once."""
    return any(r.template == "/servers" and r.method == "GET" for r in clouds.hetzner.request_log)


def _wait(done: Callable[[], bool], timeout: float, operator: OperatorProcess) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and operator.alive():
        if done():
            return True
        time.sleep(0.5)
    return False


def _wait_for_report(path: Path, operator: OperatorProcess, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and operator.alive():
        if path.exists():
            try:
                return dict(json.loads(path.read_text()))
            except ValueError:  # still being written
                pass
        time.sleep(0.5)
    return {}

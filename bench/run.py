"""`make bench` (`python -m bench.run`): every scenario against a fresh local control plane and fresh
simulators; results in bench/results/<date>.json, .md and .png.

Time scales are chosen per scenario so that the reconcilers' own CPU work (which runs in real time) stays a
small part of each simulated interval on a 2-core machine: more instances, slower clock.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.burst import BurstConfig, run_burst
from bench.cluster import Cluster
from bench.report import assemble, chart, markdown
from bench.steady import SteadyConfig, run_steady
from openclaw_operator.sandbox.controlplane import ControlPlane
from tests.conftest import install_crd  # the one place that knows how the CRD becomes served

REPO_ROOT = Path(__file__).resolve().parent.parent
# instances -> (time scale, simulated window seconds)
FULL_STEADY = {100: (60.0, 3600.0), 1000: (20.0, 3600.0), 5000: (10.0, 1800.0)}
QUICK_STEADY = {20: (30.0, 900.0), 100: (30.0, 900.0)}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small fleets and short windows (a smoke run)")
    parser.add_argument("--sizes", help="comma-separated fleet sizes (default: 100,1000,5000)")
    parser.add_argument("--no-burst", action="store_true")
    parser.add_argument("--burst-instances", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="write a cProfile of each operator run")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    return parser.parse_args(argv)


def commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT
    )
    return result.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plan = QUICK_STEADY if args.quick else FULL_STEADY
    if args.sizes:
        plan = {
            int(n): plan.get(int(n), FULL_STEADY.get(int(n), (20.0, 3600.0))) for n in args.sizes.split(",")
        }
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="clawhost-bench-"))
    print(f"bench: working directory {workdir}", flush=True)
    plane = ControlPlane(workdir / "controlplane", controller_manager=False)
    steady: dict[int, dict[str, object]] = {}
    burst = None
    try:
        access = plane.start()
        install_crd(access)
        cluster = Cluster(access)
        for n, (scale, window) in plan.items():
            print(f"bench: steady state, {n} instances, {scale:g}x, {window:g} simulated s", flush=True)
            run = run_steady(
                cluster, SteadyConfig(n, scale, window_seconds=window, profile=args.profile), workdir
            )
            steady[n] = {"time_scale": scale, **run}
            print(f"bench:   Hetzner/h ours {run['ours']['hetzner_requests_per_hour']}, "
                  f"naive {run['baseline']['hetzner_requests_per_hour']}", flush=True)  # fmt: skip
        if not args.no_burst:
            instances = 20 if args.quick else args.burst_instances
            print(f"bench: burst of {instances}", flush=True)
            scale = 10.0 if args.quick else 2.0
            burst = run_burst(cluster, BurstConfig(instances=instances, time_scale=scale), workdir)
    finally:
        plane.stop()
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    meta = {
        "date": date,
        "command": "make bench"
        if not argv and not sys.argv[1:]
        else "python -m bench.run " + " ".join(sys.argv[1:]),
        "commit": commit(),
        "machine": f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        "wall_seconds": round(time.monotonic() - started, 1),
        "time_scale": plan.get(1000, next(iter(plan.values())))[0],
        "time_scales": {
            "steady_state": {str(n): s for n, (s, _) in plan.items()},
            "burst": burst["time_scale"] if burst else None,
        },
        "workdir": str(workdir),
    }
    results = assemble(meta, steady, burst)  # type: ignore[arg-type]
    args.out.mkdir(parents=True, exist_ok=True)
    stem = date + ("-quick" if args.quick else "")
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    chart(results, args.out / f"{stem}.png")
    (args.out / f"{stem}.md").write_text(markdown(results, f"{stem}.png"))
    print(markdown(results, None))
    print(f"bench: wrote {args.out / stem}.{{json,md,png}} in {results['wall_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Steady state: N Ready instances for one simulated hour, the operator and the naive baseline in turn,
each against freshly seeded simulators (same seed, so the same servers, records and drift victims).

The hour starts once the reconciler has settled (every instance reconciled once after start); the start-up
is reported on its own. During the hour a few servers are deleted out of band; drift detection is the
simulated time from the deletion to the reconciler's POST /servers that replaces it (the first request
that can only follow from having noticed).
"""

from __future__ import annotations

import itertools
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator

from bench.accounting import first_answer, listing_passes, noticed_by_listing, percentiles, tally
from bench.cluster import Cluster
from bench.fleet import ZONE, Clouds
from bench.processes import (
    CLOUDFLARE_TOKEN,
    POLL_SECONDS,
    RESYNC_SECONDS,
    MeasuredProcess,
    NaiveProcess,
    OperatorProcess,
    operator_env,
    project_token,
)
from bench.seed import (
    GATEWAY_SECRET,
    SeededInstance,
    instance_body,
    ready_statuses,
    seed_records,
    seed_servers,
)
from openclaw_operator import api
from openclaw_operator.config import DEFAULT_PROJECT, Config, load_config
from openclaw_operator.reconcile.model import Zone

WORKERS: int = Config.model_fields["concurrency"].default  # the naive one gets the operator's default
# A reconciler keeps its schedule if it reconciles (nearly) every instance once per resync interval (the
# operator's drift timer, the baseline's requeue); failed reconciles (429s) are retried sooner, so a
# rate-limited baseline can exceed one. The operator must also list once per interval.
# At the window's edges and with timers whose period is a little over the interval, a reconciler on
# schedule shows 0.75-0.95 over an hour and less over a short window; one that fell behind, far less.
KEEPS_UP = 0.6


@dataclass(frozen=True)
class SteadyConfig:
    instances: int
    time_scale: float
    window_seconds: float = 3600.0  # simulated
    drift_deletions: int = 3
    seed: int = 0
    settle_timeout: float = 900.0  # wall seconds
    baseline_time_scale: float | None = None  # the baseline's own, if it differs
    profile: bool = False


def seed_fleet(clouds: Clouds, instances: list[api.OpenClawInstance], config: Config) -> list[SeededInstance]:
    ids = seed_servers(clouds.hetzner, instances, config)
    seeded = [SeededInstance(instance, server_id) for instance, server_id in zip(instances, ids, strict=True)]
    seed_records(clouds.cloudflare, ZONE, seeded, rendered_servers(clouds))
    return seeded


def seed_ready(
    cluster: Cluster,
    clouds: Clouds,
    namespace: str,
    instances: list[api.OpenClawInstance],
    env: dict[str, str],
) -> list[SeededInstance]:
    """Servers and records in the simulators, and each instance's Ready status in the apiserver: the
    state the operator (configured by `env`) would have left, so it starts with nothing to do."""
    config = load_config(env)
    seeded = seed_fleet(clouds, instances, config)
    zone = Zone(clouds.cloudflare.zone_id(ZONE), ZONE)
    statuses = ready_statuses(seeded, rendered_servers(clouds), zone, clouds.cloudflare.records(), config)
    cluster.patch_statuses(namespace, statuses)
    return seeded


def rendered_servers(clouds: Clouds) -> dict[int, dict[str, Any]]:
    return {int(server["id"]): server for server in clouds.hetzner.servers()}


def run_steady(cluster: Cluster, cfg: SteadyConfig, workdir: Path) -> dict[str, Any]:
    namespace = cluster.namespace(f"bench-{cfg.instances}")
    cluster.secret(namespace, GATEWAY_SECRET)
    started = time.monotonic()
    created = cluster.create_instances(namespace, [instance_body(i, ZONE) for i in range(cfg.instances)])
    instances = [api.OpenClawInstance.from_body(body) for body in created]
    print(f"  {cfg.instances} instances created in {time.monotonic() - started:.0f}s", flush=True)
    ours = _operator(cluster, cfg, namespace, instances, workdir)
    naive = _naive(cluster, cfg, created, instances, workdir)
    return {"ours": ours, "baseline": naive}


def _operator(
    cluster: Cluster, cfg: SteadyConfig, namespace: str, instances: list[api.OpenClawInstance], workdir: Path
) -> dict[str, Any]:
    with Clouds(cfg.time_scale, cfg.seed) as clouds:
        env = operator_env(clouds.hetzner, clouds.cloudflare, cluster.access, [ZONE], cfg.time_scale)
        seeded = seed_ready(cluster, clouds, namespace, instances, env)
        log = workdir / f"operator-steady-{cfg.instances}.log"
        profile = workdir / f"operator-steady-{cfg.instances}.prof" if cfg.profile else None
        operator = OperatorProcess(env, [namespace], log, profile)
        operator.start()
        try:
            return _measure(clouds, operator, cfg, seeded, lambda: operator.reconciles() >= cfg.instances)
        finally:
            # Measured already: no need to wait for thousands of Kopf timers to wind down, unless the
            # profiler has to write its file on a clean exit.
            operator.stop(grace=120) if cfg.profile else operator.kill()


def _naive(
    cluster: Cluster,
    cfg: SteadyConfig,
    bodies: list[dict[str, Any]],
    instances: list[api.OpenClawInstance],
    workdir: Path,
) -> dict[str, Any]:
    scale = cfg.baseline_time_scale or cfg.time_scale
    with Clouds(scale, cfg.seed) as clouds:
        env = operator_env(clouds.hetzner, clouds.cloudflare, cluster.access, [ZONE], scale)
        seeded = seed_fleet(clouds, instances, load_config(env))
        process = start_naive(clouds, scale, bodies, [s.server_id for s in seeded], workdir,
                              f"steady-{cfg.instances}")  # fmt: skip
        initial_gets = cfg.instances

        def settled() -> bool:
            return _naive_reconciles(clouds, float("-inf"), float("inf")) >= initial_gets

        try:
            return _measure(clouds, process, cfg, seeded, settled)
        finally:
            process.stop()


def start_naive(
    clouds: Clouds,
    time_scale: float,
    bodies: list[dict[str, Any]],
    server_ids: list[int | None],
    workdir: Path,
    label: str,
    project: str = DEFAULT_PROJECT,
    cloudflare: CloudflareSimulator | None = None,
    zone: str = ZONE,
    cloudflare_token: str = CLOUDFLARE_TOKEN,
) -> NaiveProcess:
    """The baseline for these instances, against one Hetzner project and one Cloudflare account (by
    default the scenario's own)."""
    cloudflare = cloudflare or clouds.cloudflare
    instances_file = workdir / f"naive-{label}-instances.json"
    instances_file.write_text(
        json.dumps([{"body": b, "server_id": s} for b, s in zip(bodies, server_ids, strict=True)])
    )
    config_file = workdir / f"naive-{label}.json"
    config_file.write_text(
        json.dumps(
            {
                "hetzner_url": clouds.hetzner.url,
                "cloudflare_url": cloudflare.url,
                "zone": zone,
                "app_health_url": clouds.hetzner.app_health_url(0).replace("/0/", "/{server_id}/"),
                "time_scale": time_scale,
                "resync_seconds": RESYNC_SECONDS,
                "poll_seconds": POLL_SECONDS,
                "workers": WORKERS,
                "instances_file": str(instances_file),
            }
        )
    )
    process = NaiveProcess(config_file, workdir / f"naive-{label}.log", project_token(project),
                           cloudflare_token)  # fmt: skip
    process.start()
    return process


def _naive_reconciles(clouds: Clouds, start: float, end: float) -> int:
    """Each naive reconcile starts with one GET of its server (by id, or by name before it has one)."""
    ops = tally(clouds.hetzner.request_log, clouds.hetzner.api_prefix, start, end).by_operation
    by_name = sum(
        1
        for r in clouds.hetzner.request_log
        if r.template == "/servers" and r.method == "GET" and "name=" in r.query and start <= r.sim_time < end
    )
    return ops.get("GET /servers/{id}", 0) + by_name


def _measure(
    clouds: Clouds, process: MeasuredProcess, cfg: SteadyConfig, seeded: list[SeededInstance], settled: Any
) -> dict[str, Any]:
    clock = clouds.clock
    launched_sim, launched_wall = clock.now(), time.monotonic()
    deadline = launched_wall + cfg.settle_timeout
    # A reconciler that never settles is measured anyway: how it behaves while overwhelmed is a result too.
    while not (done := settled()) and time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"exited during start-up; log tail:\n{process.log_text()[-3000:]}")
        process.sample_rss()
        time.sleep(0.2)
    start = clock.now()
    settle = {"wall_seconds": time.monotonic() - launched_wall, "sim_seconds": start - launched_sim}
    cpu0, reconciles0 = process.cpu_seconds(), _reconciles(process, clouds, start)
    end = start + cfg.window_seconds
    rng = random.Random(cfg.seed)
    victims = rng.sample(seeded, cfg.drift_deletions)
    # Deletions in the first two thirds, so each has more than a resync interval left to be noticed.
    offsets = sorted(rng.uniform(0.05, 0.66) * cfg.window_seconds for _ in victims)
    deletions: list[tuple[float, SeededInstance]] = []
    while clock.now() < end:
        if offsets and clock.now() >= start + offsets[0]:
            offsets.pop(0)
            victim = victims[len(deletions)]
            clouds.hetzner.delete_server_out_of_band(victim.server_id)
            deletions.append((clock.now(), victim))
        process.sample_rss()
        time.sleep(min(0.2, max(0.01, (end - clock.now()) / clock.time_scale)))
    cpu = process.cpu_seconds() - cpu0
    reconciles = _reconciles(process, clouds, start) - reconciles0
    is_operator = isinstance(process, OperatorProcess)
    per_resync = reconciles / cfg.instances / (cfg.window_seconds / RESYNC_SECONDS)
    hetzner = tally(clouds.hetzner.request_log, clouds.hetzner.api_prefix, start, end)
    cloudflare = tally(clouds.cloudflare.request_log, clouds.cloudflare.api_prefix, start, end)
    drift = drift_figures(clouds, deletions, isinstance(process, OperatorProcess))
    # A repair may fall after the window's end (requests are counted in the window only): give the
    # reconciler up to two more intervals to finish what it noticed, so a late repair is not a miss.
    grace_end = clock.now() + 2 * RESYNC_SECONDS
    while (
        len(drift["repair_started_seconds"]) < len(deletions) and clock.now() < grace_end and process.alive()
    ):
        time.sleep(0.2)
        drift = drift_figures(clouds, deletions, isinstance(process, OperatorProcess))
    startup_h = tally(clouds.hetzner.request_log, clouds.hetzner.api_prefix, launched_sim, start)
    startup_c = tally(clouds.cloudflare.request_log, clouds.cloudflare.api_prefix, launched_sim, start)
    app_checks = sum(
        1 for r in clouds.hetzner.request_log if "/_sim/app/" in r.path and start <= r.sim_time < end
    )
    return {
        "time_scale": clock.time_scale,
        "hetzner_requests_per_hour": round(hetzner.per_hour, 1),
        "cloudflare_requests_per_hour": round(cloudflare.per_hour, 1),
        "hetzner_rate_limited": hetzner.rate_limited,
        "cloudflare_rate_limited": cloudflare.rate_limited,
        "drift_detection_seconds": _worst(drift["noticed_seconds"], len(deletions)),
        "drift_repair_seconds": _worst(drift["repair_started_seconds"], len(deletions)),
        "drift": drift,
        "app_health_checks_per_hour": round(app_checks * 3600 / cfg.window_seconds, 1),
        "hetzner_by_operation": hetzner.by_operation,
        "cloudflare_by_operation": cloudflare.by_operation,
        "window_sim_seconds": cfg.window_seconds,
        "list_passes": list_passes(clouds, start, end),
        "expected_list_passes": int(cfg.window_seconds // RESYNC_SECONDS),
        "kept_up": per_resync >= KEEPS_UP and (not is_operator or kept_listing(clouds, cfg, start, end)),
        "listings": listing_figures(clouds, start, end) if is_operator else None,
        "startup": {
            "settled": done,
            **{key: round(value, 1) for key, value in settle.items()},
            "hetzner_requests": startup_h.total,
            "cloudflare_requests": startup_c.total,
        },
        "resources": {
            "peak_rss_mb": round(process.peak_rss_mb(), 1),
            "cpu_seconds": round(cpu, 2),
            "reconciles": reconciles,
            "cpu_seconds_per_reconcile": round(cpu / reconciles, 5) if reconciles else None,
            # CPU per simulated second is the share of one core the same work needs in real time.
            "cores_in_real_time": round(cpu / cfg.window_seconds, 4),
            "reconciles_per_instance_per_resync": round(per_resync, 2),
        },
    }


def list_passes(clouds: Clouds, start: float, end: float) -> int:
    """Full listings of the managed servers in the window: one per resync for a reconciler that keeps up
    with its own schedule."""
    return sum(
        1 for begun, _ in listing_passes(clouds.hetzner.request_log, "label_selector") if start <= begun < end
    )


def drift_figures(
    clouds: Clouds, deletions: list[tuple[float, SeededInstance]], lists: bool
) -> dict[str, Any]:
    """Per out-of-band deletion: when the reconciler first had an answer showing the server gone (the
    operator: its next full listing; the baseline: the 404 to its GET of that server), and when it sent
    the POST /servers that replaces it. Deletions never noticed or repaired in the window are left out,
    so a list shorter than `deletions` means a miss."""
    log = clouds.hetzner.request_log
    passes = listing_passes(log, "label_selector")
    noticed, repaired = [], []
    for at, victim in deletions:
        if lists:
            seen = noticed_by_listing(passes, at)
        else:
            seen = first_answer(log, f"/servers/{victim.server_id}", 404, at)
        created = clouds.created_for(victim.instance.metadata.uid, at)
        noticed += [round(seen - at, 1)] if seen is not None else []
        repaired += [round(created - at, 1)] if created is not None else []
    return {"deletions": len(deletions), "noticed_seconds": noticed, "repair_started_seconds": repaired}


def _worst(samples: list[float], expected: int) -> float | None:
    """The slowest of all deletions, or None if any went unnoticed (no finite worst case)."""
    return max(samples) if samples and len(samples) == expected else None


def kept_listing(clouds: Clouds, cfg: SteadyConfig, start: float, end: float) -> bool:
    """Whether the operator listed on its schedule (one pass may straddle the window's edge)."""
    return list_passes(clouds, start, end) >= int(cfg.window_seconds // RESYNC_SECONDS) - 1


def listing_figures(clouds: Clouds, start: float, end: float) -> dict[str, Any]:
    """How long a full listing takes and how far apart listings start: the worst drift detection is about
    one period plus one listing, so these two explain the drift figures."""
    passes = [
        (a, b) for a, b in listing_passes(clouds.hetzner.request_log, "label_selector") if start <= a < end
    ]
    starts = [a for a, _ in passes]
    return {
        "period_seconds": percentiles([b - a for a, b in itertools.pairwise(starts)]),
        "duration_seconds": percentiles([b - a for a, b in passes]),
    }


def _reconciles(process: MeasuredProcess, clouds: Clouds, start: float) -> int:
    if isinstance(process, OperatorProcess):
        return int(process.reconciles())
    return _naive_reconciles(clouds, start, float("inf"))

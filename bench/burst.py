"""Burst: 200 instances ordered at once. Time until all are Ready, against the lower bound the providers'
limits and the simulated server times allow; 429s; duplicate servers. The operator first (instances
created through the apiserver, readiness read from their Ready condition), then the naive baseline on fresh
simulators (the same instances, readiness as it reports it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3
from kubernetes.client.exceptions import ApiException

from bench.accounting import duplicate_servers, percentiles, servers_per_instance, tally
from bench.cluster import Cluster, is_ready
from bench.fleet import CLOUDFLARE_LIMIT, CLOUDFLARE_WINDOW, HETZNER_REFILL, ZONE, Clouds
from bench.lowerbound import BurstModel, burst_lower_bound
from bench.processes import MeasuredProcess, OperatorProcess, operator_env
from bench.seed import GATEWAY_SECRET, instance_body
from bench.steady import start_naive


@dataclass(frozen=True)
class BurstConfig:
    instances: int = 200
    time_scale: float = 2.0
    baseline_time_scale: float | None = None  # the baseline's own, if it differs
    seed: int = 0
    timeout_sim_seconds: float = 3600.0
    profile: Path | None = None  # write a cProfile of the operator here


def median_seconds(clouds: Clouds, operation: str) -> float:
    """The latency model's median for an operation (lognormal: its median; constant: its value)."""
    latency = clouds.latency.for_operation(operation)
    return (latency.a + latency.b) / 2 if latency.kind == "uniform" else latency.a


def bucket_level(clouds: Clouds) -> float:
    """Tokens in the Hetzner bucket now, from the last answer's RateLimit-Remaining plus the refill since."""
    answered = [r for r in clouds.hetzner.request_log if r.rate_limit_remaining is not None]
    capacity = float(clouds.hetzner.limiter.capacity)  # type: ignore[union-attr]
    if not answered:
        return capacity
    last = answered[-1]
    assert last.rate_limit_remaining is not None
    return min(capacity, last.rate_limit_remaining + (clouds.clock.now() - last.sim_time) * HETZNER_REFILL)


def lower_bound_for(
    clouds: Clouds, instances: int, initial_tokens: float, refill_per_second: float = HETZNER_REFILL
) -> dict[str, float]:
    """The burst's lower bound; several projects of one shard pass their summed refill rate."""
    actions = clouds.hetzner.world.action_seconds
    model = BurstModel(
        instances=instances,
        hetzner_initial_tokens=initial_tokens,
        hetzner_refill_per_second=refill_per_second,
        cloudflare_limit=CLOUDFLARE_LIMIT,
        cloudflare_window=CLOUDFLARE_WINDOW,
        create_request_seconds=median_seconds(clouds, "POST /servers"),
        create_action_seconds=actions["create_server"],
        start_action_seconds=actions["start_server"],
        app_boot_seconds=clouds.hetzner.app_boot_seconds,
        record_request_seconds=median_seconds(clouds, "POST /zones/{zone_id}/dns_records"),
    )
    return {key: round(value, 2) for key, value in asdict(burst_lower_bound(model)).items()}


def run_burst(cluster: Cluster, cfg: BurstConfig, workdir: Path) -> dict[str, Any]:
    namespace = cluster.namespace("bench-burst")
    cluster.secret(namespace, GATEWAY_SECRET)
    bodies = [instance_body(i, ZONE, finalizer=False) for i in range(cfg.instances)]
    with Clouds(cfg.time_scale, cfg.seed) as clouds:
        burst = operator_burst(
            cluster, clouds, namespace, bodies, cfg.time_scale, cfg.timeout_sim_seconds,
            workdir / "operator-burst.log", profile=cfg.profile,
        )  # fmt: skip
        ours = _figures(clouds, burst.start, burst.ready_at, cfg.instances, burst.tokens)
        ours.update(burst.footprint)
        created = burst.created
    naive_scale = cfg.baseline_time_scale or cfg.time_scale
    with Clouds(naive_scale, cfg.seed) as clouds:
        naive = start_naive(clouds, naive_scale, created, [None] * len(created), workdir, "burst")
        try:
            _wait(lambda: bool(naive.events("started")), 60, naive.alive)
            tokens, cpu = bucket_level(clouds), naive.cpu_seconds()
            start = clouds.clock.now()

            def naive_ready() -> dict[str, float]:
                def sim_at(wall: float) -> float:
                    return clouds.clock.now() - (time.time() - wall) * naive_scale

                return {str(e["uid"]): sim_at(float(e["wall"])) for e in naive.events("ready")}  # type: ignore[arg-type]

            _wait(
                lambda: len(naive_ready()) >= cfg.instances,
                cfg.timeout_sim_seconds / naive_scale,
                naive.alive,
            )
            baseline = _figures(clouds, start, naive_ready(), cfg.instances, tokens)
            baseline.update(_footprint(naive, cpu, naive_scale))
        finally:
            naive.stop()
    ours["time_scale"], baseline["time_scale"] = cfg.time_scale, naive_scale
    return {"ours": ours, "baseline": baseline, "time_scale": cfg.time_scale, "instances": cfg.instances}


@dataclass(frozen=True)
class OperatorBurst:
    start: float  # simulated time the instances were created at
    ready_at: dict[str, float]  # uid -> simulated time its Ready condition was first seen True
    tokens: float  # the Hetzner bucket at the start
    footprint: dict[str, float]
    created: list[dict[str, Any]]  # the instances as the apiserver returned them


def operator_burst(
    cluster: Cluster,
    clouds: Clouds,
    namespace: str,
    bodies: list[dict[str, Any]],
    time_scale: float,
    timeout_sim_seconds: float,
    log_path: Path,
    *,
    profile: Path | None = None,
    extra_env: dict[str, str] | None = None,
    before_orders: Callable[[OperatorProcess], None] | None = None,
) -> OperatorBurst:
    """The operator against `clouds`: all of `bodies` created at once, until all are Ready (or timeout).
    `before_orders` runs once the operator has listed the servers (a warm pool's fill waits there)."""
    env = operator_env(clouds.hetzner, clouds.cloudflare, cluster.access, [ZONE], time_scale, extra_env)
    operator = OperatorProcess(env, [namespace], log_path, profile=profile)
    before = len(clouds.hetzner.request_log)  # requests made before (a golden build's) are not its listing
    operator.start()
    try:
        _wait(
            lambda: any(r.template == "/servers" for r in clouds.hetzner.request_log[before:]),
            60,
            operator.alive,
        )
        if before_orders is not None:
            before_orders(operator)
        tokens, cpu = bucket_level(clouds), operator.cpu_seconds()
        start = clouds.clock.now()
        created = cluster.create_instances(namespace, bodies)
        ready_at: dict[str, float] = {}

        def all_ready() -> bool:
            listed = instances_or_none(cluster, namespace)
            if listed is None:
                return False
            for item in listed:
                if is_ready(item):
                    ready_at.setdefault(item["metadata"]["uid"], clouds.clock.now())
            operator.sample_rss()
            return len(ready_at) == len(bodies)

        _wait(all_ready, timeout_sim_seconds / time_scale, operator.alive)
        return OperatorBurst(start, ready_at, tokens, _footprint(operator, cpu, time_scale), created)
    finally:
        operator.stop()


def instances_or_none(cluster: Cluster, namespace: str) -> list[dict[str, Any]] | None:
    """The namespace's instances, or None when the LIST failed: an apiserver on loaded shared cores cuts
    a 200-instance answer short or times it out (504) now and then; the next poll asks again."""
    try:
        return cluster.instances(namespace)
    except (requests.RequestException, urllib3.exceptions.HTTPError, ApiException):
        return None


def _footprint(process: MeasuredProcess, cpu_before: float, time_scale: float) -> dict[str, float]:
    """Peak memory, and the CPU the burst cost. CPU runs in wall time: at real speed those seconds are
    simulated seconds too, so `cpu_seconds` is also how long a single core needs at the very least."""
    return {
        "peak_rss_mb": round(process.peak_rss_mb(), 1),
        "cpu_seconds": round(process.cpu_seconds() - cpu_before, 1),
        "cpu_seconds_simulated_at_this_scale": round((process.cpu_seconds() - cpu_before) * time_scale, 1),
    }


def _wait(done: Callable[[], bool], timeout: float, alive: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        if done():
            return True
        time.sleep(0.1)
    return done()


def _figures(
    clouds: Clouds, start: float, ready_at: dict[str, float], instances: int, tokens: float
) -> dict[str, Any]:
    end = clouds.clock.now()
    hetzner = tally(clouds.hetzner.request_log, clouds.hetzner.api_prefix, start, end)
    cloudflare = tally(clouds.cloudflare.request_log, clouds.cloudflare.api_prefix, start, end)
    live = servers_per_instance(clouds.hetzner.servers())
    created: dict[str, int] = {}
    for creation in clouds.creations:
        created[creation.uid] = created.get(creation.uid, 0) + 1
    done = len(ready_at) == instances
    bound = lower_bound_for(clouds, instances, tokens)
    elapsed = max(ready_at.values()) - start if done else None
    return {
        "time_to_all_ready_seconds": round(elapsed, 1) if elapsed is not None else None,
        "ready": len(ready_at),
        "lower_bound_seconds": bound["seconds"],
        "lower_bound": bound,
        "ratio_to_lower_bound": round(elapsed / bound["seconds"], 3) if elapsed is not None else None,
        "rate_limited_responses": hetzner.rate_limited + cloudflare.rate_limited,
        "hetzner_rate_limited": hetzner.rate_limited,
        "cloudflare_rate_limited": cloudflare.rate_limited,
        "duplicate_servers": duplicate_servers(live),
        "servers_created_more_than_once": duplicate_servers(created),
        "hetzner_requests": hetzner.total,
        "cloudflare_requests": cloudflare.total,
        "hetzner_by_operation": hetzner.by_operation,
        "initial_hetzner_tokens": round(tokens, 1),
        "phases": phases(clouds, start, ready_at),
    }


def phases(clouds: Clouds, start: float, ready_at: dict[str, float]) -> dict[str, Any]:
    """Where each instance's time went: until its POST /servers was answered, and from the moment its app
    could first answer (create and start actions plus boot after that POST) until the reconciler saw it."""
    first_create: dict[str, float] = {}
    for creation in clouds.creations:
        first_create.setdefault(creation.uid, creation.sim_time)
    actions = clouds.hetzner.world.action_seconds
    chain = actions["create_server"] + actions["start_server"] + clouds.hetzner.app_boot_seconds
    return {
        "until_server_created": percentiles([t - start for t in first_create.values()]),
        "app_up_until_ready": percentiles(
            [ready - (first_create[uid] + chain) for uid, ready in ready_at.items() if uid in first_create]
        ),
    }

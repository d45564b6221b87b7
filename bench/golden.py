"""Golden images: order -> Ready for a burst of orders, cold (full install) vs golden (personalise only).

Both runs use the simulator's boot model (clawhost_sandbox/hetzner/boot.py: the recorded TCG boot scaled
by the one measured TCG/native ratio), so a cold server's app answers `MEASURED.cold` seconds after it
runs and a golden one `MEASURED.golden` seconds after; the create itself is the simulator's (the create
and start actions, and from a snapshot the copy of its image, 15 s per GB). The golden run first builds
its snapshot with the real build code (`openclaw_operator.golden.build`, the simulator's clock sped up
for it), then the operator runs with CLAWHOST_GOLDEN_IMAGES=true; the cold run is the operator as it
ships (golden images off). Every figure is per instance: from its creation in the apiserver (the order)
to its Ready condition's transition to True (both timestamps from the apiserver), in simulated seconds.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from clawhost_sandbox.hetzner import boot
from clawhost_sandbox.hetzner.boot import MEASURED
from clawhost_sandbox.hetzner.world import RESTORE_SECONDS_PER_GB
from pydantic import SecretStr

from bench.burst import instances_or_none, operator_burst
from bench.cluster import Cluster
from bench.fleet import Clouds
from bench.processes import HETZNER_TOKEN
from bench.seed import GATEWAY_SECRET, instance_body
from openclaw_operator.bootstrap.settings import DEFAULT_OPENCLAW_VERSION, BootstrapSettings
from openclaw_operator.golden import BuildRequest, build
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter

BUILD_TIME_SCALE = 100.0  # the build is not what is measured: its simulated minutes pass quickly


@dataclass(frozen=True)
class GoldenConfig:
    instances: int = 200
    time_scale: float = 1.0  # the operator's burst in real time, as bench/burst.py runs it
    seed: int = 0
    timeout_sim_seconds: float = 1800.0


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def order_to_ready(waits: list[float]) -> dict[str, float] | None:
    if not waits:
        return None
    return {"p50": nearest_rank(waits, 0.5), "p99": nearest_rank(waits, 0.99), "max": round(max(waits), 1)}


def waits_from_status(items: list[dict[str, Any]], time_scale: float) -> list[float]:
    """Per Ready instance, its creationTimestamp (the order) to its Ready condition's lastTransitionTime,
    both written by the apiserver and the operator: exact to the apiserver's one-second timestamps,
    where polling 200 instances under load would bunch them (a LIST takes seconds then)."""
    waits = []
    for item in items:
        ready = [c for c in (item.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"]
        if not ready or ready[0].get("status") != "True":
            continue
        ordered = datetime.fromisoformat(item["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        became = datetime.fromisoformat(ready[0]["lastTransitionTime"].replace("Z", "+00:00"))
        waits.append((became - ordered).total_seconds() * time_scale)
    return waits


def build_snapshot(clouds: Clouds) -> dict[str, Any]:
    provider = HetznerProvider(SecretStr(HETZNER_TOKEN), clouds.hetzner.url, RateLimiter("bench"), 2, 30)
    request = BuildRequest(
        location="fsn1", server_type="cx23", openclaw_version=DEFAULT_OPENCLAW_VERSION, poll=0.05
    )
    clouds.clock.time_scale = BUILD_TIME_SCALE
    began = clouds.clock.now()
    try:
        result = asyncio.run(build(provider, BootstrapSettings(), request))
    finally:
        provider.close()
    took = clouds.clock.now() - began
    return {
        "snapshot_id": result.snapshot.id,
        "snapshot_gb": result.snapshot.size_gb,
        "simulated_seconds": round(took, 1),
        "inputs": result.inputs.inputs_hash,
    }


def run_golden(cluster: Cluster, cfg: GoldenConfig, workdir: Path) -> dict[str, Any]:
    runs: dict[str, Any] = {}
    for kind in ("cold", "golden"):
        namespace = cluster.namespace(f"bench-{kind}")
        cluster.secret(namespace, GATEWAY_SECRET)
        bodies = [instance_body(i, "claw.example", finalizer=False) for i in range(cfg.instances)]
        with Clouds(cfg.time_scale, cfg.seed, boot_model=MEASURED) as clouds:
            built = build_snapshot(clouds) if kind == "golden" else None
            clouds.clock.time_scale = cfg.time_scale
            extra = {"CLAWHOST_GOLDEN_IMAGES": "true"} if kind == "golden" else None
            burst = operator_burst(
                cluster, clouds, namespace, bodies, cfg.time_scale, cfg.timeout_sim_seconds,
                workdir / f"operator-{kind}.log", extra_env=extra,
            )  # fmt: skip
            items = None
            while items is None:  # once, after the burst: worth waiting for
                items = instances_or_none(cluster, namespace)
            kinds: dict[str, int] = {}
            for item in items:
                boot_image = (item.get("status") or {}).get("bootImage") or {}
                kinds[boot_image.get("kind", "none")] = kinds.get(boot_image.get("kind", "none"), 0) + 1
            actions = clouds.hetzner.world.action_seconds
            copy = RESTORE_SECONDS_PER_GB * (built["snapshot_gb"] if built else 0.0)
            runs[kind] = {
                "ready": len(burst.ready_at),
                "order_to_ready_seconds": order_to_ready(waits_from_status(items, cfg.time_scale)),
                "all_ready_seen_after_seconds": round(max(burst.ready_at.values()) - burst.start, 1)
                if burst.ready_at
                else None,
                "boot_images": kinds,
                # One server's path with no queueing: create (+ image copy) + start + boot to health.
                "one_server_chain_seconds": round(
                    actions["create_server"] + copy + actions["start_server"] + getattr(MEASURED, kind), 1
                ),
                "golden_build": built,
                **burst.footprint,
            }
    return {**boot_model_meta(cfg.instances), "time_scale": cfg.time_scale, **runs}


def boot_model_meta(instances: int) -> dict[str, Any]:
    """What every golden-images table says about its runs: the burst's size and the boot model."""
    return {
        "instances": instances,
        "boot_model": asdict(MEASURED),
        "tcg_slowdown": round(boot.TCG_SLOWDOWN, 2),
    }


def golden_markdown(results: dict[str, Any]) -> str:
    lines = [
        "## Golden images (order -> Ready)",
        "",
        f"{results['instances']} orders at once; boot model (simulated s from running to a healthy "
        f"gateway) cold {results['boot_model']['cold']}, golden {results['boot_model']['golden']} "
        f"(TCG stages / {results['tcg_slowdown']}; docs/golden-images.md).",
        "",
        "| run | ready | p50 s | p99 s | max s | one server alone s | boot images |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in ("cold", "golden", "pool"):
        run = results.get(kind)
        if run is None:
            continue
        if "skipped" in run:
            lines.append(f"| {kind} | skipped: {run['skipped']} | | | | | |")
            continue
        figures = run["order_to_ready_seconds"] or {}
        lines.append(
            f"| {kind} | {run['ready']} | {figures.get('p50')} | {figures.get('p99')} | {figures.get('max')} "
            f"| {run['one_server_chain_seconds']} | {run['boot_images']} |"
        )
    pool = results.get("pool")
    if pool and "skipped" not in pool:
        lines += [
            "",
            f"Pool: {pool['pool_slots']} ready before the orders (filled in "
            f"{pool['pool_fill'].get('seconds')} simulated s); each claim's first push took the measured "
            f"{pool['personalise_seconds']} s (the boot model's native first health); "
            f"{pool['personalised_by_agents']} servers personalised, at most "
            f"{pool.get('most_personalising_at_once')} at once (CLAWHOST_CHANNEL_CONCURRENCY "
            f"{pool.get('channel_concurrency')}), their starts spread over "
            f"{pool.get('personalise_starts_spread_seconds')} s.",
            f"Order -> condition True, p50 s: {pool.get('order_to_condition_p50_seconds')}.",
        ]
    return "\n".join(lines) + "\n"

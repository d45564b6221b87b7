"""The warm pool: order -> Ready for a burst of orders claimed from ready pool servers.

Beside cold and golden (bench/golden.py), in the same shape: the real operator against the real apiserver
and the Hetzner simulator with the measured boot model, at real speed. The pool fills first from a golden
snapshot built by the real build code; when every pool server is ready in the operator's own listing, all
orders are created at once and each claims one (GET, PUT name and labels, GET back), then the channel's
first push personalises it. That push is the one part a simulated server cannot do itself, so every
pool server's address gets a real OpenSSH sshd (tests/channel/fleet_agents.py) whose forced command is
POOL_AGENT below: it answers the agent's protocol as the real agent would for a claimed pool server, and
its first `apply` (files written, the gateway's first start and health) takes the boot model's measured
native first-health time (boot.GATEWAY_FIRST_HEALTH_SECONDS), not a figure picked for the result. The
refill that follows the claims runs during the burst, as it would in production.

The slots hold at most MAX_SLOT_SIZE (100) servers each, so a burst of 200 orders is split over two
locations of one network zone (fsn1, nbg1), a pool of 100 in each.
"""

from __future__ import annotations

import ipaddress
import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from clawhost_sandbox.hetzner import boot
from clawhost_sandbox.hetzner.boot import MEASURED
from prometheus_client.parser import text_string_to_metric_families

from bench.burst import OperatorBurst, instances_or_none, median_seconds, operator_burst
from bench.cluster import Cluster
from bench.fleet import Clouds
from bench.golden import build_snapshot, order_to_ready, waits_from_status
from bench.processes import OperatorProcess, free_port
from bench.seed import GATEWAY_SECRET, instance_body
from openclaw_operator.bootstrap.settings import DEFAULT_OPENCLAW_VERSION
from openclaw_operator.config import Config
from openclaw_operator.reconcile import pool
from tests.channel.echo_sshd import keygen
from tests.channel.fleet_agents import FleetAgents
from tests.channel.server import NSS_WRAPPER

CLUSTER_ID = "bench"
SSHD = "/usr/sbin/sshd"

# The agent's protocol as a claimed pool server answers it: one request at a time per server (the real
# agent's lock); `state` reports what was applied and the installed version; the first `apply` is the
# personalisation, which takes `seconds`; later applies change nothing here. Each first apply is logged.
POOL_AGENT = r"""import fcntl, json, os, sys, time
root = sys.argv[1]
address = os.environ["SSH_CONNECTION"].split()[2]
request = json.loads(sys.stdin.read())
with open(os.path.join(root, address + ".lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    path = os.path.join(root, address + ".json")
    state = json.load(open(path)) if os.path.exists(path) else {}
    installed = state.get("version") or open(os.path.join(root, "version")).read().strip()
    answer = {"ok": True}
    if request.get("op") == "state":
        answer.update(appliedHash=state.get("hash"), openclawVersion=installed)
    elif request.get("op") == "apply":
        if "hash" not in state:
            begun = time.time()
            time.sleep(float(open(os.path.join(root, "seconds")).read()))
            with open(os.path.join(root, "personalised.jsonl"), "a") as out:
                fcntl.flock(out, fcntl.LOCK_EX)
                out.write(json.dumps({"address": address, "start": begun, "end": time.time()}) + "\n")
        state.update(version=installed, hash=request.get("hash"))
        json.dump(state, open(path, "w"))
        answer["openclawVersion"] = installed
    print(json.dumps(answer), flush=True)
"""


@dataclass(frozen=True)
class PoolConfig:
    instances: int = 200
    locations: tuple[str, ...] = ("fsn1", "nbg1")  # one slot each, instances split evenly
    server_type: str = "cx23"
    time_scale: float = 1.0
    seed: int = 0
    timeout_sim_seconds: float = 1800.0
    fill_timeout_seconds: float = 1200.0
    channel_concurrency: int | None = None  # the operator's CLAWHOST_CHANNEL_CONCURRENCY; None: its default

    @property
    def slot_size(self) -> int:
        return -(-self.instances // len(self.locations))


def missing_parts() -> list[str]:
    """What the pool run needs from the machine (scripts/install-system-deps.sh installs both)."""
    return [part for part in (SSHD, NSS_WRAPPER) if not Path(part).exists()]


def most_at_once_of(entries: list[dict[str, float]]) -> int:
    edges = sorted([(e["start"], 1) for e in entries] + [(e["end"], -1) for e in entries])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def ready_pool_servers(operator: OperatorProcess) -> float:
    """Ready pool servers in the operator's own listing (its gauge), which claims are planned from."""
    try:
        text = requests.get(operator.metrics_url, timeout=5).text
    except requests.RequestException:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "clawhost_warm_pool_servers" and sample.labels.get("state") == "ready"
    )


def condition_p50s(items: list[dict[str, Any]], time_scale: float) -> dict[str, float]:
    """Per condition type, the p50 from the order to its last transition to True (where the time goes
    between the claim and Ready)."""
    waits: dict[str, list[float]] = {}
    for item in items:
        ordered = datetime.fromisoformat(item["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
        for condition in (item.get("status") or {}).get("conditions") or []:
            if condition.get("status") == "True" and condition.get("lastTransitionTime"):
                became = datetime.fromisoformat(condition["lastTransitionTime"].replace("Z", "+00:00"))
                waits.setdefault(condition["type"], []).append(
                    (became - ordered).total_seconds() * time_scale
                )
    return {kind: sorted(values)[len(values) // 2] for kind, values in sorted(waits.items())}


def run_pool(cluster: Cluster, cfg: PoolConfig, workdir: Path) -> dict[str, Any]:
    missing = missing_parts()
    if missing:
        return {"skipped": f"needs {', '.join(missing)} (scripts/install-system-deps.sh)"}
    namespace = cluster.namespace("bench-pool")
    cluster.secret(namespace, GATEWAY_SECRET)
    bodies = []
    for index in range(cfg.instances):
        body = instance_body(index, "claw.example", finalizer=False)
        body["spec"]["location"] = cfg.locations[index % len(cfg.locations)]
        body["spec"]["serverType"] = cfg.server_type
        bodies.append(body)
    root = workdir / "pool-agents"
    root.mkdir(parents=True, exist_ok=True)
    key = keygen(root / "operator_ed25519", "bench-operator")
    port = free_port()
    personalise = boot.GATEWAY_FIRST_HEALTH_SECONDS
    agents = FleetAgents(root, key, port, personalise, agent=POOL_AGENT)
    (root / "version").write_text(DEFAULT_OPENCLAW_VERSION)
    fill: dict[str, float] = {}
    with Clouds(cfg.time_scale, cfg.seed, boot_model=MEASURED) as clouds:
        clouds.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")  # the sshds can listen there
        built = build_snapshot(clouds)  # as the golden run builds it
        clouds.clock.time_scale = cfg.time_scale
        claim = sum(median_seconds(clouds, op) for op in ("GET /servers/{id}", "PUT /servers/{id}"))
        claim += median_seconds(clouds, "GET /servers/{id}")
        wanted = cfg.slot_size * len(cfg.locations)

        def filled(operator: OperatorProcess) -> None:
            began = time.monotonic()
            while ready_pool_servers(operator) < wanted:
                if not operator.alive() or time.monotonic() - began > cfg.fill_timeout_seconds:
                    raise RuntimeError(f"the pool did not fill to {wanted} (log: {operator.log_path})")
                operator.sample_rss()
                time.sleep(1)
            addresses = [
                s["public_net"]["ipv4"]["ip"]
                for s in clouds.hetzner.servers()
                if pool.is_pool_server(s["labels"], CLUSTER_ID)
            ]
            agents.start(addresses)
            fill["seconds"] = round((time.monotonic() - began) * cfg.time_scale, 1)
            fill["pool_servers"] = len(addresses)

        env = {
            "CLAWHOST_GOLDEN_IMAGES": "true",
            "CLAWHOST_CLUSTER_ID": CLUSTER_ID,
            "CLAWHOST_WARM_POOL": ",".join(
                f"{location}/{cfg.server_type}={cfg.slot_size}" for location in cfg.locations
            ),
            "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(key),
            "CLAWHOST_CHANNEL_PORT": str(port),
            "CLAWHOST_CHANNEL_SOURCE_RANGES": "127.0.0.0/8",
        }
        if cfg.channel_concurrency is not None:
            env["CLAWHOST_CHANNEL_CONCURRENCY"] = str(cfg.channel_concurrency)
        try:
            burst: OperatorBurst = operator_burst(
                cluster, clouds, namespace, bodies, cfg.time_scale, cfg.timeout_sim_seconds,
                workdir / "operator-pool.log", extra_env=env, before_orders=filled,
            )  # fmt: skip
        finally:
            agents.stop()
        items = None
        while items is None:
            items = instances_or_none(cluster, namespace)
    kinds: dict[str, int] = {}
    for item in items:
        kind = ((item.get("status") or {}).get("bootImage") or {}).get("kind", "none")
        kinds[kind] = kinds.get(kind, 0) + 1
    log = root / "personalised.jsonl"
    personalised = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    starts = sorted(entry["start"] for entry in personalised)
    return {
        "ready": len(burst.ready_at),
        "order_to_ready_seconds": order_to_ready(waits_from_status(items, cfg.time_scale)),
        "order_to_condition_p50_seconds": condition_p50s(items, cfg.time_scale),
        "boot_images": kinds,
        "pool_slots": {location: cfg.slot_size for location in cfg.locations},
        "pool_fill": fill,
        "personalise_seconds": personalise,
        "channel_concurrency": cfg.channel_concurrency or Config.model_fields["channel_concurrency"].default,
        "personalised_by_agents": len(personalised),
        # First pushes begun, from the first: how many the channel ran at once shows in their spread.
        "personalise_starts_spread_seconds": round(starts[-1] - starts[0], 1) if starts else None,
        "most_personalising_at_once": most_at_once_of(personalised),
        # One claimed server's path with no queueing: the claim's three requests, then the first push.
        "one_server_chain_seconds": round(claim + personalise, 1),
        "golden_build": built,
        **burst.footprint,
    }

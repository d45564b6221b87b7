"""Hibernate: what one hibernate/unsuspend cycle costs in Hetzner requests, and what suspended instances
cost a month under suspendMode PowerOff vs Hibernate.

A few Ready instances (suspendMode Hibernate, the customer's data set as the server's used disk) are
suspended together until all are hibernated (no server, snapshot available), then unsuspended until all
run again from their snapshots with the snapshots deleted. The simulator's request log counts every
Hetzner request in each phase, the shared listings included (amortised over the instances).

The monthly figures come from the simulator's `GET /pricing` (one place for prices:
clawhost_sandbox/hetzner/pricing.py and catalogue.py, with their sources), for the server type the bench
used and the snapshot size Hetzner reported for it:
- PowerOff keeps the server: Hetzner bills a powered-off server in full, plus its primary IPv4;
- Hibernate keeps a snapshot: image_size GB x the price per GB a month; no server, no address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from bench.accounting import tally
from bench.cluster import Cluster, is_ready
from bench.fleet import ZONE, Clouds
from bench.processes import HETZNER_TOKEN, OperatorProcess, operator_env
from bench.seed import GATEWAY_SECRET, instance_body


@dataclass(frozen=True)
class HibernateConfig:
    instances: int = 10
    time_scale: float = 20.0
    used_disk_gb: float = 5.0  # OpenClaw, Node.js, the OS and a customer's workspace on a 40 GB disk
    fleet: int = 1000  # the suspended fleet the monthly cost is given for
    seed: int = 0
    timeout_seconds: float = 600.0  # wall


def monthly_costs(
    pricing: dict[str, Any], server_type: str, location: str, snapshot_gb: float, fleet: int
) -> dict[str, Any]:
    """EUR net a month for `fleet` suspended instances of this type: PowerOff vs Hibernate."""
    doc = pricing["pricing"]
    (entry,) = [t for t in doc["server_types"] if t["name"] == server_type]
    (server_price,) = [p for p in entry["prices"] if p["location"] == location]
    (ipv4,) = [ip for ip in doc["primary_ips"] if ip["type"] == "ipv4"]
    (ipv4_price,) = [p for p in ipv4["prices"] if p["location"] == location]
    server = Decimal(server_price["price_monthly"]["net"])
    address = Decimal(ipv4_price["price_monthly"]["net"])
    per_gb = Decimal(doc["image"]["price_per_gb_month"]["net"])
    power_off = server + address
    hibernate = per_gb * Decimal(str(snapshot_gb))
    return {
        "currency": doc["currency"],
        "server_type": server_type,
        "location": location,
        "server_monthly_net": float(server),
        "primary_ipv4_monthly_net": float(address),
        "snapshot_per_gb_month_net": float(per_gb),
        "snapshot_gb": snapshot_gb,
        "fleet": fleet,
        "power_off_per_instance": round(float(power_off), 4),
        "hibernate_per_instance": round(float(hibernate), 4),
        "power_off_fleet_monthly": round(float(power_off * fleet), 2),
        "hibernate_fleet_monthly": round(float(hibernate * fleet), 2),
        "saving_fleet_monthly": round(float((power_off - hibernate) * fleet), 2),
    }


def per_instance(by_operation: dict[str, int], instances: int) -> dict[str, float]:
    return {op: round(count / instances, 2) for op, count in sorted(by_operation.items())}


def run_hibernate(cluster: Cluster, cfg: HibernateConfig, workdir: Path) -> dict[str, Any]:
    namespace = cluster.namespace("bench-hibernate")
    cluster.secret(namespace, GATEWAY_SECRET)
    bodies = [instance_body(i, ZONE, finalizer=False) for i in range(cfg.instances)]
    for body in bodies:
        body["spec"]["suspendMode"] = "Hibernate"
    names = [body["metadata"]["name"] for body in bodies]
    with Clouds(cfg.time_scale, cfg.seed) as clouds:
        env = operator_env(clouds.hetzner, clouds.cloudflare, cluster.access, [ZONE], cfg.time_scale)
        operator = OperatorProcess(env, [namespace], workdir / "operator-hibernate.log")
        operator.start()
        try:
            cluster.create_instances(namespace, bodies)
            _wait(lambda: _all(cluster, namespace, _running), cfg.timeout_seconds, operator, "ready")
            for server in clouds.hetzner.servers():
                clouds.hetzner.set_disk_usage(server["id"], cfg.used_disk_gb)
            server_type = clouds.hetzner.servers()[0]["server_type"]["name"]
            location = clouds.hetzner.servers()[0]["location"]["name"]

            started = clouds.clock.now()
            _suspend(cluster, namespace, names, True)
            _wait(lambda: _all(cluster, namespace, _hibernated), cfg.timeout_seconds, operator, "hibernated")
            hibernated = clouds.clock.now()
            snapshots = clouds.hetzner.images()
            left = len(clouds.hetzner.servers())
            _suspend(cluster, namespace, names, False)
            _wait(
                lambda: _all(cluster, namespace, _running) and not clouds.hetzner.images(),
                cfg.timeout_seconds,
                operator,
                "running again",
            )
            restored = clouds.clock.now()
        finally:
            operator.stop()
        log, prefix = clouds.hetzner.request_log, clouds.hetzner.api_prefix
        down, up = tally(log, prefix, started, hibernated), tally(log, prefix, hibernated, restored)
        pricing = requests.get(
            clouds.hetzner.url + "/pricing", headers={"Authorization": f"Bearer {HETZNER_TOKEN}"}, timeout=10
        ).json()
    sizes = [float(s["image_size"]) for s in snapshots]
    snapshot_gb = round(sum(sizes) / len(sizes), 2)
    n = cfg.instances
    return {
        "instances": n,
        "time_scale": cfg.time_scale,
        "used_disk_gb": cfg.used_disk_gb,
        "servers_left_while_hibernated": left,
        "snapshots_while_hibernated": len(snapshots),
        "hibernate": {
            "requests_per_instance": round(down.total / n, 2),
            "rate_limited": down.rate_limited,
            "seconds": round(hibernated - started, 1),
            "by_operation_per_instance": per_instance(down.by_operation, n),
        },
        "unsuspend": {
            "requests_per_instance": round(up.total / n, 2),
            "rate_limited": up.rate_limited,
            "seconds": round(restored - hibernated, 1),
            "by_operation_per_instance": per_instance(up.by_operation, n),
        },
        "cycle_requests_per_instance": round((down.total + up.total) / n, 2),
        "monthly": monthly_costs(pricing, server_type, location, snapshot_gb, cfg.fleet),
    }


def _suspend(cluster: Cluster, namespace: str, names: list[str], suspended: bool) -> None:
    cluster.each(
        lambda name: cluster.kube.patch_instance(namespace, name, {"spec": {"suspended": suspended}}), names
    )


def _all(cluster: Cluster, namespace: str, check: Callable[[dict[str, Any]], bool]) -> bool:
    return all(check(item) for item in cluster.instances(namespace))


def _current(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    return is_ready(item) and status.get("observedGeneration") == item["metadata"]["generation"]


def _running(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    return _current(item) and status.get("phase") == "Running" and not status.get("hibernation")


def _hibernated(item: dict[str, Any]) -> bool:
    status = item.get("status") or {}
    return _current(item) and status.get("phase") == "Suspended" and not status.get("serverId")


def _wait(done: Callable[[], bool], timeout: float, operator: OperatorProcess, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if not operator.alive() or time.monotonic() > deadline:
            tail = operator.log_text()[-3000:]
            raise RuntimeError(f"hibernate bench: not {what} within {timeout:g}s\n{tail}")
        time.sleep(0.5)

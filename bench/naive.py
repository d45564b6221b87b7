"""The baseline: a naive per-instance polling reconciler, the way generic per-resource controllers work.

Every instance is its own work item: a reconcile GETs its server by id (by name if it has none yet), lists
its DNS records by name, fixes what differs and checks the app; a Ready item is requeued after the resync
period, a pending one after the poll interval, a failed one with controller-runtime's default per-item
backoff (5 ms doubling to 1000 s). So the provider cost is one GET and one DNS list per instance per resync.
SDK retries are off (their sleeps are wall-clock and would not scale with simulated time); the work queue's
backoff stands in for them, in simulated seconds like every other interval here.

Run as a subprocess by the bench (`python -m bench.naive CONFIG.json`), with the tokens in the environment
(HCLOUD_TOKEN, CLOUDFLARE_API_TOKEN), so it can be measured like the operator. It prints one JSON line per
event (`ready`, `drift`, `create`) and, on SIGTERM, a `stats` line.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import hcloud
import requests
from cloudflare import Cloudflare
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from openclaw_operator import api
from openclaw_operator.reconcile import naming

BACKOFF_BASE = 0.005  # controller-runtime's ItemExponentialFailureRateLimiter defaults
BACKOFF_CAP = 1000.0


class Outcome(Enum):
    READY = "ready"
    PENDING = "pending"
    FAILED = "failed"


def next_delay(outcome: Outcome, failures: int, resync: float, poll: float) -> float:
    """Simulated seconds until an item is reconciled again; `failures` counts consecutive failures."""
    if outcome is Outcome.FAILED:
        return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(failures - 1, 0))
    return resync if outcome is Outcome.READY else poll


@dataclass
class Item:
    instance: api.OpenClawInstance
    server_id: int | None = None
    ready: bool = False
    failures: int = 0


@dataclass(frozen=True)
class Settings:
    hetzner_url: str
    cloudflare_url: str
    zone: str
    app_health_url: str  # with {server_id}
    time_scale: float
    resync_seconds: float  # simulated
    poll_seconds: float  # simulated
    workers: int
    instances_file: str  # JSON list of {"body": <OpenClawInstance body>, "server_id": int | None}


class NaiveReconciler:
    def __init__(self, settings: Settings, hetzner_token: str, cloudflare_token: str) -> None:
        self.settings = settings
        self._hetzner_token = hetzner_token
        self._local = threading.local()
        self.cloudflare = Cloudflare(
            api_token=cloudflare_token, base_url=settings.cloudflare_url, max_retries=0
        )
        self.zone_id = ""
        self.reconciles = 0

    def hetzner(self) -> hcloud.Client:
        """One SDK client per worker thread: a requests.Session is not meant to be shared across threads."""
        client: hcloud.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = hcloud.Client(self._hetzner_token, api_endpoint=self.settings.hetzner_url, timeout=30)
            client._client._retry_max_retries = 0
            self._local.client = client
        return client

    def reconcile(self, item: Item) -> Outcome:
        self.reconciles += 1
        meta, spec = item.instance.metadata, item.instance.spec
        servers = self.hetzner().servers
        server = None
        if item.server_id is not None:
            try:
                server = servers.get_by_id(item.server_id)
            except hcloud.APIException as exc:
                if exc.code != "not_found":
                    raise
                emit("drift", meta.uid)
                item.server_id, item.ready = None, False
        if server is None:
            name = naming.server_name(meta.name, meta.uid)
            server = servers.get_by_name(name)
            if server is None:
                server = servers.create(
                    name=name,
                    server_type=ServerType(name=spec.server_type),
                    image=Image(name=spec.image.value),
                    location=Location(name=spec.location.value),
                    labels=naming.owner_labels(item.instance),
                    user_data="#cloud-config\n",
                ).server
                emit("create", meta.uid)
            item.server_id = server.id
        if server.status != "running" or server.public_net is None:
            return Outcome.PENDING
        ipv4 = server.public_net.ipv4.ip if server.public_net.ipv4 else None
        ipv6 = naming.ipv6_address(server.public_net.ipv6.ip if server.public_net.ipv6 else None)
        self.sync_records(item, {"A": ipv4, "AAAA": ipv6})
        health = self.settings.app_health_url.format(server_id=server.id)
        try:
            healthy = requests.get(health, timeout=10).status_code == 200
        except requests.RequestException:
            healthy = False
        return Outcome.READY if healthy else Outcome.PENDING

    def sync_records(self, item: Item, wanted: dict[str, str | None]) -> None:
        uid, hostname = item.instance.metadata.uid, item.instance.spec.hostname
        records = self.cloudflare.dns.records.list(zone_id=self.zone_id, name={"exact": hostname}).result
        present = {record.type: record for record in records}
        for type_, content in wanted.items():
            if content is None:
                continue
            fields: dict[str, Any] = {"zone_id": self.zone_id, "name": hostname, "type": type_,
                                      "content": content, "ttl": item.instance.spec.dns.ttl, "proxied": False,
                                      "comment": naming.record_comment(uid)}  # fmt: skip
            record = present.get(type_)
            if record is None:
                self.cloudflare.dns.records.create(**fields)
            elif getattr(record, "content", None) != content:
                self.cloudflare.dns.records.update(record.id, **fields)

    # --- the work queue --------------------------------------------------------------------------
    async def run(self, items: list[Item], stopped: asyncio.Event) -> None:
        zones = await asyncio.to_thread(lambda: self.cloudflare.zones.list(name=self.settings.zone).result)
        self.zone_id = str(zones[0].id)
        due: list[tuple[float, int]] = [(time.monotonic(), index) for index in range(len(items))]
        heapq.heapify(due)
        ready = asyncio.Queue[int]()

        async def scheduler() -> None:
            while not stopped.is_set():
                now = time.monotonic()
                while due and due[0][0] <= now:
                    ready.put_nowait(heapq.heappop(due)[1])
                await asyncio.sleep(min(0.01, max(0.0, due[0][0] - now)) if due else 0.01)

        async def worker() -> None:
            while not stopped.is_set():
                index = await ready.get()
                item = items[index]
                try:
                    outcome = await asyncio.to_thread(self.reconcile, item)
                except Exception:  # every failure is requeued with backoff, as generic controllers do
                    outcome = Outcome.FAILED
                item.failures = item.failures + 1 if outcome is Outcome.FAILED else 0
                if outcome is Outcome.READY and not item.ready:
                    emit("ready", item.instance.metadata.uid)
                item.ready = item.ready or outcome is Outcome.READY
                s = self.settings
                delay = next_delay(outcome, item.failures, s.resync_seconds, s.poll_seconds) / s.time_scale
                heapq.heappush(due, (time.monotonic() + delay, index))

        tasks = [asyncio.create_task(scheduler())]
        tasks += [asyncio.create_task(worker()) for _ in range(self.settings.workers)]
        await stopped.wait()
        for task in tasks:
            task.cancel()


def emit(event: str, uid: str | None = None, **extra: Any) -> None:
    print(json.dumps({"event": event, "uid": uid, "wall": time.time(), **extra}), flush=True)


def load_items(path: str) -> list[Item]:
    entries = json.loads(Path(path).read_text())
    return [
        Item(
            api.OpenClawInstance.from_body(e["body"]),
            e.get("server_id"),
            ready=e.get("server_id") is not None,
        )
        for e in entries
    ]


async def main_async(settings: Settings) -> None:
    reconciler = NaiveReconciler(settings, os.environ["HCLOUD_TOKEN"], os.environ["CLOUDFLARE_API_TOKEN"])
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    loop.add_signal_handler(signal.SIGINT, stopped.set)
    # Workers blocked in SDK calls need threads of their own, or the default pool caps concurrency.
    loop.set_default_executor(ThreadPoolExecutor(settings.workers))
    emit("started")
    await reconciler.run(load_items(settings.instances_file), stopped)
    emit("stats", reconciles=reconciler.reconciles)


def main(argv: list[str]) -> int:
    settings = Settings(**json.loads(Path(argv[0]).read_text()))
    asyncio.run(main_async(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

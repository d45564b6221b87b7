"""The simulated clouds a scenario runs against: both simulators on one simulated clock, with Hetzner's
and Cloudflare's real limits and the realistic latency model, and a log of every server created.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.boot import BootModel
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread

from bench.processes import CLOUDFLARE_TOKEN, HETZNER_TOKEN
from openclaw_operator.reconcile import naming

ZONE = "claw.example"
HETZNER_BUCKET = 3600  # requests per hour per project, refilled at 1/s
HETZNER_REFILL = 1.0
CLOUDFLARE_LIMIT = 1200  # requests per 5 minutes per token, then a 5-minute lockout
CLOUDFLARE_WINDOW = 300.0


@dataclass
class Creation:
    sim_time: float
    uid: str
    server_id: int


@dataclass
class Clouds:
    """Started by `__enter__`; `creations` lists every POST /servers that succeeded, as it happened."""

    time_scale: float
    seed: int = 0
    latency: LatencyModel = field(default_factory=LatencyModel.realistic)
    boot_model: BootModel | None = None  # per-kind boot times (hetzner/boot.py); None: the flat default
    clock: SimClock = field(init=False)
    hetzner: HetznerSimulator = field(init=False)
    cloudflare: CloudflareSimulator = field(init=False)
    creations: list[Creation] = field(default_factory=list)
    _thread: SimulatorThread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.clock = SimClock(time_scale=self.time_scale)
        self.hetzner = HetznerSimulator(
            token=HETZNER_TOKEN, clock=self.clock, seed=self.seed, latency=self.latency,
            rate_limit_capacity=HETZNER_BUCKET, rate_limit_refill_per_second=HETZNER_REFILL,
            boot_model=self.boot_model,
        )  # fmt: skip
        self.cloudflare = CloudflareSimulator(
            token=CLOUDFLARE_TOKEN, zones=[ZONE], clock=self.clock, seed=self.seed, latency=self.latency,
            rate_limit=CLOUDFLARE_LIMIT, rate_limit_window_s=CLOUDFLARE_WINDOW,
        )  # fmt: skip
        self.hetzner.response_hooks.append(self._on_response)

    def _on_response(self, method: str, template: str, status: int, payload: Any) -> None:
        if (method, template, status) != ("POST", "/servers", 201) or not isinstance(payload, dict):
            return
        server = payload.get("server") or {}
        uid = (server.get("labels") or {}).get(naming.INSTANCE_UID_LABEL, "")
        with self._lock:
            self.creations.append(Creation(self.clock.now(), uid, int(server.get("id", 0))))

    def __enter__(self) -> Clouds:
        self._thread = SimulatorThread(self.hetzner, self.cloudflare)
        self._thread.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.__exit__(None, None, None)
            self._thread = None

    def created_for(self, uid: str, since: float) -> float | None:
        with self._lock:
            times = [c.sim_time for c in self.creations if c.uid == uid and c.sim_time >= since]
        return min(times, default=None)

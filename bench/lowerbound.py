"""The fastest any reconciler could bring a burst of new instances to Ready without a single 429.

Each instance needs at least one Hetzner write (POST /servers: its name and labels are unique to it) and two
Cloudflare writes (its A and AAAA records); nothing else is unavoidable, since readiness can be learned from
listings and the app's own health URL. Requests are spaced by the providers' limiters, and each server then
takes the simulator's fixed action times and the app's boot time before it can serve. The bound assumes
unlimited client concurrency and zero client CPU, so a real reconciler can only be slower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class BurstModel:
    """What limits a burst, all in simulated seconds."""

    instances: int
    hetzner_initial_tokens: float  # what is left in the bucket when the burst starts
    hetzner_refill_per_second: float
    cloudflare_limit: int  # requests per window
    cloudflare_window: float
    create_request_seconds: float  # POST /servers answer time (the model's median)
    create_action_seconds: float
    start_action_seconds: float
    app_boot_seconds: float
    record_request_seconds: float  # POST dns_records answer time (the model's median)
    hetzner_writes_per_instance: int = 1
    cloudflare_writes_per_instance: int = 2
    app_ready_check: bool = True


@dataclass(frozen=True)
class LowerBound:
    seconds: float
    last_create_sent: float  # when the limiter lets the last POST /servers out at the earliest
    server_path: float  # ... plus its answer, the create and start actions and the app's boot
    dns_path: float  # the last record write: after its server's address is known and the window allows


def hetzner_send_time(nth: int, initial_tokens: float, refill_per_second: float) -> float:
    """Earliest instant the `nth` request (1-based) of a burst finds a token: the bucket holds
    `initial + refill * t - (nth - 1)` then, which must be at least one."""
    if nth <= 0:
        return 0.0
    return max(0.0, (nth - initial_tokens) / refill_per_second)


def cloudflare_send_time(nth: int, limit: int, window: float) -> float:
    """Earliest instant the `nth` request (1-based) fits a sliding window of `limit` per `window` seconds
    when every earlier one went out as early as it could: whole windows of `limit` requests each."""
    if nth <= 0:
        return 0.0
    return math.floor((nth - 1) / limit) * window


def burst_lower_bound(model: BurstModel) -> LowerBound:
    creates = model.instances * model.hetzner_writes_per_instance
    last_create = hetzner_send_time(creates, model.hetzner_initial_tokens, model.hetzner_refill_per_second)
    address_known = last_create + model.create_request_seconds
    boot = model.app_boot_seconds if model.app_ready_check else 0.0
    server_path = address_known + model.create_action_seconds + model.start_action_seconds + boot
    records = model.instances * model.cloudflare_writes_per_instance
    last_record = cloudflare_send_time(records, model.cloudflare_limit, model.cloudflare_window)
    dns_path = max(address_known, last_record) + model.record_request_seconds
    return LowerBound(max(server_path, dns_path), last_create, server_path, dns_path)

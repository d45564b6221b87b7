"""Prometheus metrics (prometheus-client), named by Prometheus conventions, on CLAWHOST_METRICS_PORT."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from openclaw_operator import api

RECONCILE_SECONDS = Histogram(
    "clawhost_reconcile_duration_seconds",
    "Time one reconcile pass of an OpenClawInstance took, by trigger and outcome.",
    ["trigger", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PROVIDER_REQUESTS = Counter(
    "clawhost_provider_requests_total",
    "HTTP requests sent to a cloud provider, by provider, operation and HTTP status (0 = no response).",
    ["provider", "operation", "status"],
)
PROVIDER_REFUSED = Counter(
    "clawhost_provider_requests_refused_total",
    "Requests the client-side rate limiter refused to send because its bucket estimate was empty.",
    ["provider"],
)
RATE_LIMIT_REMAINING = Gauge(
    "clawhost_provider_rate_limit_remaining",
    "The rate limiter's estimate of requests the provider still allows now.",
    ["provider"],
)
INSTANCES = Gauge("clawhost_instances", "OpenClawInstances by phase.", ["phase"])
CONDITIONS = Gauge(
    "clawhost_instance_conditions", "OpenClawInstances by condition type and status.", ["condition", "status"]
)
WARM_POOL_SERVERS = Gauge(
    "clawhost_warm_pool_servers",
    "Unclaimed warm-pool servers by location, server type and state (ready: running; starting: not yet).",
    ["location", "server_type", "state"],
)
WARM_POOL_MONTHLY_COST = Gauge(
    "clawhost_warm_pool_monthly_cost_eur",
    "What the unclaimed warm-pool servers cost a month at Hetzner's net server price (IPv4 not included).",
    ["location", "server_type"],
)
WARM_POOL_CLAIMS = Counter("clawhost_warm_pool_claims_total", "Warm-pool servers claimed by instances.")
TIME_TO_READY = Histogram(
    "clawhost_instance_time_to_ready_seconds",
    "Seconds from an OpenClawInstance's creation until it first became Ready.",
    buckets=(30, 60, 90, 120, 180, 240, 300, 450, 600, 900, 1800, 3600),
)
DRIFT_REPAIRS = Counter(
    "clawhost_drift_repairs_total",
    "Repairs of provider state that changed behind the operator's back, by step.",
    ["step"],
)

_NUMBER = re.compile(r"/\d+(?=/|$)")
_HEX_ID = re.compile(r"/[0-9a-f]{32}(?=/|$)")


def operation_name(method: str, path: str) -> str:
    """`GET /servers/{id}` from `GET /v1/servers/42`: ids are folded so the label set stays small."""
    for prefix in ("/v1", "/client/v4"):
        if path.startswith(prefix + "/"):
            path = path[len(prefix) :]
    path = _HEX_ID.sub("/{id}", _NUMBER.sub("/{id}", path))
    return f"{method.upper()} {path}"


def record_request(provider: str, method: str, path: str, status: int) -> None:
    PROVIDER_REQUESTS.labels(provider, operation_name(method, path), str(status)).inc()


def requests_sent(provider: str, operation: str | None = None) -> float:
    """How many requests this process has sent to `provider` (of one `operation`), whatever their status:
    what the benchmarks and tests read to count a step's cost."""
    return sum(
        sample.value
        for family in PROVIDER_REQUESTS.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
        and sample.labels.get("provider") == provider
        and operation in (None, sample.labels.get("operation"))
    )


class InstanceGauges:
    """The instance gauges, kept by difference: each pass moves only its own instance between label
    values (a recount of every instance after every pass made a resync cost O(N^2))."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        for phase in [*api.Phase, "Unknown"]:
            INSTANCES.labels(str(phase)).set(0)
        for type_ in api.ConditionType:
            for value in ("True", "False", "Unknown"):
                CONDITIONS.labels(type_.value, value).set(0)

    def set(self, uid: str, status: api.InstanceStatus | None) -> None:
        """The instance's status now (None: it is gone)."""
        old = self._seen.pop(uid, None)
        if old is not None:
            INSTANCES.labels(old[0]).dec()
            for pair in old[1]:
                CONDITIONS.labels(*pair).dec()
        if status is None:
            return
        phase = status.phase.value if status.phase else "Unknown"
        pairs = tuple((condition.type, condition.status) for condition in status.conditions)
        self._seen[uid] = (phase, pairs)
        INSTANCES.labels(phase).inc()
        for pair in pairs:
            CONDITIONS.labels(*pair).inc()


def serve(port: int, address: str) -> None:
    if port:
        start_http_server(port, addr=address)

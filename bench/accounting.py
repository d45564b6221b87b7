"""Counting what the simulators saw: requests in a simulated-time window, 429s, servers per instance.

Everything here reads the simulators' own records (request log, resource state), never the client's
account of itself, so the operator and the naive baseline are measured by the same ruler.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from clawhost_sandbox.simcore import RequestRecord

from openclaw_operator.reconcile import naming

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class RequestTally:
    total: int
    rate_limited: int  # answered 429
    errors: int  # any other non-2xx/3xx answer, or a dropped connection
    by_operation: dict[str, int]  # "GET /servers" -> count
    sim_seconds: float

    @property
    def per_hour(self) -> float:
        return self.total * SECONDS_PER_HOUR / self.sim_seconds if self.sim_seconds > 0 else 0.0


def api_requests(
    log: Iterable[RequestRecord], api_prefix: str, start: float = float("-inf"), end: float = float("inf")
) -> list[RequestRecord]:
    """Provider API requests (not the simulators' inspection or app-health routes) in [start, end)."""
    return [r for r in log if r.path.startswith(api_prefix + "/") and start <= r.sim_time < end]


def tally(log: Iterable[RequestRecord], api_prefix: str, start: float, end: float) -> RequestTally:
    chosen = api_requests(log, api_prefix, start, end)
    operations = Counter(f"{r.method} {r.template}" for r in chosen)
    return RequestTally(
        total=len(chosen),
        rate_limited=sum(1 for r in chosen if r.status == 429),
        errors=sum(1 for r in chosen if r.status != 429 and not 200 <= r.status < 400),
        by_operation=dict(operations.most_common()),
        sim_seconds=end - start,
    )


def servers_per_instance(servers: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Live servers by the instance uid in their owner label (servers without one are not ours)."""
    counts: Counter[str] = Counter()
    for server in servers:
        labels = server.get("labels") or {}
        uid = labels.get(naming.INSTANCE_UID_LABEL)
        if uid and labels.get(naming.MANAGED_BY_LABEL) == naming.MANAGED_BY_VALUE:
            counts[uid] += 1
    return counts


def duplicate_servers(per_instance: Mapping[str, int]) -> int:
    """Servers beyond the first for any instance: each one is a server a customer pays for twice."""
    return sum(count - 1 for count in per_instance.values() if count > 1)


def first_at_or_after(instants: Iterable[float], since: float) -> float | None:
    later = [t for t in instants if t >= since]
    return min(later) if later else None


def listing_passes(log: Iterable[RequestRecord], selector_marker: str) -> list[tuple[float, float]]:
    """(start, end) of each full paginated server listing whose query carries `selector_marker`: a pass
    starts with its page 1 and ends with the last page answered before the next pass starts."""
    passes: list[tuple[float, float]] = []
    for record in log:
        if record.method != "GET" or record.template != "/servers" or selector_marker not in record.query:
            continue
        if "page=1&" in record.query + "&":
            passes.append((record.sim_time, record.sim_time))
        elif passes:
            passes[-1] = (passes[-1][0], record.sim_time)
    return passes


def noticed_by_listing(passes: Iterable[tuple[float, float]], since: float) -> float | None:
    """When the first listing that started after `since` was complete: a change made at `since` is then
    in the lister's hands, wherever it sat in the pages."""
    ends = [end for start, end in passes if start >= since]
    return min(ends) if ends else None


def first_answer(log: Iterable[RequestRecord], path_suffix: str, status: int, since: float) -> float | None:
    """When a request to a path ending in `path_suffix` was first answered with `status` from `since` on."""
    return first_at_or_after(
        (r.sim_time for r in log if r.status == status and r.path.endswith(path_suffix)), since
    )


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50, p90 and max (nearest rank), or None for no values."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p50": round(rank(0.5), 1), "p90": round(rank(0.9), 1), "max": round(ordered[-1], 1)}

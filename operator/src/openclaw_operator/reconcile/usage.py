"""status.usage: the traffic and disk figures WHMCS bills from (its daily UsageUpdate), taken from the server
object the observer lists anyway, so they cost no Hetzner request.

Writing them on every pass would cost a status write per instance and pass (traffic grows all the time),
which at 5,000 instances is most of the apiserver load the operator makes. So a new reading is recorded
only when a limit changed (a resize), when a counter moved by more than `SIGNIFICANT_CHANGE` of its
recorded value (a reset at the start of Hetzner's billing period is such a move), or when the recorded
reading is older than `REPORT_INTERVAL` and differs by at least one MiB (WHMCS stores megabytes: a smaller
change is invisible there). WHMCS reads once a day; an hourly figure is plenty.

Disk *used* is not in Hetzner's server object (only the guest knows it), so `diskUsedBytes` stays unset
and WHMCS shows no disk usage rather than a made-up one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from openclaw_operator import api
from openclaw_operator.reconcile.model import ServerObservation

REPORT_INTERVAL = timedelta(hours=1)
SIGNIFICANT_CHANGE = 0.10
VISIBLE_BYTES = 2**20  # WHMCS's unit (tblhosting keeps MB)
GIB = 2**30  # Hetzner's disk sizes are GiB (a "40 GB" disk has 40 * 2^30 bytes)

_COUNTERS = ("outgoing_traffic_bytes", "ingoing_traffic_bytes")
_LIMITS = ("disk_limit_bytes", "included_traffic_bytes")


def reading(server: ServerObservation, now: datetime) -> api.Usage:
    """What the server object says now."""
    return api.Usage(
        disk_limit_bytes=server.disk_gb * GIB if server.disk_gb is not None else None,
        outgoing_traffic_bytes=server.outgoing_traffic,
        ingoing_traffic_bytes=server.ingoing_traffic,
        included_traffic_bytes=server.included_traffic,
        observed_at=now,
    )


def to_record(
    recorded: api.Usage | None,
    server: ServerObservation | None,
    now: datetime,
    interval: timedelta = REPORT_INTERVAL,
) -> api.Usage | None:
    """The usage status should hold after this pass: `recorded` itself unless a new reading is worth a
    write. Without a server (hibernated, not created yet) the last reading stays: it is what was used."""
    if server is None:
        return recorded
    new = reading(server, now)
    if recorded is None:
        return new if _has_figures(new) else None
    if any(getattr(new, name) != getattr(recorded, name) for name in _LIMITS):
        return new
    moved = [_moved(getattr(recorded, name), getattr(new, name)) for name in _COUNTERS]
    if any(change > SIGNIFICANT_CHANGE for change, _ in moved):
        return new
    stale = recorded.observed_at is None or now - recorded.observed_at >= interval
    if stale and any(delta >= VISIBLE_BYTES for _, delta in moved):
        return new
    return recorded


def _has_figures(usage: api.Usage) -> bool:
    return any(getattr(usage, name) is not None for name in (*_COUNTERS, *_LIMITS))


def _moved(before: int | None, after: int | None) -> tuple[float, int]:
    """(relative change, absolute change in bytes) of a counter; appearing or vanishing counts as all."""
    if before is None and after is None:
        return 0.0, 0
    if before is None or after is None:
        return float("inf"), VISIBLE_BYTES
    delta = abs(after - before)
    if delta < VISIBLE_BYTES:  # never worth a write on its own, however small the counter
        return 0.0, delta
    return (delta / before if before else float("inf")), delta

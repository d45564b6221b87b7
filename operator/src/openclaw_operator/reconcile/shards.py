"""Which operator shard owns an instance: several operator Deployments on one cluster, each serving the
instances whose `clawhost.dev/shard` label names it, so one process is neither the only failure domain
nor the only CPU.

The shards are disjoint by construction: a named shard watches `clawhost.dev/shard=<name>`, and the
default shard watches `clawhost.dev/shard notin (<every other shard>)`, which also matches instances
without the label (and any label naming no shard), so every instance has exactly one owner. The selector
goes to the apiserver (Kopf's server-side label selectors): a shard never even receives another's
instances.

A label that changes moves the instance out of one shard's watch (the apiserver reports it as deleted)
and into another's. An admission policy refuses that change; should one get through, status.shard (written
by the shard that acts on the instance) makes the new shard refuse to act until it is cleared, and the
old shard confirms with the apiserver that the instance really is gone before it cleans anything up.
Either way no second server is made.
"""

from __future__ import annotations

from collections.abc import Mapping

from openclaw_operator.api import SHARD_LABEL

DEFAULT_SHARD = "default"


def others(shard: str, shards: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({s for s in shards if s != shard}))


def label_selector(shard: str, shards: tuple[str, ...]) -> str | None:
    """The server-side selector of `shard`'s watch, given every shard of the cluster; None: everything."""
    if shard != DEFAULT_SHARD:
        return f"{SHARD_LABEL}={shard}"
    rest = others(shard, shards)
    return f"{SHARD_LABEL} notin ({','.join(rest)})" if rest else None


def owns(shard: str, shards: tuple[str, ...], labels: Mapping[str, str]) -> bool:
    """The same decision as the selector, for one instance's labels."""
    value = labels.get(SHARD_LABEL)
    if shard != DEFAULT_SHARD:
        return value == shard
    return value not in others(shard, shards)


def refusal(shard: str, recorded: str | None) -> str | None:
    """Why `shard` must not act on an instance whose status.shard is `recorded` (None: it may)."""
    if recorded is None or recorded == shard:
        return None
    return (
        f"instance is owned by operator shard {recorded} (status.shard) but labelled for shard {shard}: "
        f"shards do not hand instances over; put the {SHARD_LABEL} label back to {recorded}"
    )

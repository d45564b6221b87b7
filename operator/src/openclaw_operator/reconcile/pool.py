"""The warm pool, the pure decisions (docs/golden-images.md, "Warm pool"): which pool servers to create
and which to delete after a listing, and which pool servers a new instance may claim.

A pool server is a running server made from a golden snapshot with pool-only user-data (no token, no
host name, no config, no customer SSH key; its gateway is not started). It carries our managed-by label,
this cluster's id, the pool label and the inputs hash of the golden snapshot it was made from, and no
instance uid: the orphan sweep never judges it, this planner does. A claim replaces those labels with
the instance's owner labels (and the instance's server name), after which it is that instance's server
and every ownership rule of instance servers applies to it.

What keeps a pool server from serving the wrong instance or leaking:
- only servers with all the pool's marks and this cluster's id are counted, claimed or deleted; another
  cluster's (or anyone else's) are never touched;
- a claim needs the location, the server type and the golden inputs hash the instance would get from a
  create now: a pool server of another OpenClaw version, base image or bootstrap is never claimed; the
  planner deletes it (stale) and makes a current one;
- a pool server of a location or type no longer configured, or beyond its slot's size, is deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from openclaw_operator import api
from openclaw_operator.reconcile import golden, naming
from openclaw_operator.reconcile.model import (
    ServerObservation,
    ServerStatus,
    ServerTypeInfo,
    SnapshotObservation,
)

POOL_LABEL = f"{api.GROUP}/warm-pool"
POOL_SNAPSHOT_LABEL = f"{api.GROUP}/golden-snapshot"  # the golden snapshot it was made from (for humans)
_SLOT = re.compile(r"^(?P<location>[a-z0-9-]+)/(?P<server_type>[a-z0-9-]+)=(?P<size>\d+)$")
MAX_SLOT_SIZE = 100  # a typo must not order a thousand servers


@dataclass(frozen=True)
class PoolSlot:
    """How many ready servers to keep of one (location, server type)."""

    location: str
    server_type: str
    size: int


def parse_slots(text: str) -> tuple[PoolSlot, ...]:
    """`fsn1/cx23=3,nbg1/cx33=1` -> slots; ValueError naming the bad entry."""
    slots: dict[tuple[str, str], PoolSlot] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        found = _SLOT.match(entry)
        if found is None:
            raise ValueError(f"{entry!r} is not <location>/<server type>=<size>")
        size = int(found["size"])
        if size > MAX_SLOT_SIZE:
            raise ValueError(f"{entry!r}: at most {MAX_SLOT_SIZE} servers per location and type")
        key = (found["location"], found["server_type"])
        if key in slots:
            raise ValueError(f"{key[0]}/{key[1]} is given twice")
        slots[key] = PoolSlot(key[0], key[1], size)
    return tuple(slots.values())


def pool_labels(inputs_hash: str, snapshot_id: int, cluster: str) -> dict[str, str]:
    return {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.CLUSTER_LABEL: naming.label_value(cluster),
        POOL_LABEL: "true",
        golden.INPUTS_LABEL: inputs_hash,
        POOL_SNAPSHOT_LABEL: str(snapshot_id),
    }


def is_pool_server(labels: dict[str, str], cluster: str | None) -> bool:
    """Ours, this cluster's, in the pool and not claimed by any instance."""
    return (
        cluster is not None
        and labels.get(naming.MANAGED_BY_LABEL) == naming.MANAGED_BY_VALUE
        and labels.get(naming.CLUSTER_LABEL) == naming.label_value(cluster)
        and labels.get(POOL_LABEL) == "true"
        and naming.INSTANCE_UID_LABEL not in labels
    )


def pool_server_name(location: str, server_type: str, token: str) -> str:
    """Unique by `token` (random, from the edge); an instance's name replaces it at the claim."""
    return f"clawhost-pool-{location}-{server_type}-{token}"


def claimable(
    servers: Iterable[ServerObservation],
    location: str,
    server_type: str,
    inputs_hash: str | None,
    cluster: str | None,
) -> tuple[int, ...]:
    """The ids of the ready pool servers a new instance of this location, type and golden inputs may
    claim, oldest first (the claim takes the first still unclaimed when it runs)."""
    if inputs_hash is None:
        return ()
    return tuple(
        sorted(
            server.id
            for server in servers
            if is_pool_server(server.labels, cluster)
            and server.status == ServerStatus.RUNNING
            and server.location == location
            and server.server_type == server_type
            and server.labels.get(golden.INPUTS_LABEL) == inputs_hash
        )
    )


def still_claimable(server: ServerObservation | None, inputs_hash: str, cluster: str | None) -> bool:
    """The claim's re-read: the server is still an unclaimed, running pool server of these inputs."""
    return (
        server is not None
        and is_pool_server(server.labels, cluster)
        and server.status == ServerStatus.RUNNING
        and server.labels.get(golden.INPUTS_LABEL) == inputs_hash
    )


@dataclass(frozen=True)
class PoolCreate:
    location: str
    server_type: str
    snapshot_id: int
    labels: dict[str, str]


@dataclass(frozen=True)
class PoolDelete:
    server: ServerObservation
    why: str  # for the log line: stale, unconfigured, surplus


@dataclass(frozen=True)
class PoolPlan:
    creates: tuple[PoolCreate, ...] = ()
    deletes: tuple[PoolDelete, ...] = ()
    waiting: tuple[str, ...] = ()  # slots that cannot fill: no golden snapshot of the current inputs


@dataclass(frozen=True)
class PoolInputs:
    slots: tuple[PoolSlot, ...]
    servers: tuple[ServerObservation, ...]  # the project's listing
    golden_images: tuple[SnapshotObservation, ...]
    wanted: golden.GoldenInputs | None  # what a create of the default version would install now
    cluster: str | None


def plan_pool(inp: PoolInputs) -> PoolPlan:
    if inp.cluster is None:  # without a cluster id no server can be told to be this cluster's pool
        return PoolPlan()
    sizes = {(slot.location, slot.server_type): slot.size for slot in inp.slots}
    current = inp.wanted.inputs_hash if inp.wanted is not None else None
    deletes: list[PoolDelete] = []
    kept: dict[tuple[str, str], list[ServerObservation]] = {}
    for server in sorted(inp.servers, key=lambda s: s.id):
        if not is_pool_server(server.labels, inp.cluster) or server.status == ServerStatus.DELETING:
            continue
        key = (server.location or "", server.server_type)
        if key not in sizes:
            deletes.append(PoolDelete(server, "no pool is configured for its location and type"))
        elif server.labels.get(golden.INPUTS_LABEL) != current:
            deletes.append(PoolDelete(server, "stale: made from a golden image of other inputs"))
        else:
            kept.setdefault(key, []).append(server)
    creates: list[PoolCreate] = []
    waiting: list[str] = []
    for slot in inp.slots:
        have = kept.get((slot.location, slot.server_type), [])
        # Surplus: the newest go first, so the servers longest ready stay ready.
        deletes.extend(PoolDelete(server, "surplus") for server in have[slot.size :][::-1])
        missing = slot.size - len(have)
        if missing <= 0:
            continue
        snapshot = golden.choose(inp.golden_images, inp.wanted)
        if snapshot is None or inp.wanted is None:
            waiting.append(f"{slot.location}/{slot.server_type}")
            continue
        labels = pool_labels(inp.wanted.inputs_hash, snapshot.id, inp.cluster)
        creates.extend(
            PoolCreate(slot.location, slot.server_type, snapshot.id, labels) for _ in range(missing)
        )
    return PoolPlan(tuple(creates), tuple(deletes), tuple(waiting))


@dataclass(frozen=True)
class SlotCount:
    slot: PoolSlot
    ready: int  # running, claimable
    starting: int
    monthly_eur: float | None  # what its servers cost a month (Hetzner's net price); None: price unknown


def count_slots(
    slots: Iterable[PoolSlot],
    servers: Iterable[ServerObservation],
    types: dict[str, ServerTypeInfo],
    cluster: str | None,
) -> tuple[SlotCount, ...]:
    """Per slot its unclaimed pool servers and their monthly cost (ready and starting alike: both bill)."""
    listed = [s for s in servers if is_pool_server(s.labels, cluster) and s.status != ServerStatus.DELETING]
    counts = []
    for slot in slots:
        mine = [s for s in listed if (s.location, s.server_type) == (slot.location, slot.server_type)]
        ready = sum(s.status == ServerStatus.RUNNING for s in mine)
        known = types.get(slot.server_type)
        price = known.monthly_price(slot.location) if known is not None else None
        counts.append(SlotCount(slot, ready, len(mine) - ready, None if price is None else price * len(mine)))
    return tuple(counts)

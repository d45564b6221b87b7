"""The orphan sweep's decision: which of our servers belong to an instance that no longer exists.

An instance deleted while no operator ran (its finalizer removed by hand, its namespace force-deleted)
never reaches `finalize`, and its server and records would bill forever. After each listing the sweep
compares the instance uids named by our servers' owner labels with the uids of the instances that exist;
a server whose instance is gone is an orphan. Once it has been one for the whole grace period, counted
from the first sweep that saw it, it is handed to the finalizer, which deletes it exactly as a normal
delete would (its records first, found by their owner comment; Retain releases both instead).

What keeps the sweep from deleting anything that is not an orphan of this cluster:
- only servers with all our marks: our managed-by value, an instance uid, and this cluster's id
  (`naming.CLUSTER_LABEL`; the same operator in another cluster sharing the project labels its servers
  with its own id, and servers made before the label existed carry none);
- only servers of namespaces this operator watches: an operator of other namespaces may own the rest;
- a server whose deletion-policy label is missing or unknown is kept (and reported), never deleted;
- records are only deleted with their server: a comment names no cluster, so a record alone is never
  enough to call anything an orphan;
- snapshots (a hibernated instance has one and no server) are judged like servers, by the same labels;
  images without all our marks (anyone else's, or system images) are never looked at.
The caller guarantees that `live` is complete (one consistent LIST of every watched namespace, taken
after the listing of servers) and skips the sweep whenever it is not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import ServerObservation, SnapshotObservation


@dataclass(frozen=True)
class Orphan:
    uid: str
    namespace: str
    name: str
    policy: api.DeletionPolicy | None  # None: no label we know; kept
    servers: tuple[ServerObservation, ...]
    snapshots: tuple[SnapshotObservation, ...] = ()


@dataclass(frozen=True)
class SweepInputs:
    servers: tuple[ServerObservation, ...]  # the observer's latest listing
    live: frozenset[str]  # uids of every instance in the watched namespaces
    namespaces: frozenset[str] | None  # the watched namespaces; None: all of them
    cluster: str
    first_seen: Mapping[str, float]  # uid -> when a sweep first saw it orphaned (carried over)
    now: float
    grace: float
    snapshots: tuple[SnapshotObservation, ...] = ()  # the observer's latest listing of our snapshots


@dataclass(frozen=True)
class SweepPlan:
    clean_up: tuple[Orphan, ...]  # past the grace period: hand to the finalizer
    kept: tuple[Orphan, ...]  # past the grace period, deletion policy unknown: left alone
    first_seen: dict[str, float]  # for the next sweep: orphans still waiting or still there


def plan_sweep(inp: SweepInputs) -> SweepPlan:
    orphans = _orphans(inp)
    first_seen = {uid: inp.first_seen.get(uid, inp.now) for uid in orphans}
    due = [orphans[uid] for uid in sorted(orphans) if inp.now - first_seen[uid] >= inp.grace]
    return SweepPlan(
        clean_up=tuple(o for o in due if o.policy is not None),
        kept=tuple(o for o in due if o.policy is None),
        first_seen=first_seen,
    )


def _orphans(inp: SweepInputs) -> dict[str, Orphan]:
    by_uid: dict[str, list[ServerObservation]] = {}
    snapshots_by_uid: dict[str, list[SnapshotObservation]] = {}
    for server in inp.servers:
        uid = _judged_owner(server.labels, inp)
        if uid is not None and uid not in inp.live:
            by_uid.setdefault(uid, []).append(server)
    for snapshot in inp.snapshots:
        uid = _judged_owner(snapshot.labels, inp)
        if uid is not None and uid not in inp.live:
            snapshots_by_uid.setdefault(uid, []).append(snapshot)
    return {
        uid: _orphan(
            uid,
            sorted(by_uid.get(uid, []), key=lambda s: s.id),
            sorted(snapshots_by_uid.get(uid, []), key=lambda s: s.id),
        )
        for uid in by_uid.keys() | snapshots_by_uid.keys()
    }


def _judged_owner(labels: dict[str, str], inp: SweepInputs) -> str | None:
    """The instance uid of a server (or snapshot) this sweep may judge, else None."""
    uid = labels.get(naming.INSTANCE_UID_LABEL)
    if not uid or not naming.owned_by(labels, uid) or labels.get(naming.CLUSTER_LABEL) != inp.cluster:
        return None
    if inp.namespaces is not None and labels.get(naming.INSTANCE_NAMESPACE_LABEL) not in inp.namespaces:
        return None
    return uid


def _orphan(uid: str, servers: list[ServerObservation], snapshots: list[SnapshotObservation]) -> Orphan:
    labelled = [s.labels for s in servers] + [s.labels for s in snapshots]
    first = labelled[0]
    return Orphan(
        uid=uid,
        namespace=first.get(naming.INSTANCE_NAMESPACE_LABEL, ""),
        name=first.get(naming.INSTANCE_NAME_LABEL, ""),
        policy=_policy(naming.deletion_policy(labels) for labels in labelled),
        servers=tuple(servers),
        snapshots=tuple(snapshots),
    )


def _policy(policies: Iterable[api.DeletionPolicy | None]) -> api.DeletionPolicy | None:
    """Retain if any server says so (never delete what one of them asks to keep); Delete only if all do."""
    found = set(policies)
    if api.DeletionPolicy.RETAIN in found:
        return api.DeletionPolicy.RETAIN
    return api.DeletionPolicy.DELETE if found == {api.DeletionPolicy.DELETE} else None

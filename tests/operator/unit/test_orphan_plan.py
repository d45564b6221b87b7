"""The orphan sweep's decision, a row per situation: which servers are orphans of this cluster, when their
grace period is over, what their deletion policy says, and what is never judged at all."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import ImageStatus, ServerObservation, SnapshotObservation
from openclaw_operator.reconcile.orphans import SweepInputs, plan_sweep

CLUSTER = "prod-1"
GONE, LIVE = "uid-gone", "uid-live"
GRACE = 60.0
NOW = 1_000.0


def ours(uid: str = GONE, policy: str | None = "Delete", **overrides: str | None) -> dict[str, str]:
    labels: dict[str, str | None] = {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.INSTANCE_UID_LABEL: uid,
        naming.INSTANCE_NAMESPACE_LABEL: "ns",
        naming.INSTANCE_NAME_LABEL: "alpha",
        naming.DELETION_POLICY_LABEL: policy,
        naming.CLUSTER_LABEL: CLUSTER,
        **overrides,
    }
    return {key: value for key, value in labels.items() if value is not None}


def server(server_id: int, labels: dict[str, str]) -> ServerObservation:
    return ServerObservation(server_id, f"s{server_id}", "running", "cx23", labels, "192.0.2.1", None)


@dataclass(frozen=True)
class Row:
    servers: tuple[ServerObservation, ...]
    clean_up: dict[str, tuple[api.DeletionPolicy, tuple[int, ...]]] = field(default_factory=dict)
    kept: tuple[str, ...] = ()
    waiting: tuple[str, ...] = ()  # orphans whose grace period runs on
    first_seen: dict[str, float] = field(default_factory=dict)
    namespaces: frozenset[str] | None = None


SEEN_LONG_AGO = {GONE: NOW - GRACE}
DELETE, RETAIN = api.DeletionPolicy.DELETE, api.DeletionPolicy.RETAIN

ROWS = {
    "first sight of an orphan: the grace period starts": Row((server(1, ours()),), waiting=(GONE,)),
    "still within the grace period": Row(
        (server(1, ours()),), waiting=(GONE,), first_seen={GONE: NOW - GRACE + 1}
    ),
    "grace period over: handed to the finalizer": Row(
        (server(1, ours()),), clean_up={GONE: (DELETE, (1,))}, first_seen=SEEN_LONG_AGO
    ),
    "Retain: handed over too (the finalizer releases, never deletes)": Row(
        (server(1, ours(policy="Retain")),), clean_up={GONE: (RETAIN, (1,))}, first_seen=SEEN_LONG_AGO
    ),
    "no deletion-policy label (made before it existed): kept": Row(
        (server(1, ours(policy=None)),), kept=(GONE,), first_seen=SEEN_LONG_AGO
    ),
    "a policy label we do not know: kept": Row(
        (server(1, ours(policy="Shred")),), kept=(GONE,), first_seen=SEEN_LONG_AGO
    ),
    "two servers, one says Retain: Retain": Row(
        (server(2, ours()), server(1, ours(policy="Retain"))),
        clean_up={GONE: (RETAIN, (1, 2))},
        first_seen=SEEN_LONG_AGO,
    ),
    "two servers, one without a policy: kept": Row(
        (server(1, ours()), server(2, ours(policy=None))), kept=(GONE,), first_seen=SEEN_LONG_AGO
    ),
    "the instance exists: not an orphan": Row((server(1, ours(uid=LIVE)),), first_seen=SEEN_LONG_AGO),
    "another cluster's operator in the same project": Row(
        (server(1, ours(**{naming.CLUSTER_LABEL: "staging"})),), first_seen=SEEN_LONG_AGO
    ),
    "no cluster label (made before it existed, or by an operator without CLAWHOST_CLUSTER_ID)": Row(
        (server(1, ours(**{naming.CLUSTER_LABEL: None})),), first_seen=SEEN_LONG_AGO
    ),
    "another tool's managed-by value": Row(
        (server(1, ours(**{naming.MANAGED_BY_LABEL: "terraform"})),), first_seen=SEEN_LONG_AGO
    ),
    "no instance uid": Row((server(1, ours(**{naming.INSTANCE_UID_LABEL: None})),), first_seen=SEEN_LONG_AGO),
    "a namespace this operator does not watch": Row(
        (server(1, ours()),), namespaces=frozenset({"other"}), first_seen=SEEN_LONG_AGO
    ),
    "a watched namespace": Row(
        (server(1, ours()),),
        namespaces=frozenset({"ns"}),
        clean_up={GONE: (DELETE, (1,))},
        first_seen=SEEN_LONG_AGO,
    ),
    "gone from the listing: forgotten": Row((), first_seen=SEEN_LONG_AGO),
}


@pytest.mark.parametrize("row", ROWS.values(), ids=ROWS.keys())
def test_sweep_plan(row: Row) -> None:
    plan = plan_sweep(
        SweepInputs(
            servers=row.servers,
            live=frozenset({LIVE}),
            namespaces=row.namespaces,
            cluster=CLUSTER,
            first_seen=row.first_seen,
            now=NOW,
            grace=GRACE,
        )
    )
    assert {o.uid: (o.policy, tuple(s.id for s in o.servers)) for o in plan.clean_up} == row.clean_up
    assert tuple(o.uid for o in plan.kept) == row.kept
    orphans = set(row.clean_up) | set(row.kept) | set(row.waiting)
    assert set(plan.first_seen) == orphans
    for uid in row.waiting:
        assert plan.first_seen[uid] == row.first_seen.get(uid, NOW)  # counted from the first sighting


def test_the_orphan_names_its_instance_for_events_and_logs() -> None:
    inputs = SweepInputs((server(1, ours()),), frozenset(), None, CLUSTER, SEEN_LONG_AGO, NOW, GRACE)
    (orphan,) = plan_sweep(inputs).clean_up
    assert (orphan.uid, orphan.namespace, orphan.name) == (GONE, "ns", "alpha")


def test_owner_labels_record_policy_and_cluster() -> None:
    instance = api.OpenClawInstance.model_validate(
        {
            "metadata": {"name": "alpha", "namespace": "ns", "uid": GONE},
            "spec": {
                "hostname": "a.example.com",
                "gatewayTokenSecretRef": {"name": "t"},
                "deletionPolicy": "Retain",
            },
        }
    )
    labels = naming.owner_labels(instance, CLUSTER)
    assert labels[naming.DELETION_POLICY_LABEL] == "Retain"
    assert labels[naming.CLUSTER_LABEL] == CLUSTER
    assert naming.deletion_policy(labels) == RETAIN
    assert naming.CLUSTER_LABEL not in naming.owner_labels(instance)
    assert naming.without_owner_labels({**labels, "team": "x"}) == {"team": "x"}  # Retain releases both


def snapshot(snapshot_id: int, labels: dict[str, str]) -> SnapshotObservation:
    return SnapshotObservation(snapshot_id, ImageStatus.AVAILABLE, labels, size_gb=1.0)


SNAPSHOT_ROWS = {
    "a hibernated instance's snapshot, instance gone, grace over: handed over": (
        (snapshot(9, ours()),),
        SEEN_LONG_AGO,
        {GONE: (DELETE, (9,))},
        (),
    ),
    "within the grace period: waits": ((snapshot(9, ours()),), {}, {}, ()),
    "Retain on the snapshot: released, never deleted": (
        (snapshot(9, ours(policy="Retain")),),
        SEEN_LONG_AGO,
        {GONE: (RETAIN, (9,))},
        (),
    ),
    "no policy label: kept": ((snapshot(9, ours(policy=None)),), SEEN_LONG_AGO, {}, (GONE,)),
    "the instance exists: not an orphan": ((snapshot(9, ours(uid=LIVE)),), SEEN_LONG_AGO, {}, ()),
    "another cluster's snapshot: never judged": (
        (snapshot(9, ours(**{naming.CLUSTER_LABEL: "staging"})),),
        SEEN_LONG_AGO,
        {},
        (),
    ),
    "a foreign image (no managed-by): never judged": (
        (snapshot(9, ours(**{naming.MANAGED_BY_LABEL: None})),),
        SEEN_LONG_AGO,
        {},
        (),
    ),
}


@pytest.mark.parametrize("name", SNAPSHOT_ROWS)
def test_snapshots_are_judged_like_servers(name: str) -> None:
    snapshots, first_seen, clean_up, kept = SNAPSHOT_ROWS[name]
    plan = plan_sweep(
        SweepInputs(
            servers=(),
            live=frozenset({LIVE}),
            namespaces=None,
            cluster=CLUSTER,
            first_seen=first_seen,
            now=NOW,
            grace=GRACE,
            snapshots=snapshots,
        )
    )
    assert {o.uid: (o.policy, tuple(s.id for s in o.snapshots)) for o in plan.clean_up} == clean_up
    assert tuple(o.uid for o in plan.kept) == kept


def test_a_server_and_a_snapshot_of_one_gone_instance_are_one_orphan() -> None:
    plan = plan_sweep(
        SweepInputs(
            servers=(server(1, ours()),),
            live=frozenset(),
            namespaces=None,
            cluster=CLUSTER,
            first_seen=SEEN_LONG_AGO,
            now=NOW,
            grace=GRACE,
            snapshots=(snapshot(9, ours()),),
        )
    )
    (orphan,) = plan.clean_up
    assert [s.id for s in orphan.servers] == [1] and [s.id for s in orphan.snapshots] == [9]

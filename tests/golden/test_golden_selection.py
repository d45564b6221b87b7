"""reconcile/golden.py, table-driven: which golden snapshot a new server is made from (never one built
from other inputs), which a build keeps, which builders a crashed build left; and that the orphan sweep
leaves golden snapshots and running builds alone."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile import golden, naming
from openclaw_operator.reconcile.model import (
    CreateServer,
    ImageStatus,
    ServerObservation,
    ServerTypeInfo,
    SnapshotObservation,
    StatusDelta,
)
from openclaw_operator.reconcile.orphans import SweepInputs, plan_sweep
from openclaw_operator.reconcile.server import ServerInputs, plan_server

NOW = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
WANTED = golden.GoldenInputs("ubuntu-24.04", "2026.9.6", 24, "a" * 32)
CX23 = ServerTypeInfo("cx23", 40, "x86")
CAX11 = ServerTypeInfo("cax11", 40, "arm")


def snapshot(
    image_id: int, inputs: golden.GoldenInputs = WANTED, age_days: float = 1, **changes: object
) -> SnapshotObservation:
    built = SnapshotObservation(
        id=image_id,
        status=ImageStatus.AVAILABLE,
        labels=inputs.labels("x86", "c1"),
        size_gb=1.0,
        disk_gb=40,
        created=NOW - timedelta(days=age_days),
        server_id=900 + image_id,
    )
    return replace(built, **changes)  # type: ignore[arg-type]


def relabelled(image: SnapshotObservation, **labels: str | None) -> SnapshotObservation:
    new = {**image.labels, **{k: v for k, v in labels.items() if v is not None}}
    for key in [k for k, v in labels.items() if v is None]:
        new.pop(key)
    return replace(image, labels=new)


def never(name: str, label: str, value: str | None) -> Row:
    """A row whose one snapshot matches but for one label (None: without it): never chosen."""
    return Row(name, (relabelled(snapshot(1), **{label: value}),), chosen=None)


@dataclass(frozen=True)
class Row:
    name: str
    snapshots: tuple[SnapshotObservation, ...]
    chosen: int | None
    wanted: golden.GoldenInputs | None = WANTED
    server_type: ServerTypeInfo | None = None


ROWS = [
    Row("one built from these inputs: used", (snapshot(1),), chosen=1),
    Row("none at all: full install", (), chosen=None),
    Row(
        "stale hash (built before the install stage changed): never used",
        (snapshot(1, replace(WANTED, inputs_hash="b" * 32)),),
        chosen=None,
    ),
    Row(
        "built for another OpenClaw version: never used",
        (snapshot(1, replace(WANTED, openclaw_version="2026.9.5", inputs_hash="c" * 32)),),
        chosen=None,
    ),
    never("hash right, version label wrong (hand-edited)", golden.OPENCLAW_VERSION_LABEL, "2026.9.5"),
    never("another Node.js line", golden.NODE_VERSION_LABEL, "26"),
    never("another base image", golden.BASE_IMAGE_LABEL, "debian-12"),
    never("no golden label (a hibernation snapshot, say)", golden.GOLDEN_LABEL, None),
    never("not ours (no managed-by label)", naming.MANAGED_BY_LABEL, None),
    Row("still being created: not yet", (snapshot(1, status=ImageStatus.CREATING),), chosen=None),
    Row("two candidates: the newest", (snapshot(1, age_days=3), snapshot(2, age_days=1)), chosen=2),
    Row(
        "two candidates, newest by creation, not by id",
        (snapshot(5, age_days=3), snapshot(4, age_days=1)),
        chosen=4,
    ),
    Row(
        "a stale newer one and a matching older one: the matching one",
        (snapshot(1, age_days=5), snapshot(2, replace(WANTED, inputs_hash="d" * 32), age_days=0)),
        chosen=1,
    ),
    Row("golden images off: none", (snapshot(1),), chosen=None, wanted=None),
    Row(
        "disk bigger than the server type's: not usable",
        (snapshot(1, disk_gb=80),),
        chosen=None,
        server_type=CX23,
    ),
    Row("another architecture: not usable", (snapshot(1),), chosen=None, server_type=CAX11),
    Row("fits the type: used", (snapshot(1),), chosen=1, server_type=CX23),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_choose(row: Row) -> None:
    chosen = golden.choose(row.snapshots, row.wanted, row.server_type)
    assert (chosen.id if chosen else None) == row.chosen


def create_inputs(**changes: object) -> ServerInputs:
    spec = api.InstanceSpec.model_validate(
        {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}}
    )
    base = ServerInputs(
        uid="u-1",
        name="alpha-u1",
        labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.INSTANCE_UID_LABEL: "u-1"},
        spec=spec,
        annotations={},
        status=api.InstanceStatus(),
        server=None,
        action=None,
        desired_type=None,
        now=NOW,
        shutdown_timeout=120,
        poll=2.0,
        golden_images=(snapshot(1, age_days=2), snapshot(2, replace(WANTED, inputs_hash="e" * 32))),
        golden_inputs=WANTED,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_create_uses_the_matching_golden_snapshot_and_records_it() -> None:
    (step,) = plan_server(create_inputs()).steps
    assert isinstance(step, CreateServer)
    assert step.golden_snapshot == 1 and step.from_snapshot is None
    assert step.on_success == StatusDelta(boot_image=api.BootImage(kind=api.BootImageKind.GOLDEN, id="1"))
    assert "golden snapshot 1" in step.message


def test_a_create_without_a_match_installs_from_the_base_image() -> None:
    (step,) = plan_server(
        create_inputs(golden_images=(snapshot(2, replace(WANTED, inputs_hash="e" * 32)),))
    ).steps
    assert isinstance(step, CreateServer)
    assert step.golden_snapshot is None and step.image == "ubuntu-24.04"
    assert step.on_success == StatusDelta(
        boot_image=api.BootImage(kind=api.BootImageKind.BASE, id="ubuntu-24.04")
    )


def test_a_restore_from_hibernation_never_uses_a_golden_snapshot() -> None:
    kept = SnapshotObservation(id=50, status=ImageStatus.AVAILABLE, labels={}, size_gb=2.0, server_id=7)
    (step,) = plan_server(create_inputs(snapshots=(kept,))).steps
    assert isinstance(step, CreateServer)
    assert step.from_snapshot == 50 and step.golden_snapshot is None


@pytest.mark.parametrize(
    ("name", "snapshots", "deleted"),
    [
        ("fewer than keep: none", (snapshot(1), snapshot(2, age_days=2)), []),
        (
            "three of one hash: the oldest",
            (snapshot(1, age_days=1), snapshot(2, age_days=3), snapshot(3, age_days=2)),
            [2],
        ),
        (
            "counted per hash",
            (
                snapshot(1, age_days=1),
                snapshot(2, age_days=2),
                snapshot(3, age_days=3),
                snapshot(4, replace(WANTED, inputs_hash="f" * 32), age_days=9),
            ),
            [3],
        ),
        (
            "one being created is neither kept nor deleted",
            (snapshot(1), snapshot(2, age_days=2), snapshot(3, age_days=0, status=ImageStatus.CREATING)),
            [],
        ),
        (
            "not golden: never deleted",
            tuple(relabelled(snapshot(i, age_days=i), **{golden.GOLDEN_LABEL: None}) for i in (1, 2, 3)),
            [],
        ),
    ],
)
def test_superseded(name: str, snapshots: tuple[SnapshotObservation, ...], deleted: list[int]) -> None:
    assert [s.id for s in golden.superseded(snapshots, keep=2)] == deleted


def builder(server_id: int, deadline: float, cluster: str | None = "c1", **labels: str) -> ServerObservation:
    return ServerObservation(
        id=server_id,
        name=golden.builder_name(WANTED.inputs_hash),
        status="running",
        server_type="cx23",
        labels={**golden.builder_labels(WANTED, "x86", cluster, deadline), **labels},
    )


def test_expired_builders() -> None:
    now = 10_000.0
    servers = [
        builder(1, deadline=now - 1),  # a crashed build's
        builder(2, deadline=now + 600),  # a build still running
        builder(3, deadline=now - 1, cluster="other"),  # another cluster's
        builder(4, deadline=now - 1, **{golden.BUILDER_DEADLINE_LABEL: "soon"}),  # unreadable: kept
        ServerObservation(id=5, name="x", status="running", server_type="cx23", labels={}),  # not ours
    ]
    assert [s.id for s in golden.expired_builders(servers, now, "c1")] == [1]


def test_the_orphan_sweep_never_judges_golden_snapshots_or_builders() -> None:
    plan = plan_sweep(
        SweepInputs(
            servers=(builder(1, deadline=0.0),),
            live=frozenset(),
            namespaces=None,
            cluster="c1",
            first_seen={},
            now=1e9,
            grace=0.0,
            snapshots=(snapshot(1), snapshot(2, age_days=30)),
        )
    )
    assert plan.clean_up == () and plan.kept == () and plan.first_seen == {}

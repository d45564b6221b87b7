"""plan_server, one row per situation: what the next step is, and what ServerReady says."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    UNKNOWN_TYPE,
    ActionObservation,
    CreateServer,
    ServerAction,
    ServerObservation,
    ServerTypeInfo,
    StatusDelta,
    step_name,
)
from openclaw_operator.reconcile.server import ServerInputs, needs_fresh_server, plan_server

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
UID = "0b9f3c1e-1111-4222-8333-444455556666"
LABELS = {"clawhost.dev/managed-by": "openclaw-operator", "clawhost.dev/instance-uid": UID}
RUNNING = ServerObservation(
    id=7,
    name="alpha-0b9f3c1e",
    status="running",
    server_type="cx23",
    labels=dict(LABELS),
    ipv4="203.0.113.7",
    ipv6="2001:db8::1",
    disk_gb=40,
    architecture="x86",
    delete_protected=True,
    rebuild_protected=True,
)
OFF = replace(RUNNING, status="off")
CX33 = ServerTypeInfo("cx33", 80, "x86")
CX22_SMALL = ServerTypeInfo("cx11", 20, "x86")
CAX11 = ServerTypeInfo("cax11", 40, "arm")


@dataclass
class Row:
    name: str
    server: ServerObservation | None = RUNNING
    spec: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    action: ActionObservation | None = None
    desired_type: ServerTypeInfo | None = None
    # expectations
    step: str | None = None  # model.step_name of the one step
    payload: dict[str, Any] | None = None  # of a server action
    ready: str = "False"
    reason: str | None = None
    stalled: str | None = None
    requeue: bool = True
    updates: dict[str, Any] = field(default_factory=dict)
    on_success: StatusDelta = NO_CHANGE


def inputs(row: Row) -> ServerInputs:
    spec = api.InstanceSpec.model_validate(
        {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}, **row.spec}
    )
    return ServerInputs(
        uid=UID,
        name="alpha-0b9f3c1e",
        labels=dict(LABELS),
        spec=spec,
        annotations=row.annotations,
        status=api.InstanceStatus.model_validate(row.status),
        server=row.server,
        action=row.action,
        desired_type=row.desired_type,
        now=NOW,
        shutdown_timeout=120,
        poll=2.0,
    )


ACTION = {"action": {"id": 99, "command": "poweron"}}
# A create without a golden snapshot (tests/golden has those rows) records the base image it installs on.
BASE_BOOT = StatusDelta(boot_image=api.BootImage(kind=api.BootImageKind.BASE, id="ubuntu-24.04"))
EARLIER = (NOW - timedelta(seconds=30)).isoformat()
LONG_AGO = (NOW - timedelta(seconds=300)).isoformat()

ROWS = [
    Row(
        "no server yet: create it",
        server=None,
        step="create_server",
        reason="Creating",
        on_success=BASE_BOOT,
    ),
    Row(
        "server vanished out of band: create again, as drift",
        server=None,
        status={"serverId": 5},
        step="create_server",
        updates={"server_id": None},
        on_success=BASE_BOOT,
    ),
    Row("running, protected, labelled, as specified", ready="True", reason="Running", requeue=False),
    Row(
        "action still running: wait, do nothing",
        status=ACTION,
        action=ActionObservation(99, "start_server", "running"),
        reason="ActionInProgress",
    ),
    Row(
        "action not polled yet: wait",
        status=ACTION,
        action=None,
        reason="ActionInProgress",
    ),
    Row(
        "action failed: report it, clear it, back off",
        status=ACTION,
        action=ActionObservation(99, "start_server", "error", "boom"),
        reason="ActionFailed",
        updates={"action": None},
    ),
    Row(
        "action done: clear it and go on planning",
        status=ACTION,
        action=ActionObservation(99, "start_server", "success"),
        ready="True",
        reason="Running",
        requeue=False,
        updates={"action": None},
    ),
    Row(
        "server still booting: wait", server=replace(RUNNING, status="starting"), reason="ServerTransitioning"
    ),
    Row(
        "not protected: protect",
        server=replace(RUNNING, delete_protected=False),
        step="change_protection",
        payload={"delete": True, "rebuild": True},
    ),
    Row(
        "owner labels missing (adopted): restore them",
        server=replace(RUNNING, labels={"clawhost.dev/instance-uid": UID}),
        step="set_labels",
    ),
    Row("found off, not suspended: power on", server=OFF, step="poweron"),
    Row(
        "suspend a running server: graceful shutdown first, its start recorded",
        spec={"suspended": True},
        step="shutdown",
        on_success=StatusDelta(shutdown_started_at=NOW),
    ),
    Row(
        "suspend, shutdown sent recently: wait",
        spec={"suspended": True},
        status={"shutdownStartedAt": EARLIER},
        reason="ShuttingDown",
    ),
    Row(
        "suspend, shutdown timed out: power off",
        spec={"suspended": True},
        status={"shutdownStartedAt": LONG_AGO},
        step="poweroff",
    ),
    Row(
        "suspended and off: done",
        server=OFF,
        spec={"suspended": True},
        status={"shutdownStartedAt": EARLIER},
        ready="True",
        reason="PoweredOff",
        requeue=False,
        updates={"shutdown_started_at": None},
    ),
    Row(
        "reboot requested while suspended: recorded, nothing done",
        server=OFF,
        spec={"suspended": True},
        annotations={api.REBOOT_REQUESTED_AT: "r1"},
        ready="True",
        requeue=False,
        updates={"last_handled_reboot_at": "r1"},
    ),
    Row(
        "resize running server: shut down first",
        spec={"serverType": "cx33"},
        desired_type=CX33,
        step="shutdown",
        on_success=StatusDelta(shutdown_started_at=NOW),
    ),
    Row("resize, type not looked up yet: wait", spec={"serverType": "cx33"}, reason="Resizing"),
    Row(
        "resize, server off: change type",
        server=OFF,
        spec={"serverType": "cx33"},
        desired_type=CX33,
        step="change_type",
        payload={"server_type": "cx33", "upgrade_disk": False},
    ),
    Row(
        "resize to a smaller disk: stalled, server untouched",
        spec={"serverType": "cx11"},
        desired_type=CX22_SMALL,
        stalled="DiskDowngrade",
        requeue=False,
    ),
    Row(
        "resize to another architecture: stalled",
        spec={"serverType": "cax11"},
        desired_type=CAX11,
        stalled="IncompatibleServerType",
        requeue=False,
    ),
    Row(
        "resize to a type Hetzner does not have: stalled",
        spec={"serverType": "zz99"},
        desired_type=UNKNOWN_TYPE,
        stalled="UnknownServerType",
        requeue=False,
    ),
    Row(
        "reboot requested: reboot, recorded once done",
        annotations={api.REBOOT_REQUESTED_AT: "r2"},
        step="reboot",
        on_success=StatusDelta(last_handled_reboot_at="r2"),
    ),
    Row(
        "reboot already handled: nothing",
        annotations={api.REBOOT_REQUESTED_AT: "r2"},
        status={"lastHandledRebootAt": "r2"},
        ready="True",
        requeue=False,
    ),
    Row(
        "reinstall on a protected server: lift rebuild protection first",
        annotations={api.REINSTALL_REQUESTED_AT: "i1"},
        step="change_protection",
        payload={"delete": False, "rebuild": False},
    ),
    Row(
        "reinstall, unprotected: rebuild, recorded once done",
        server=replace(RUNNING, delete_protected=False, rebuild_protected=False),
        annotations={api.REINSTALL_REQUESTED_AT: "i1"},
        step="rebuild",
        on_success=StatusDelta(
            last_handled_reinstall_at="i1", applied_config_hash=None, channel_host_key=None
        ),
    ),
    Row("backups wanted: enable", spec={"backups": True}, step="enable_backup"),
    Row("backups unwanted: disable", server=replace(RUNNING, backups=True), step="disable_backup"),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_plan_server(row: Row) -> None:
    plan = plan_server(inputs(row))
    assert [step_name(s) for s in plan.steps] == ([row.step] if row.step else [])
    assert plan.verdict.status == row.ready
    if row.reason:
        assert plan.verdict.reason == row.reason
    assert (plan.stall.reason if plan.stall else None) == row.stalled
    assert (plan.requeue is not None) == row.requeue
    for key, value in row.updates.items():
        assert plan.updates.changes()[key] == value
    if row.step:
        step = plan.steps[0]
        assert step.on_success == row.on_success
        if isinstance(step, ServerAction):
            assert row.server is not None and step.server_id == row.server.id
            assert step.payload == row.payload


def test_out_of_band_deletion_is_reported_and_counted_as_drift() -> None:
    plan = plan_server(inputs(Row("x", server=None, status={"serverId": 5})))
    assert plan.steps[0].drift
    assert [note.reason for note in plan.notes] == ["ServerRecreated"]


def test_power_on_after_our_own_shutdown_is_not_drift() -> None:
    plan = plan_server(inputs(Row("x", server=OFF, status={"shutdownStartedAt": EARLIER})))
    assert step_name(plan.steps[0]) == "poweron"
    assert not plan.steps[0].drift
    assert plan_server(inputs(Row("x", server=OFF))).steps[0].drift


@pytest.mark.parametrize(
    ("status", "server", "fresh"),
    [
        ({}, RUNNING, False),
        ({}, replace(RUNNING, status="starting"), True),
        ({"shutdownStartedAt": EARLIER}, RUNNING, True),
        ({"shutdownStartedAt": EARLIER}, OFF, False),
        ({}, None, False),
    ],
)
def test_needs_fresh_server(status: dict[str, Any], server: ServerObservation | None, fresh: bool) -> None:
    assert needs_fresh_server(api.InstanceStatus.model_validate(status), server) == fresh


CREATE_LOCATIONS = [
    # (spec, status, location of the create, its fallbacks)
    ({}, {}, "fsn1", ()),
    ({"locationPolicy": "Strict", "location": "nbg1"}, {}, "nbg1", ()),
    ({"locationPolicy": "PreferSameRegion"}, {}, "fsn1", ("nbg1", "hel1")),
    ({"locationPolicy": "PreferSameRegion", "location": "ash"}, {}, "ash", ()),
    # the location it was created in is where a lost server is made again, whatever the policy
    ({"locationPolicy": "PreferSameRegion"}, {"serverId": 5, "location": "hel1"}, "hel1", ()),
    ({}, {"serverId": 5, "location": "fsn1"}, "fsn1", ()),
]


@pytest.mark.parametrize(("spec", "status", "location", "fallbacks"), CREATE_LOCATIONS)
def test_create_location_and_fallbacks(
    spec: dict[str, Any], status: dict[str, Any], location: str, fallbacks: tuple[str, ...]
) -> None:
    (step,) = plan_server(inputs(Row("x", server=None, spec=spec, status=status))).steps
    assert isinstance(step, CreateServer)
    assert (step.location, step.fallback_locations) == (location, fallbacks)


def test_an_existing_server_does_not_rewrite_the_location() -> None:
    """Only the create records status.location: an upgrade must not patch every instance's status."""
    plan = plan_server(inputs(Row("x", server=replace(RUNNING, location="nbg1"))))
    assert "location" not in plan.updates.changes()

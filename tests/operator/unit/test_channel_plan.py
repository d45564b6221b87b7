"""plan_channel, one row per situation: whether the running server gets a push (or a pairing approval),
and what ConfigApplied says. Plus the pieces it stands on: the hash, the owned keys, the merge, masking."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.bootstrap.app_files import (
    OWNED_CONFIG_PATHS,
    gateway_config,
    gateway_environment,
    owned_paths_in,
    server_files,
)
from openclaw_operator.providers.channel import mask
from openclaw_operator.reconcile.channel import ChannelInputs, desired_hash, plan_channel
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import ApplyServerConfig, AppObservation, ServerObservation, step_name

DEFAULT_VERSION = "2026.9.6"
RUNNING = ServerObservation(
    id=7, name="alpha-0b9f3c1e", status="running", server_type="cx23", ipv4="203.0.113.7"
)
HEALTHY = AppObservation(True, "ok")
BASE_SPEC = {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}}


def spec(**changes: Any) -> api.InstanceSpec:
    return api.InstanceSpec.model_validate({**BASE_SPEC, **changes})


APPLIED = desired_hash(spec(), RUNNING.id, DEFAULT_VERSION)


@dataclass
class Row:
    name: str
    spec: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=lambda: {"appliedConfigHash": APPLIED})
    annotations: dict[str, str] = field(default_factory=dict)
    server: ServerObservation | None = RUNNING
    server_ready: bool = True
    app: AppObservation | None = HEALTHY
    enabled: bool = True
    # expectations
    steps: tuple[str, ...] = ()
    condition: str = "True"
    reason: str = "Applied"
    stall: str | None = None


ROWS = [
    Row("applied and unchanged: nothing to do"),
    Row("hostname changed: push", spec={"hostname": "beta.example.com"}, steps=("apply_server_config",),
        condition="False", reason="Applying"),
    Row("token Secret switched (WHMCS ChangePassword): push", spec={"gatewayTokenSecretRef": {"name": "t2"}},
        steps=("apply_server_config",), condition="False", reason="Applying"),
    Row("ssh keys changed: push", spec={"sshKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA k"]},
        steps=("apply_server_config",), condition="False", reason="Applying"),
    Row("config fragment changed: push", spec={"config": {"agents": {"defaults": {}}}},
        steps=("apply_server_config",), condition="False", reason="Applying"),
    Row("env reference added: push",
        spec={"env": [{"name": "ANTHROPIC_API_KEY", "secretKeyRef": {"name": "keys", "key": "anthropic"}}]},
        steps=("apply_server_config",), condition="False", reason="Applying"),
    Row("version changed: the update is admitted first (recorded; the push is the next pass)",
        spec={"openclawVersion": "2026.9.5"},
        status={"appliedConfigHash": APPLIED, "openclawVersion": "2026.9.6"},
        condition="False", reason="UpdateAdmitted"),
    Row("version changed and admitted: push (an update)", spec={"openclawVersion": "2026.9.5"},
        status={"appliedConfigHash": APPLIED, "openclawVersion": "2026.9.6", "versionUpdate": {
            "fromVersion": "2026.9.6", "toVersion": "2026.9.5", "state": "Updating",
            "startedAt": "2026-12-04T04:00:00Z"}},
        steps=("apply_server_config",), condition="False", reason="Applying"),
    Row("a reconcile request pushes again (a Secret may have changed under the same name)",
        annotations={api.RECONCILE_REQUESTED_AT: "r1"}, steps=("apply_server_config",), condition="False",
        reason="Applying"),
    Row("a reconcile request already handled: nothing",
        annotations={api.RECONCILE_REQUESTED_AT: "r1"},
        status={"appliedConfigHash": APPLIED, "lastHandledReconcileAt": "r1"}),
    Row("never applied, app not yet healthy: wait for the bootstrap", status={},
        app=AppObservation(False, "503"), condition="False", reason="WaitingForBootstrap"),
    Row("never applied, app healthy: first push", status={}, steps=("apply_server_config",),
        condition="False", reason="Applying"),
    Row("applied before, app unhealthy: push anyway (the push may be the fix)",
        spec={"hostname": "beta.example.com"}, app=AppObservation(False, "503"),
        steps=("apply_server_config",), condition="False", reason="Applying"),
    Row("server off: wait, the last push still matches", server=replace(RUNNING, status="off")),
    Row("server off with a change pending: wait", server=replace(RUNNING, status="off"),
        spec={"hostname": "beta.example.com"}, condition="False", reason="WaitingForServer"),
    Row("server busy with an action: wait", server_ready=False, spec={"hostname": "beta.example.com"},
        condition="False", reason="WaitingForServer"),
    Row("no server yet: wait", server=None, status={}, condition="False", reason="WaitingForServer"),
    Row("suspended: nothing is pushed", spec={"suspended": True, "hostname": "beta.example.com"},
        condition="False", reason="Suspended"),
    Row("another server (recreated): push", server=replace(RUNNING, id=8), steps=("apply_server_config",),
        condition="False", reason="Applying"),
    Row("owned key in the fragment: stalled, the field named",
        spec={"config": {"gateway": {"auth": {"mode": "none"}}}}, condition="False",
        reason="ConfigFieldOwned",
        stall="spec.config.gateway.auth is owned by the operator and cannot be set in spec.config"),
    Row("literal env in the fragment: stalled", spec={"config": {"env": {"vars": {"K": "v"}}}},
        condition="False", reason="ConfigFieldOwned",
        stall="spec.config.env is owned by the operator and cannot be set in spec.config"),
    Row("no channel key: nothing, condition Unknown", enabled=False, spec={"hostname": "beta.example.com"},
        condition="Unknown", reason="NoChannel"),
    Row("approve-devices requested: approve", annotations={api.APPROVE_DEVICES_REQUESTED_AT: "a1"},
        steps=("approve_devices",)),
    Row("approve-devices already handled: nothing", annotations={api.APPROVE_DEVICES_REQUESTED_AT: "a1"},
        status={"appliedConfigHash": APPLIED, "lastHandledApproveDevicesAt": "a1"}),
    Row("approve-devices and a change together: push first, then approve",
        annotations={api.APPROVE_DEVICES_REQUESTED_AT: "a2"}, spec={"hostname": "beta.example.com"},
        steps=("apply_server_config", "approve_devices"), condition="False", reason="Applying"),
    Row("approve-devices while the server is off: wait", annotations={api.APPROVE_DEVICES_REQUESTED_AT: "a1"},
        server=replace(RUNNING, status="off")),
]  # fmt: skip


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) >= 20
    assert len({row.name for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_plan_channel(row: Row) -> None:
    plan = plan_channel(
        ChannelInputs(
            spec=spec(**row.spec),
            annotations=row.annotations,
            status=api.InstanceStatus.model_validate(row.status),
            server=row.server,
            server_ready=row.server_ready,
            app=row.app,
            default_openclaw_version=DEFAULT_VERSION,
            enabled=row.enabled,
        )
    )
    assert tuple(step_name(step) for step in plan.steps) == row.steps
    assert (plan.verdict.status, plan.verdict.reason) == (row.condition, row.reason)
    assert (plan.stall.message if plan.stall else None) == row.stall
    for step in plan.steps:
        if isinstance(step, ApplyServerConfig):
            wanted = desired_hash(spec(**row.spec), step.server_id, DEFAULT_VERSION)
            assert step.desired_hash == wanted
            assert step.on_success.changes()["applied_config_hash"] == wanted  # recorded only once it worked
            assert step.address == RUNNING.ipv4


def test_the_hash_names_secret_references_never_values() -> None:
    first = desired_hash(spec(), 7, DEFAULT_VERSION)
    assert first.startswith("sha256:") and len(first) == 7 + 32
    assert desired_hash(spec(), 7, DEFAULT_VERSION) == first  # stable
    assert (
        desired_hash(spec(gatewayTokenSecretRef={"name": "t", "key": "other"}), 7, DEFAULT_VERSION) != first
    )
    assert desired_hash(spec(), 7, "2026.9.5") != first  # the default version counts when the spec has none


OWNED_EXAMPLES = {
    "env": {"env": {"vars": {}}},
    "update": {"update": {"auto": {"enabled": True}}},
    "discovery.mdns": {"discovery": {"mdns": {"mode": "full"}}},
    "gateway.mode": {"gateway": {"mode": "remote"}},
    "gateway.bind": {"gateway": {"bind": "lan"}},
    "gateway.port": {"gateway": {"port": 1}},
    "gateway.auth": {"gateway": {"auth": {"mode": "none"}}},
    "gateway.trustedProxies": {"gateway": {"trustedProxies": ["0.0.0.0/0"]}},
    "gateway.tls": {"gateway": {"tls": {"enabled": True}}},
    "gateway.tailscale": {"gateway": {"tailscale": {"mode": "funnel"}}},
    "gateway.terminal": {"gateway": {"terminal": {"enabled": True}}},
    "gateway.controlUi.allowedOrigins": {"gateway": {"controlUi": {"allowedOrigins": ["*"]}}},
}


@pytest.mark.parametrize("path", OWNED_CONFIG_PATHS)
def test_each_owned_path_is_found_and_the_operator_wins_the_merge(path: str) -> None:
    fragment = OWNED_EXAMPLES[path]
    assert owned_paths_in(fragment) == [f"config.{path}"]
    merged = gateway_config("alpha.example.com", fragment)
    base = gateway_config("alpha.example.com")
    node_merged: Any = merged
    node_base: Any = base
    for part in path.split("."):
        node_merged = node_merged.get(part) if isinstance(node_merged, dict) else None
        node_base = node_base.get(part) if isinstance(node_base, dict) else None
    if node_base is not None:
        assert node_merged == node_base


def test_a_fragment_keeps_its_own_keys_beside_the_operators() -> None:
    fragment = {
        "gateway": {"controlUi": {"basePath": "/ui"}},
        "agents": {"defaults": {"model": {"primary": "x"}}},
    }
    assert owned_paths_in(fragment) == []
    merged = gateway_config("alpha.example.com", fragment)
    assert merged["gateway"]["controlUi"] == {
        "basePath": "/ui",
        "allowedOrigins": ["https://alpha.example.com"],
    }
    assert merged["agents"] == fragment["agents"]
    assert fragment == {
        "gateway": {"controlUi": {"basePath": "/ui"}},
        "agents": {"defaults": {"model": {"primary": "x"}}},
    }


def test_the_channels_files_are_the_bootstraps() -> None:
    files = server_files(
        "alpha.example.com", ("ssh-ed25519 AAAAC3Nz k",), None, 'tok$en"x', {"B": "2", "A": "1"}
    )
    assert files["gatewayEnv"] == 'OPENCLAW_GATEWAY_TOKEN="tok\\$en\\"x"\nA="1"\nB="2"\n'
    assert files["gatewayEnv"].startswith(gateway_environment('tok$en"x'))
    assert files["adminKeys"] == "ssh-ed25519 AAAAC3Nz k\n"
    assert "alpha.example.com {" in files["caddyfile"]


def test_masking_hides_every_secret_sent() -> None:
    text = "bad value sk-ant-secret for key and token tok-123456 and tok"
    assert mask(text, ["sk-ant-secret", "tok-123456", "tok"]) == "bad value *** for key and token *** and tok"


def test_a_pass_with_the_channel_pushes_once_the_server_and_app_are_ready() -> None:
    """decide() puts the channel's step after the infrastructure's and reports ConfigApplied; without a
    channel the condition is Unknown and no step appears."""
    from tests.operator.unit.test_instance_decide import SETTINGS, Row, situation

    with_channel = replace(SETTINGS, channel=True)
    decision = decide(situation(Row("ready", settings=with_channel)))
    assert [step_name(step) for step in decision.steps] == ["apply_server_config"]
    applied = decision.status.condition(api.ConditionType.CONFIG_APPLIED)
    assert applied is not None and (applied.status, applied.reason) == ("False", "Applying")
    ready = decision.status.condition(api.ConditionType.READY)
    assert ready is not None and ready.status == "True"  # the app serves meanwhile
    owned = decide(
        situation(Row("owned", settings=with_channel, spec={"config": {"gateway": {"bind": "lan"}}}))
    )
    assert owned.steps == () and owned.stalled
    assert "spec.config.gateway.bind" in owned.status.message  # type: ignore[operator]
    without = decide(situation(Row("no channel")))
    assert without.steps == ()
    unknown = without.status.condition(api.ConditionType.CONFIG_APPLIED)
    assert unknown is not None and unknown.status == "Unknown"
    unchecked = replace(SETTINGS, channel=True, app_ready_check=False)
    assert [
        step_name(s) for s in decide(situation(Row("no app check", settings=unchecked, app=None))).steps
    ] == ["apply_server_config"]

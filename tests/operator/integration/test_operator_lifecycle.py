"""The whole life of an instance through the real operator process: create, resize, suspend, reboot,
reinstall, delete; and deletionPolicy Retain."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import ZONE, Stage, condition, wait_until

pytestmark = pytest.mark.controlplane


def only_server(stage: Stage) -> dict[str, Any]:
    servers = stage.servers()
    assert len(servers) == 1, servers
    return servers[0]


def address_records(stage: Stage, hostname: str) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in stage.records() if r["name"] == hostname and r["type"] in ("A", "AAAA")}


def assert_records_point_at(stage: Stage, hostname: str, server: dict[str, Any], uid: str) -> None:
    records = address_records(stage, hostname)
    assert set(records) == {"A", "AAAA"}
    assert records["A"]["content"] == server["public_net"]["ipv4"]["ip"]
    assert records["AAAA"]["content"] == naming.ipv6_address(server["public_net"]["ipv6"]["ip"])
    assert {r["comment"] for r in records.values()} == {naming.record_comment(uid)}


def test_create_to_ready_then_delete_leaves_nothing(stage: Stage) -> None:
    stage.start_operator()
    created = stage.create_instance("alpha", serverType="cx23")
    uid = created["metadata"]["uid"]
    body = stage.wait_ready("alpha")

    server = only_server(stage)
    status = body["status"]
    assert server["status"] == "running"
    assert server["name"] == naming.server_name("alpha", uid)
    assert server["labels"][naming.INSTANCE_UID_LABEL] == uid
    assert server["labels"][naming.MANAGED_BY_LABEL] == naming.MANAGED_BY_VALUE
    assert server["protection"] == {"delete": True, "rebuild": True}
    assert status["serverId"] == server["id"]
    assert status["ipv4"] == server["public_net"]["ipv4"]["ip"]
    assert status["phase"] == "Running"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
        "ServerReady": "True",
        "DNSReady": "True",
        "AppReady": "True",
        # This stage gives the operator no channel key: whether the running server follows the spec is
        # unknown, and says so, rather than claimed.
        "ConfigApplied": "Unknown",
        "BackedUp": "Unknown",  # and without a channel (or a backup store) there are no backups either
    }
    assert_records_point_at(stage, f"alpha.{ZONE}", server, uid)
    firewalls = stage.hetzner.firewalls()
    assert [f["name"] for f in firewalls] == [naming.FIREWALL_NAME]
    assert api_finalizers(body) == ["clawhost.dev/finalizer"]
    assert_metrics_and_liveness(stage)

    stage.delete("alpha")
    stage.wait_gone("alpha")
    assert stage.servers() == []
    assert address_records(stage, f"alpha.{ZONE}") == {}


def assert_metrics_and_liveness(stage: Stage) -> None:
    process = stage.operators[0]
    health = requests.get(f"http://127.0.0.1:{process.health_port}/healthz", timeout=5)
    assert health.status_code == 200
    text = requests.get(f"http://127.0.0.1:{process.metrics_port}/metrics", timeout=5).text
    assert 'clawhost_instances{phase="Running"} 1.0' in text
    assert 'clawhost_instance_conditions{condition="Ready",status="True"} 1.0' in text
    assert (
        'clawhost_provider_requests_total{operation="POST /servers",provider="hetzner",status="201"} 1.0'
        in text
    )
    assert 'clawhost_provider_rate_limit_remaining{provider="hetzner"}' in text
    assert "clawhost_reconcile_duration_seconds_count" in text
    assert "clawhost_instance_time_to_ready_seconds_count 1.0" in text
    for secret in stage.secrets_in_play():
        assert secret not in text


def api_finalizers(body: dict[str, Any]) -> list[str]:
    return list(body["metadata"].get("finalizers", []))


def test_day2_resize_suspend_reboot_reinstall(stage: Stage) -> None:
    stage.start_operator()
    stage.create_instance("beta", serverType="cx23")
    stage.wait_ready("beta")
    server_id = only_server(stage)["id"]

    stage.patch_spec("beta", serverType="cx33")
    body = stage.wait_ready("beta")
    server = only_server(stage)
    assert (server["id"], server["server_type"]["name"], server["status"]) == (server_id, "cx33", "running")
    assert body["status"]["serverType"] == "cx33"
    # the disk stays at cx23's size, so resizing back down remains possible
    assert server["primary_disk_size"] == 40

    stage.patch_spec("beta", serverType="cx23")
    stage.wait_ready("beta")
    assert only_server(stage)["server_type"]["name"] == "cx23"

    stage.patch_spec("beta", suspended=True)
    body = stage.wait_for(
        "beta", lambda b: (b.get("status") or {}).get("phase") == "Suspended", what="suspended"
    )
    assert only_server(stage)["status"] == "off"
    assert condition(body, "Ready") == "True"

    stage.patch_spec("beta", suspended=False)
    stage.wait_for("beta", lambda b: (b.get("status") or {}).get("phase") == "Running", what="running again")
    assert only_server(stage)["status"] == "running"

    before = len([a for a in stage.hetzner.actions() if a["command"] == "reboot_server"])
    value = stage.request_day2("beta", "reboot")
    stage.wait_for("beta", lambda b: b["status"].get("lastHandledRebootAt") == value, what="reboot handled")
    wait_until(
        lambda: len([a for a in stage.hetzner.actions() if a["command"] == "reboot_server"]) == before + 1
    )

    value = stage.request_day2("beta", "reinstall")
    stage.wait_for(
        "beta", lambda b: b["status"].get("lastHandledReinstallAt") == value, what="reinstall handled"
    )
    body = stage.wait_ready("beta")
    assert [a["command"] for a in stage.hetzner.actions()].count("rebuild_server") == 1
    assert only_server(stage)["protection"] == {"delete": True, "rebuild": True}
    assert only_server(stage)["id"] == server_id


def test_retain_leaves_resources_without_ownership_marks(stage: Stage) -> None:
    stage.start_operator()
    stage.create_instance("gamma", deletionPolicy="Retain")
    stage.wait_ready("gamma")

    stage.delete("gamma")
    stage.wait_gone("gamma")
    server = only_server(stage)
    assert server["status"] == "running"
    assert not set(server["labels"]) & set(naming.OWNER_LABELS)
    records = address_records(stage, f"gamma.{ZONE}")
    assert set(records) == {"A", "AAAA"}
    assert all(
        not (r.get("comment") or "").startswith(naming.RECORD_COMMENT_PREFIX) for r in records.values()
    )

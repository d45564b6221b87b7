"""Hibernate through the real operator process, the real apiserver and the Hetzner and Cloudflare
simulators: suspend with suspendMode Hibernate -> server gone, snapshot present, DNS kept -> unsuspend ->
a server made from the snapshot (its data), same name, hostname answering, token unchanged, snapshot gone.
"""

from __future__ import annotations

from typing import Any

import hcloud
import pytest

from openclaw_operator.bootstrap.render import GATEWAY_CONFIG_FILE
from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import ZONE, Stage, condition, wait_until

pytestmark = pytest.mark.controlplane

HOST = f"hib.{ZONE}"


def address_records(stage: Stage) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in stage.records() if r["name"] == HOST and r["type"] in ("A", "AAAA")}


def user_data(stage: Stage, server_id: int) -> str:
    sim = stage.hetzner
    return str(sim.call_in_loop(lambda: sim.world.servers[server_id].user_data))


def phase(body: dict[str, Any]) -> str | None:
    return (body.get("status") or {}).get("phase")


def test_hibernate_then_unsuspend_round_trip(stage: Stage) -> None:
    stage.start_operator()
    uid = stage.create_instance("hib", hostname=HOST, serverType="cx23")["metadata"]["uid"]
    stage.wait_ready("hib")
    (first,) = stage.servers()
    token = stage.gateway_tokens[-1]
    assert token in user_data(stage, first["id"])
    stage.hetzner.set_disk_usage(first["id"], 7.5)  # the customer's data: what a snapshot copies
    records_before = address_records(stage)
    assert records_before["A"]["content"] == first["public_net"]["ipv4"]["ip"]

    # --- hibernate -----------------------------------------------------------------------------------
    stage.patch_spec("hib", suspended=True, suspendMode="Hibernate")
    body = stage.wait_for(
        "hib",
        lambda b: phase(b) == "Suspended" and condition(b, "Ready") == "True",
        timeout=90,
        what="hibernated",
    )
    assert stage.servers() == []
    (snapshot,) = stage.hetzner.images()
    assert snapshot["type"] == "snapshot" and snapshot["status"] == "available"
    assert snapshot["created_from"]["id"] == first["id"]
    labels = snapshot["labels"]
    assert naming.owned_by(labels, uid) and labels[naming.CLUSTER_LABEL]
    status = body["status"]
    assert status["hibernation"]["snapshotId"] == snapshot["id"]
    assert status["hibernation"]["sizeGB"] == snapshot["image_size"] == 3.0  # 0.4 x 7.5 GB used
    assert status["billing"] == {"serverBackups": False, "snapshotSizeGB": 3.0}  # no server billed
    assert "serverId" not in status
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons["Ready"] == "Hibernated" and reasons["ServerReady"] == "Hibernated"
    assert reasons["DNSReady"] == "RecordsKept"
    # The records stay, ours, untouched (same ids, same content).
    assert address_records(stage) == records_before

    # --- unsuspend -----------------------------------------------------------------------------------
    stage.patch_spec("hib", suspended=False)
    body = stage.wait_for(
        "hib",
        lambda b: (
            phase(b) == "Running" and condition(b, "Ready") == "True" and not b["status"].get("hibernation")
        ),
        timeout=90,
        what="running again, snapshot deleted",
    )
    (second,) = stage.servers()
    assert second["id"] != first["id"] and second["name"] == first["name"]
    assert second["image"]["id"] == snapshot["id"]  # made from the snapshot
    assert naming.owned_by(second["labels"], uid)
    assert second["labels"] == first["labels"]
    assert second["protection"] == {"delete": True, "rebuild": True}
    # Its data came back with it.
    used = stage.hetzner.call_in_loop(lambda: stage.hetzner.world.servers[second["id"]].used_disk_gb)
    assert used == 7.5
    # Same token; the gateway's own config is not overwritten on the restored disk.
    data = user_data(stage, second["id"])
    assert token in data and GATEWAY_CONFIG_FILE not in data
    # The hostname answers: DNS moved to the new address, and the app there is healthy (AppReady).
    wait_until(lambda: stage.hetzner.images() == [], what="snapshot deleted")
    records = address_records(stage)
    assert records["A"]["content"] == second["public_net"]["ipv4"]["ip"]
    assert records["A"]["content"] != records_before["A"]["content"]
    assert records["A"]["id"] == records_before["A"]["id"]  # the same records, updated in place
    assert condition(body, "AppReady") == "True"
    assert body["status"]["billing"] == {"serverType": "cx23", "serverBackups": False, "snapshotSizeGB": 0.0}
    stage.assert_no_secrets_leaked()


def test_deleting_a_hibernated_instance_deletes_its_snapshot(stage: Stage) -> None:
    stage.start_operator()
    stage.create_instance("hib", hostname=HOST, suspended=True, suspendMode="Hibernate")
    stage.wait_for("hib", lambda b: phase(b) == "Suspended", timeout=60, what="suspended")
    # Created suspended: nothing was ever made, nothing is billed.
    assert stage.servers() == [] and stage.hetzner.images() == []

    stage.patch_spec("hib", suspended=False)
    stage.wait_ready("hib", timeout=60)
    stage.patch_spec("hib", suspended=True)
    stage.wait_for(
        "hib", lambda b: (b["status"].get("hibernation") or {}).get("snapshotId"), timeout=90, what="snapshot"
    )
    stage.wait_for("hib", lambda b: not stage.servers(), timeout=60, what="server deleted")
    stage.delete("hib")
    stage.wait_gone("hib", timeout=60)
    assert stage.servers() == [] and stage.hetzner.images() == [] and address_records(stage) == {}


def test_a_hibernated_instance_deleted_without_the_operator_leaves_no_snapshot(stage: Stage) -> None:
    """The orphan sweep covers snapshots: the instance was hibernated, then deleted while no operator ran
    (finalizer removed by hand). The next operator deletes its snapshot and records; a snapshot with our
    marks but another cluster's id, and one without our marks, are never touched."""
    stage.start_operator()
    stage.create_instance("hib", hostname=HOST, suspended=False, suspendMode="Hibernate")
    stage.wait_ready("hib")
    (server,) = stage.servers()
    stage.stop_operators()  # the snapshots below are someone else's doing, not a race with the operator
    stage.operators.clear()
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    bound = client.servers.get_by_id(server["id"])
    twin = {**server["labels"], naming.CLUSTER_LABEL: "another-cluster", naming.INSTANCE_UID_LABEL: "u-twin"}
    client.servers.power_off(bound).wait_until_finished()
    foreign = client.servers.create_image(bound, description="someone's own", type="snapshot")
    foreign.action.wait_until_finished()  # one action at a time per server
    elsewhere = client.servers.create_image(bound, description="twin", type="snapshot", labels=twin)
    elsewhere.action.wait_until_finished()
    stage.start_operator()
    stage.patch_spec("hib", suspended=True)
    stage.wait_for(
        "hib", lambda b: phase(b) == "Suspended" and not stage.servers(), timeout=90, what="hibernated"
    )
    assert len(stage.hetzner.images()) == 3
    stage.stop_operators()
    stage.patch("hib", {"metadata": {"finalizers": None}})
    stage.delete("hib")
    stage.wait_gone("hib", timeout=10)

    stage.start_operator()  # the harness's grace period is 0: the first sweep hands the orphan over
    keep = {foreign.image.id, elsewhere.image.id}
    wait_until(lambda: {i["id"] for i in stage.hetzner.images()} == keep, timeout=30, what="orphan swept")
    wait_until(lambda: address_records(stage) == {}, timeout=30, what="records deleted")
    assert stage.servers() == []

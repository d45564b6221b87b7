"""The orphan sweep through the real operator: instances deleted while no operator ran (their finalizer
removed by hand) leave servers and records behind; the next operator deletes them after the grace period
(a Retain one is released and survives), and touches neither a live instance nor another cluster's
server. Without CLAWHOST_CLUSTER_ID there is no sweep, and everything stays."""

from __future__ import annotations

import time
import uuid
from typing import Any

import hcloud
import pytest
from hcloud.images import Image
from hcloud.server_types import ServerType

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import CLUSTER_ID, ZONE, Stage, wait_until

pytestmark = pytest.mark.controlplane

GRACE = 4.0  # wall seconds; the harness's resync is 2 s


def server_of(stage: Stage, uid: str) -> dict[str, Any] | None:
    return next((s for s in stage.servers() if s["labels"].get(naming.INSTANCE_UID_LABEL) == uid), None)


def records_of(stage: Stage, hostname: str) -> list[dict[str, Any]]:
    return [r for r in stage.records() if r["name"] == hostname]


def plant_other_clusters_server(stage: Stage) -> dict[str, Any]:
    """The same operator in another cluster sharing the project: all our marks, but its cluster's id."""
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    labels = {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.INSTANCE_UID_LABEL: str(uuid.uuid4()),
        naming.INSTANCE_NAMESPACE_LABEL: stage.namespace,
        naming.INSTANCE_NAME_LABEL: "twin",
        naming.DELETION_POLICY_LABEL: "Delete",
        naming.CLUSTER_LABEL: "another-cluster",
    }
    created = client.servers.create(
        name="twin-elsewhere",
        server_type=ServerType(name="cx23"),
        image=Image(name="debian-12"),
        labels=labels,
    )
    return {"id": created.server.id, "labels": labels}


def delete_without_operator(stage: Stage, name: str) -> None:
    stage.patch(name, {"metadata": {"finalizers": None}})
    stage.delete(name)
    stage.wait_gone(name, timeout=10)


def orphans_left_behind(stage: Stage) -> dict[str, Any]:
    """Three instances Ready; the operator stops; two are deleted without it. What each left."""
    stage.start_operator()
    uids = {
        "drop": stage.create_instance("drop")["metadata"]["uid"],
        "keep": stage.create_instance("keep", deletionPolicy="Retain")["metadata"]["uid"],
        "stay": stage.create_instance("stay")["metadata"]["uid"],
    }
    for name in uids:
        stage.wait_ready(name)
    stage.stop_operators()
    for name in ("drop", "keep"):
        delete_without_operator(stage, name)
    servers = {name: server_of(stage, uid) for name, uid in uids.items()}
    assert all(servers.values()), servers
    assert servers["drop"] is not None and servers["drop"]["labels"][naming.CLUSTER_LABEL] == CLUSTER_ID
    assert len(records_of(stage, f"drop.{ZONE}")) == 2
    return {"uids": uids, "servers": servers, "twin": plant_other_clusters_server(stage)}


def test_orphans_are_deleted_after_the_grace_period_and_a_retain_one_survives(stage: Stage) -> None:
    left = orphans_left_behind(stage)
    servers, uids = left["servers"], left["uids"]
    started = time.time()
    operator = stage.start_operator(CLAWHOST_ORPHAN_GRACE_SECONDS=str(GRACE))

    wait_until(
        lambda: server_of(stage, uids["drop"]) is None and not records_of(stage, f"drop.{ZONE}"),
        timeout=60,
        what="the orphan's server and records deleted",
    )
    deletes = [
        r
        for r in stage.hetzner.request_log
        if r.method == "DELETE" and r.path.endswith(f"/servers/{servers['drop']['id']}")
    ]
    assert deletes and deletes[0].wall_time - started >= GRACE, "deleted before the grace period was over"

    wait_until(
        lambda: all(r.get("comment") in (None, "") for r in records_of(stage, f"keep.{ZONE}")),
        timeout=30,
        what="the Retain orphan released",
    )
    kept = next(s for s in stage.servers() if s["id"] == servers["keep"]["id"])  # still there
    assert not set(kept["labels"]) & set(naming.OWNER_LABELS), kept["labels"]
    assert len(records_of(stage, f"keep.{ZONE}")) == 2

    stage.wait_ready("stay")
    stay = server_of(stage, uids["stay"])
    assert stay is not None and stay["id"] == servers["stay"]["id"]  # the live instance kept its server
    twin = next(s for s in stage.servers() if s["id"] == left["twin"]["id"])
    assert twin["labels"] == left["twin"]["labels"] and twin["status"] != "deleting"

    drop_done = f"{stage.namespace}/drop (uid {uids['drop']}): Deleted: "
    wait_until(lambda: drop_done in operator.logs(), timeout=30, what="the finalizer done with the orphan")
    logs = operator.logs()  # a line when the orphan is handed over, one per step of its deletion
    for name, steps in {
        "drop": ("DeletingRecord", "DeletingServer", "Deleted"),
        "keep": ("Releasing",),
    }.items():
        who = f"{stage.namespace}/{name} (uid {uids[name]})"
        assert logs.count(f"orphan {who}") == 1, logs
        for step in steps:
            assert f"{who}: {step}: " in logs, logs
    stage.assert_no_secrets_leaked()


def test_without_a_cluster_id_nothing_is_swept(stage: Stage) -> None:
    left = orphans_left_behind(stage)
    stage.start_operator(CLAWHOST_CLUSTER_ID="", CLAWHOST_ORPHAN_GRACE_SECONDS="0")
    stage.wait_ready("stay")
    time.sleep(3 * 2.0)  # three resync intervals: three listings a sweep would have followed
    ids = {s["id"] for s in stage.servers() if s["status"] != "deleting"}
    assert {left["servers"]["drop"]["id"], left["servers"]["keep"]["id"], left["twin"]["id"]} <= ids
    assert len(records_of(stage, f"drop.{ZONE}")) == 2

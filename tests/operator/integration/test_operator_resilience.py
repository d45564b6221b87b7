"""Crash safety, ownership, permanent provider errors and secrets, through the real operator process."""

from __future__ import annotations

import re
import time

import hcloud
import pytest
import requests
from hcloud.images import Image
from hcloud.server_types import ServerType

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import ZONE, OperatorProcess, Stage, condition, wait_until

pytestmark = pytest.mark.controlplane

# The shared listings; GET /images (our snapshots) at a first listing and while Hibernate is in use.
LIST_CALLS = {
    ("GET", "/servers"),
    ("GET", "/firewalls"),  # the managed firewall, one request per listing for the fleet
    ("GET", "/images"),
    ("GET", "/zones"),
    ("GET", "/zones/{zone_id}/dns_records"),
}


def test_sigkill_between_create_and_status_write_adopts_the_server(stage: Stage) -> None:
    crashing = stage.start_operator(crash_after="create_server")
    created = stage.create_instance("delta")
    crashing.proc.wait(timeout=60)
    assert crashing.proc.returncode == 137, crashing.logs()
    assert len(stage.servers()) == 1
    assert (stage.get("delta").get("status") or {}).get("serverId") is None  # the write never happened

    stage.start_operator()
    body = stage.wait_ready("delta")
    servers = stage.servers()
    assert len(servers) == 1
    assert body["status"]["serverId"] == servers[0]["id"]
    assert servers[0]["labels"][naming.INSTANCE_UID_LABEL] == created["metadata"]["uid"]
    assert [
        r.method for r in stage.hetzner.request_log if r.template == "/servers" and r.method == "POST"
    ] == ["POST"]


def test_foreign_server_and_record_with_our_names_are_never_touched(stage: Stage) -> None:
    # Both instances exist before any operator runs, so their uids (and our server names) are known.
    server_clash = stage.create_instance("epsilon")
    stage.create_instance("zeta")
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    client._client._retry_max_retries = 0
    name = naming.server_name("epsilon", server_clash["metadata"]["uid"])
    foreign = client.servers.create(
        name=name,
        server_type=ServerType(name="cx23"),
        image=Image(name="debian-12"),
        labels={"team": "other"},
    ).server
    record = stage.cloudflare.add_record_out_of_band(
        ZONE, type="A", name=f"zeta.{ZONE}", content="192.0.2.10", ttl=120, comment="customer's own"
    )
    foreign_actions_before = [a["id"] for a in stage.hetzner.actions()]

    stage.start_operator()
    epsilon = stage.wait_for("epsilon", lambda b: condition(b, "Stalled") == "True", what="epsilon stalled")
    zeta = stage.wait_for("zeta", lambda b: condition(b, "Stalled") == "True", what="zeta stalled")

    assert condition(epsilon, "Stalled", "reason") == "ServerNameConflict"
    message = condition(epsilon, "Stalled", "message") or ""
    assert name in message and "not owned by this instance" in message
    assert condition(zeta, "Stalled", "reason") == "DNSRecordConflict"
    assert f"A zeta.{ZONE} -> 192.0.2.10" in (condition(zeta, "Stalled", "message") or "")
    assert epsilon["status"]["phase"] == zeta["status"]["phase"] == "Failed"

    time.sleep(3)  # a few resync intervals: still nothing may happen to either
    (server,) = [s for s in stage.servers() if s["id"] == foreign.id]
    assert server["labels"] == {"team": "other"} and server["status"] == "running"
    assert server["protection"] == {"delete": False, "rebuild": False}
    touching = [a for a in stage.hetzner.actions() if a["id"] not in foreign_actions_before]
    assert all(r["id"] != foreign.id for a in touching for r in a["resources"])
    (kept,) = [r for r in stage.records() if r["id"] == record["id"]]
    assert (kept["content"], kept["comment"], kept["ttl"]) == ("192.0.2.10", "customer's own", 120)
    assert len(stage.servers()) == 1  # zeta created no server while its DNS name is taken
    assert [r for r in stage.cloudflare.request_log if r.method != "GET"] == []
    stage.assert_no_secrets_leaked()


def frozen_passes(process: OperatorProcess) -> float:
    try:
        text = requests.get(f"http://127.0.0.1:{process.metrics_port}/metrics", timeout=5).text
    except requests.ConnectionError:
        return 0.0  # not listening yet
    counts = re.findall(
        r'^clawhost_reconcile_duration_seconds_count\{[^}]*outcome="frozen"[^}]*\} (\S+)$', text, re.M
    )
    return sum(float(count) for count in counts)


def test_permanent_provider_error_stalls_until_the_spec_changes(stage: Stage) -> None:
    stage.start_operator()
    stage.create_instance("eta", serverType="cx99")
    body = stage.wait_for("eta", lambda b: condition(b, "Stalled") == "True", what="eta stalled")
    assert condition(body, "Stalled", "reason") == "ProviderRejected"
    assert "server type cx99 not found" in (condition(body, "Stalled", "message") or "")
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    assert body["status"]["refusedGeneration"] == body["metadata"]["generation"]

    marks = len(stage.hetzner.request_log), len(stage.cloudflare.request_log)
    time.sleep(4)  # two resync intervals
    later = stage.requests_since(*marks)
    assert later, "the shared observer should still have listed"
    assert {(method, template) for _, method, template, _ in later} <= LIST_CALLS, later

    # The refusal is kept in status, so a new operator does not ask again either (nor list: it has no
    # instance to list for).
    stage.assert_no_secrets_leaked()
    (first,) = stage.operators
    first.stop()
    stage.operators.remove(first)
    marks = len(stage.hetzner.request_log), len(stage.cloudflare.request_log)
    second = stage.start_operator()
    wait_until(lambda: frozen_passes(second) > 0, what="a pass of the new operator, skipped as frozen")
    time.sleep(4)
    later = stage.requests_since(*marks)
    assert {(method, template) for _, method, template, _ in later} <= LIST_CALLS, later

    stage.patch_spec("eta", serverType="cx23")
    ready = stage.wait_ready("eta")
    assert "refusedGeneration" not in ready["status"]
    assert [s["server_type"]["name"] for s in stage.servers()] == ["cx23"]
    stage.assert_no_secrets_leaked()


def test_unsafe_openclaw_version_stalls_without_creating_anything(stage: Stage) -> None:
    stage.start_operator()
    stage.create_instance("theta", openclawVersion="2026.4.1")
    body = stage.wait_for("theta", lambda b: condition(b, "Stalled") == "True", what="theta stalled")
    assert condition(body, "Stalled", "reason") == "UnsafeVersion"
    assert "2026.7.1" in (condition(body, "Stalled", "message") or "")
    assert stage.servers() == []
    # Nothing for the instance; the fleet's firewall is made after the first listing, whatever the instances.
    writes = [f"{r.method} {r.template}" for r in stage.hetzner.request_log if r.method != "GET"]
    assert writes in ([], ["POST /firewalls"]), writes


def test_never_healthy_app_keeps_ready_false_and_is_rechecked_with_backoff(stage: Stage) -> None:
    stage.start_operator()
    stage.create_instance("iota")
    wait_until(lambda: len(stage.servers()) == 1, what="server created")
    stage.hetzner.break_app(stage.servers()[0]["id"])  # long before its app would have booted
    body = stage.wait_for(
        "iota", lambda b: condition(b, "AppReady", "reason") == "Unhealthy", what="app found unhealthy"
    )
    assert condition(body, "Ready") == "False"
    assert "health check" in (condition(body, "Ready", "message") or "")
    start = len([r for r in stage.hetzner.request_log if r.path.startswith("/_sim/")])
    time.sleep(6)
    probes = len([r for r in stage.hetzner.request_log if r.path.startswith("/_sim/")]) - start
    # Still booting as far as anyone knows: two checks per 0.3 s poll, no faster (a hot loop would be
    # thousands); after BOOT_GRACE the doubling backoff takes over (tests/operator/unit/test_app_health.py).
    assert 6 / 0.15 / 2 <= probes <= 6 / 0.15 + 2, probes
    body = stage.get("iota")
    assert condition(body, "Ready") == "False"
    assert body["status"]["phase"] == "Provisioning"


def test_an_instance_forced_out_past_its_finalizer_is_still_cleaned_up(stage: Stage) -> None:
    """`kubectl patch --type=merge -p '{"metadata":{"finalizers":null}}'` then delete: the resource is gone
    without our delete handler, yet its server and records go too, and no pass brings them back."""
    stage.start_operator()
    forced = []
    for attempt in range(3):  # Kopf may put the finalizer back before the delete lands: try again then
        name = f"lambda{attempt}"
        stage.create_instance(name)
        stage.wait_ready(name)
        stage.patch(name, {"metadata": {"finalizers": None}})
        stage.delete(name)
        stage.wait_gone(name)
        forced.append(name)
        if "vanished without our finalizer" in stage.all_logs():
            break
    assert "vanished without our finalizer" in stage.all_logs()
    wait_until(lambda: stage.servers() == [] and stage.records() == [], timeout=60, what="clean-up")
    time.sleep(3)  # a few resync intervals: nothing is created again for the vanished instances
    assert stage.servers() == [] and stage.records() == []
    assert "Traceback" not in stage.all_logs()

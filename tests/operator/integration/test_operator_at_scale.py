"""API cost and rate-limit behaviour with many instances: steady state, drift, and a 429 storm."""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import ZONE, Stage, condition, wait_until

pytestmark = pytest.mark.controlplane

# The shared listings; GET /images (our snapshots) at a first listing and while Hibernate is in use.
LIST_CALLS = {
    ("GET", "/servers"),
    ("GET", "/firewalls"),  # the managed firewall, one request per listing for the fleet
    ("GET", "/images"),
    ("GET", "/zones"),
    ("GET", "/zones/{zone_id}/dns_records"),
}
WINDOW = re.compile(r"rate-limit window: (\w+) bucket empty from ([\d.]+) to ([\d.]+)")


def all_ready(stage: Stage, names: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(names)
    while pending and time.monotonic() < deadline:
        pending = [n for n in pending if condition(stage.get(n), "Ready") != "True"]
        time.sleep(0.5)
    assert not pending, f"not Ready: {pending}\n{stage.all_logs()[-4000:]}"


def test_steady_state_costs_only_list_calls(stage: Stage) -> None:
    stage.start_operator()
    names = [f"s{i:02d}" for i in range(50)]
    for name in names:
        stage.create_instance(name)
    all_ready(stage, names, timeout=240)

    time.sleep(2)  # let the last passes settle
    marks = len(stage.hetzner.request_log), len(stage.cloudflare.request_log)
    time.sleep(7)  # three resync intervals
    later = stage.requests_since(*marks)
    kinds = {(method, template) for _, method, template, _ in later}
    assert kinds <= LIST_CALLS, kinds  # no per-instance GETs, no writes
    count = Counter((method, template) for _, method, template, _ in later)
    assert 0 < count["GET", "/firewalls"] <= count["GET", "/servers"], (
        count
    )  # one a listing, none per instance
    lists = [entry for entry in later if entry[1:3] == ("GET", "/servers")]
    assert 2 <= len(lists) <= 5, lists  # about one list per interval for all 50, not one per instance
    assert len(stage.servers()) == 50


def test_drift_is_repaired_within_an_interval(stage: Stage) -> None:
    stage.start_operator()
    created = stage.create_instance("kappa")
    stage.create_instance("lambda")
    stage.wait_ready("kappa")
    stage.wait_ready("lambda")
    by_name = {s["name"]: s for s in stage.servers()}
    kappa = by_name[naming.server_name("kappa", created["metadata"]["uid"])]
    (lam,) = [s for s in by_name.values() if s["id"] != kappa["id"]]

    stage.hetzner.delete_server_out_of_band(kappa["id"])
    stage.hetzner.power_off_out_of_band(lam["id"])
    (record,) = [r for r in stage.records() if r["name"] == f"lambda.{ZONE}" and r["type"] == "A"]
    stage.cloudflare.change_record_out_of_band(record["id"], content="198.51.100.99")

    wait_until(lambda: len(stage.servers()) == 2 and all(s["status"] == "running" for s in stage.servers()),
               timeout=30, what="servers repaired")  # fmt: skip
    body = stage.wait_ready("kappa")
    assert body["status"]["serverId"] != kappa["id"]
    stage.wait_ready("lambda")
    (fixed,) = [r for r in stage.records() if r["id"] == record["id"]]
    assert fixed["content"] == lam["public_net"]["ipv4"]["ip"]
    events = stage.events()
    assert any(e["reason"] == "ServerRecreated" and e["involvedObject"]["name"] == "kappa" for e in events)
    assert any(e["reason"] == "PoweringOn" and e["involvedObject"]["name"] == "lambda" for e in events)


def test_429_storm_and_5xx_converge_and_nothing_is_sent_while_the_bucket_is_empty(stage: Stage) -> None:
    for sim in (stage.hetzner, stage.cloudflare):
        sim.faults.error_rate("*", "*", 0.10, status=503, code="service_error")
    stage.hetzner.faults.rate_limit_storm(120)  # simulated seconds: six of wall time
    stage.start_operator()
    names = [f"r{i}" for i in range(8)]
    for name in names:
        stage.create_instance(name)
    # Cloudflare is first called once servers have addresses: storm it then.
    wait_until(lambda: len(stage.servers()) >= 1, timeout=60, what="a first server")
    stage.cloudflare.faults.rate_limit_storm(60)
    all_ready(stage, names, timeout=180)
    assert len(stage.servers()) == 8

    logs = stage.all_logs()
    windows = [(m[1], float(m[2]), float(m[3])) for m in WINDOW.finditer(logs)]
    assert any(provider == "hetzner" for provider, _, _ in windows), "the storm never emptied the limiter"
    assert any(provider == "cloudflare" for provider, _, _ in windows)
    slack = 0.05  # a request let through just before the window opened may land a moment later
    log = {"hetzner": stage.hetzner.request_log, "cloudflare": stage.cloudflare.request_log}
    for provider, start, end in windows:
        inside = [
            r
            for r in log[provider]
            if start + slack < r.wall_time < end - slack and not r.path.startswith("/_sim/")
        ]
        assert inside == [], (
            f"{provider} got {len(inside)} requests while the limiter said its bucket was empty"
        )
    assert {r.status for r in stage.hetzner.request_log} >= {429, 503}
    assert any(e["reason"] == "RateLimited" for e in stage.events())  # requeued, reason RateLimited
    stage.assert_no_secrets_leaked()

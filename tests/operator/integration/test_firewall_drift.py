"""Drift of the managed firewall, repaired by the running operator process (real apiserver, Hetzner
simulator): its rules are changed out of band, then it is deleted out of band, with three instances
running. Each time the first listing that reads the firewall after the change puts it back (so within
one resync interval), with one write, and the firewall costs the same requests per listing whatever the
number of instances: there is no firewall call per instance. And a crash right after the firewall's
create leaves one firewall, not two."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs

import hcloud
import pytest
import requests
from clawhost_sandbox.simcore import RequestRecord
from hcloud.firewalls import Firewall, FirewallRule

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import Stage, wait_until

pytestmark = pytest.mark.controlplane

INSTANCES = ("alpha", "beta", "gamma")
RESYNC = 2.0  # the harness's CLAWHOST_RESYNC_INTERVAL_SECONDS
SSH_RANGES = "198.51.100.0/24,2001:db8::/32"


def managed(stage: Stage) -> dict[str, Any] | None:
    found = [f for f in stage.hetzner.firewalls() if f["name"] == naming.FIREWALL_NAME]
    assert len(found) <= 1, found
    return found[0] if found else None


def selector_of(record: RequestRecord) -> str | None:
    return parse_qs(record.query).get("label_selector", [None])[0]


def listings(log: list[RequestRecord], template: str = "/firewalls") -> int:
    """The observer's label-selected lists of `template` in `log`: one per listing (a page per listing
    for servers, at this fleet's size)."""
    return sum(
        1
        for r in log
        if (r.method, r.template) == ("GET", template) and selector_of(r) == naming.MANAGED_SELECTOR
    )


def firewall_writes(log: list[RequestRecord]) -> list[str]:
    return [
        f"{r.method} {r.template}" for r in log if r.template.startswith("/firewalls") and r.method != "GET"
    ]


def repaired_by_first_listing(
    stage: Stage, changed_at: int, desired: dict[str, Any], write: str
) -> tuple[int, float]:
    """Wait for the firewall to be as desired again; assert that the first listing that read it after the
    change made the repair, with `write` as the only firewall write. The repair's index and wall seconds."""
    started = time.monotonic()
    wait_until(
        lambda: (found := managed(stage)) is not None and same_firewall(found, desired),
        timeout=RESYNC * 4,
        what="the managed firewall repaired",
    )
    took = time.monotonic() - started
    log = stage.hetzner.request_log[changed_at:]
    writes = [i for i, r in enumerate(log) if f"{r.method} {r.template}" == write]
    assert len(writes) == 1, firewall_writes(log)
    repair = writes[0]
    assert log[repair].status in (200, 201), log[repair]
    assert listings(log[:repair]) == 1, "the repair waited for more than one listing"
    return changed_at + repair, took


def same_firewall(found: dict[str, Any], desired: dict[str, Any]) -> bool:
    selectors = [
        a["label_selector"]["selector"] for a in found["applied_to"] if a["type"] == "label_selector"
    ]
    return found["rules"] == desired["rules"] and selectors == [naming.MANAGED_SELECTOR]


def attached(stage: Stage) -> dict[int, list[int]]:
    return {s["id"]: [f["id"] for f in s["public_net"]["firewalls"]] for s in stage.servers()}


def drift_repairs(stage: Stage) -> dict[str, float]:
    text = requests.get(f"http://127.0.0.1:{stage.operators[0].metrics_port}/metrics", timeout=5).text
    found = re.findall(r'^clawhost_drift_repairs_total\{step="([a-z_]+)"\} ([0-9.]+)$', text, re.M)
    return {step: float(value) for step, value in found}


def test_changed_and_deleted_firewall_is_repaired_within_one_resync(stage: Stage) -> None:
    stage.start_operator(CLAWHOST_SSH_SOURCE_RANGES=SSH_RANGES)
    for name in INSTANCES:
        stage.create_instance(name)
    for name in INSTANCES:
        stage.wait_ready(name)
    desired = managed(stage)
    assert desired is not None
    assert desired["rules"][0]["source_ips"] == SSH_RANGES.split(",")
    assert set(map(tuple, attached(stage).values())) == {(desired["id"],)}  # by the selector, all three
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)

    # (a) Someone opens SSH to the world in the console.
    anywhere = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0", "::/0"])
    client.firewalls.set_rules(Firewall(id=desired["id"]), [anywhere])
    changed = len(stage.hetzner.request_log)
    rules_repaired, rules_took = repaired_by_first_listing(
        stage, changed, desired, "POST /firewalls/{id}/actions/set_rules"
    )

    # (b) Someone deletes it in the console (which detaches it first).
    stage.hetzner.delete_firewall_out_of_band(desired["id"])
    changed = len(stage.hetzner.request_log)
    created, created_took = repaired_by_first_listing(stage, changed, desired, "POST /firewalls")
    recreated = managed(stage)
    assert recreated is not None and recreated["id"] != desired["id"]
    assert recreated["labels"] == {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}
    wait_until(
        lambda: set(map(tuple, attached(stage).values())) == {(recreated["id"],)},
        timeout=RESYNC,
        what="every server behind the new firewall",
    )

    # Settled again: two more listings, one firewall request each, no write.
    settled = len(stage.hetzner.request_log)
    wait_until(lambda: listings(stage.hetzner.request_log[settled:]) >= 3, timeout=RESYNC * 4)
    after = stage.hetzner.request_log[settled:]
    firewall_requests = [r for r in after if r.template.startswith("/firewalls")]
    assert firewall_writes(after) == []
    assert len(firewall_requests) == listings(after)  # no name lookup, nothing per instance
    assert abs(listings(after) - listings(after, "/servers")) <= 1  # one per listing

    assert drift_repairs(stage) == {"set_firewall_rules": 1.0, "create_firewall": 1.0}
    logs = stage.all_logs()
    assert "set the rules of the managed firewall" in logs and "FirewallRecreated" in logs
    for name in INSTANCES:  # the instances never noticed
        stage.wait_ready(name, timeout=RESYNC)
    stage.assert_no_secrets_leaked()
    print(
        f"rules repaired {rules_took:.2f} s after the change (request {rules_repaired}), firewall "
        f"re-created after {created_took:.2f} s (request {created}); resync {RESYNC} s"
    )


def test_a_crash_right_after_the_firewall_create_leaves_one_firewall(stage: Stage) -> None:
    """The worst point for the firewall: Hetzner created it, the process died before it knew. The next
    operator finds it by its label and creates no second one."""
    stage.create_instance("alpha")
    crashed = stage.start_operator(crash_after="create_firewall")
    assert crashed.proc.wait(timeout=60) == 137, crashed.logs()
    assert managed(stage) is not None and stage.servers() == []  # no server before the firewall
    stage.start_operator()
    stage.wait_ready("alpha")
    assert len([f for f in stage.hetzner.firewalls() if f["name"] == naming.FIREWALL_NAME]) == 1
    assert firewall_writes(stage.hetzner.request_log) == ["POST /firewalls"]

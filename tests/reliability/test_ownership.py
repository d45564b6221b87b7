"""Ownership: servers and records that only look like ours are never modified.

Before the operator starts, the providers already hold look-alikes of what it would create for four
instances: a server with one instance's exact name; servers carrying our uid without our managed-by
value, our managed-by value with another cluster's uid, or our instance-name label and nothing else;
records with an instance's hostname and another uid in the comment, our exact comment in zones the
operator does not manage, a comment that only starts like ours, a TXT record on our hostname. The
instances go through provisioning, resize, suspend, resume and deletion. Every look-alike ends exactly
as it began, and no provider request ever wrote to one of them.

Firewalls that only look like the managed one are never written to either: one carrying our managed-by
label under another name, one applied to our servers' selector by someone else, and, in a test of its
own, a firewall holding the managed firewall's exact name without our label: the instance stalls on the
conflict and creates nothing, and once the owner renames that firewall ours is created beside it.

The orphan sweep runs throughout with no grace period (the harness sets CLAWHOST_CLUSTER_ID): servers
with every one of our marks but another cluster's id, a namespace this operator does not watch, or no
deletion-policy label are look-alikes too and stay untouched, while a real orphan of this cluster (its
instance never existed here) planted next to them is deleted with its record, so the sweep was active.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcloud
import pytest
from clawhost_sandbox.controlplane import ClusterAccess
from hcloud.firewalls import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from hcloud.images import Image
from hcloud.server_types import ServerType

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import CLUSTER_ID, ZONE, Stage, condition, wait_until
from tests.reliability.support.drive import converge, ready_now
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Expectation, ServerBirths, audit, server_owner
from tests.reliability.support.stages import staged

pytestmark = pytest.mark.controlplane

UNMANAGED_SUBZONE = f"shop.{ZONE}"  # in the account, not in CLAWHOST_MANAGED_ZONES
OTHER_ZONE = "other.org"
INSTANCES = {
    "alpha": f"alpha.{ZONE}",
    "beta": f"beta.{ZONE}",  # a foreign server already has its server name
    "gamma": f"gamma.{ZONE}",  # a foreign A record with another uid already has its hostname
    "delta": f"delta.{UNMANAGED_SUBZONE}",  # written into ZONE; look-alikes in the sub-zone
}
STALLED = {"beta": "ServerNameConflict", "gamma": "DNSRecordConflict"}


@pytest.fixture
def owned_stage(cluster: ClusterAccess, namespace: str, tmp_path: Path) -> Iterator[Stage]:
    with staged(cluster, namespace, tmp_path, zones=(ZONE, OTHER_ZONE, UNMANAGED_SUBZONE)) as stage:
        yield stage


def plant_look_alike_servers(stage: Stage, uids: dict[str, str]) -> list[int]:
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    stranger = str(uuid.uuid4())
    ns = stage.namespace
    look_alikes = {
        "alpha-twin": {  # the same operator in another cluster, sharing the project
            naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
            naming.INSTANCE_UID_LABEL: stranger,
            naming.INSTANCE_NAMESPACE_LABEL: ns,
            naming.INSTANCE_NAME_LABEL: "alpha",
        },
        "alpha-terraformed": {  # our uid, someone else's tool
            naming.MANAGED_BY_LABEL: "terraform",
            naming.INSTANCE_UID_LABEL: uids["alpha"],
            naming.INSTANCE_NAME_LABEL: "alpha",
        },
        naming.server_name("beta", uids["beta"]): {"team": "other"},  # exactly the name we would use
        "gamma-lookalike": {naming.INSTANCE_UID_LABEL: uids["gamma"], naming.INSTANCE_NAME_LABEL: "gamma"},
        "delta-staging": {
            naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE + "-staging",
            naming.INSTANCE_UID_LABEL: uids["delta"],
        },
        # For the orphan sweep: every mark of ours on an instance this cluster does not have, but ...
        "twin-other-cluster": {**sweepable(ns, stranger), naming.CLUSTER_LABEL: "another-cluster"},
        "twin-other-namespace": sweepable("not-watched-here", stranger),
        "twin-before-policy-label": {
            k: v for k, v in sweepable(ns, stranger).items() if k != naming.DELETION_POLICY_LABEL
        },
    }
    return [create_server(client, name, labels) for name, labels in look_alikes.items()]


def sweepable(namespace: str, uid: str) -> dict[str, str]:
    """What this cluster's operator puts on a server (Delete policy)."""
    return {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.INSTANCE_UID_LABEL: uid,
        naming.INSTANCE_NAMESPACE_LABEL: namespace,
        naming.INSTANCE_NAME_LABEL: "orphan",
        naming.DELETION_POLICY_LABEL: "Delete",
        naming.CLUSTER_LABEL: CLUSTER_ID,
    }


def create_server(client: hcloud.Client, name: str, labels: dict[str, str]) -> int:
    created = client.servers.create(
        name=name, server_type=ServerType(name="cx23"), image=Image(name="debian-12"), labels=labels
    )
    return int(created.server.id or 0)


RDP = [FirewallRule(direction="in", protocol="tcp", port="3389", source_ips=["192.0.2.0/24"])]


def selector(value: str) -> FirewallResource:
    return FirewallResource(
        type="label_selector", label_selector=FirewallResourceLabelSelector(selector=value)
    )


def plant_look_alike_firewalls(stage: Stage) -> list[int]:
    """Firewalls the operator must leave alone: ours in all but the name (a staging operator's, say),
    and someone else's applied to a team's servers."""
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    look_alikes = {
        f"{naming.FIREWALL_NAME}-staging": ({naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}, "team=other"),
        "team-other": ({"team": "other"}, "team=other"),
    }
    return [
        int(
            client.firewalls.create(name=name, rules=RDP, labels=labels, resources=[selector(on)]).firewall.id
        )
        for name, (labels, on) in look_alikes.items()
    ]


def firewall_state(stage: Stage, firewall_ids: list[int]) -> dict[int, dict[str, Any]]:
    """What the operator could change: name, labels, rules and where it is applied (not which servers
    its selector matches at the moment: that follows the servers)."""
    found = {}
    for firewall in stage.hetzner.firewalls():
        if firewall["id"] in firewall_ids:
            applied = [
                {k: v for k, v in a.items() if k != "applied_to_resources"} for a in firewall["applied_to"]
            ]
            found[firewall["id"]] = {**firewall, "applied_to": applied}
    return found


def firewall_writes_to(stage: Stage, firewall_ids: list[int]) -> list[str]:
    path = re.compile(r"/firewalls/(\d+)(/|$)")
    return [
        f"{r.method} {r.path}"
        for r in stage.hetzner.request_log
        if r.method != "GET" and (m := path.search(r.path)) and int(m[1]) in firewall_ids
    ]


def plant_orphan(stage: Stage) -> tuple[int, str]:
    """A real orphan of this cluster: its instance is gone (it never existed here). Deleted by the sweep."""
    uid = str(uuid.uuid4())
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    server_id = create_server(client, "orphan-" + uid[:8], sweepable(stage.namespace, uid))
    record = stage.cloudflare.add_record_out_of_band(
        ZONE,
        type="A",
        name=f"orphan.{ZONE}",
        content="192.0.2.50",
        ttl=300,
        comment=naming.record_comment(uid),
    )
    return server_id, record["id"]


def plant_look_alike_records(stage: Stage, uids: dict[str, str]) -> list[str]:
    stranger = str(uuid.uuid4())
    plant = stage.cloudflare.add_record_out_of_band
    records = [
        plant(ZONE, type="A", name=INSTANCES["gamma"], content="192.0.2.10", ttl=300,
              comment=naming.record_comment(stranger)),
        plant(ZONE, type="TXT", name=INSTANCES["alpha"], content='"v=spf1 -all"', ttl=300),
        plant(ZONE, type="A", name=f"www.{INSTANCES['alpha']}", content="192.0.2.20", ttl=300,
              comment=naming.record_comment(uids["alpha"]) + " (copied by hand)"),
        plant(ZONE, type="A", name=f"alpha-old.{ZONE}", content="192.0.2.21", ttl=300,
              comment=naming.record_comment(stranger)),
        plant(UNMANAGED_SUBZONE, type="A", name=INSTANCES["delta"], content="192.0.2.30", ttl=300,
              comment=naming.record_comment(uids["delta"])),
        plant(UNMANAGED_SUBZONE, type="AAAA", name=INSTANCES["delta"], content="2001:db8::30", ttl=300),
        plant(OTHER_ZONE, type="A", name=f"alpha.{OTHER_ZONE}", content="192.0.2.40", ttl=300,
              comment=naming.record_comment(uids["alpha"])),
    ]  # fmt: skip
    return [record["id"] for record in records]


# What Hetzner itself changes on a running server whoever owns it: its traffic counters grow.
HETZNER_COUNTERS = ("outgoing_traffic", "ingoing_traffic")


def state_of(stage: Stage, server_ids: list[int], record_ids: list[str]) -> dict[Any, dict[str, Any]]:
    servers = {
        s["id"]: {k: v for k, v in s.items() if k not in HETZNER_COUNTERS}
        for s in stage.servers()
        if s["id"] in server_ids
    }
    records = {r["id"]: r for r in stage.cloudflare.records() if r["id"] in record_ids}
    return {**servers, **records}


def without_fleet_firewall(server: dict[str, Any], firewall_ids: set[int]) -> dict[str, Any]:
    """A server that carries our managed-by label is in the fleet firewall's label selector by design
    (docs/architecture.md): Hetzner attaches that firewall; nothing else about it may change."""
    if server.get("labels", {}).get(naming.MANAGED_BY_LABEL) != naming.MANAGED_BY_VALUE:
        return server
    attached = {f["id"] for f in server["public_net"]["firewalls"]}
    assert attached <= firewall_ids, attached
    return {**server, "public_net": {**server["public_net"], "firewalls": []}}


def writes_to(stage: Stage, server_ids: list[int], record_ids: list[str]) -> list[str]:
    """Provider writes whose path names a look-alike, and any request into a zone we do not manage."""
    server_path = re.compile(r"/servers/(\d+)(/|$)")
    hits = []
    for r in stage.hetzner.request_log:
        match = server_path.search(r.path)
        if r.method != "GET" and match and int(match[1]) in server_ids:
            hits.append(f"{r.method} {r.path}")
    unmanaged = {stage.cloudflare.zone_id(UNMANAGED_SUBZONE), stage.cloudflare.zone_id(OTHER_ZONE)}
    for r in stage.cloudflare.request_log:
        foreign_record = r.method != "GET" and any(r.path.endswith(f"/{rid}") for rid in record_ids)
        if foreign_record or any(f"/zones/{zone}/" in r.path for zone in unmanaged):
            hits.append(f"{r.method} {r.path}")
    return hits


def actions_on(stage: Stage, server_ids: set[int], fleet: set[int], planted: set[int]) -> list[str]:
    """Hetzner actions since the planting that involve a look-alike server. Our fleet firewall reaching a
    look-alike that carries our managed-by label is Hetzner applying the documented selector: allowed."""
    found = []
    for action in stage.hetzner.actions():
        involved = {r["id"] for r in action["resources"] if r["type"] == "server"} & server_ids
        if action["id"] in planted or not involved:
            continue
        if action["command"] == "apply_firewall" and involved <= fleet:
            continue
        found.append(f"{action['command']} on {sorted(involved)}")
    return found


def test_look_alike_servers_and_records_are_never_modified(owned_stage: Stage, figures: Figures) -> None:
    stage = owned_stage
    uids = {
        name: stage.create_instance(name, hostname)["metadata"]["uid"] for name, hostname in INSTANCES.items()
    }
    server_ids = plant_look_alike_servers(stage, uids)
    record_ids = plant_look_alike_records(stage, uids)
    firewall_ids = plant_look_alike_firewalls(stage)
    orphan_server, orphan_record = plant_orphan(stage)
    stage.hetzner.clock.advance(120)  # the look-alikes finish booting before the snapshot
    before = state_of(stage, server_ids, record_ids)
    firewalls_before = firewall_state(stage, firewall_ids)
    planted_actions = {a["id"] for a in stage.hetzner.actions()}
    births = ServerBirths.watch(stage.hetzner)

    stage.start_operator()
    ours = ["alpha", "delta"]
    converge(stage, ours)
    for name, reason in STALLED.items():
        stage.wait_for(
            name, lambda b, r=reason: condition(b, "Stalled", "reason") == r, what=f"{name} stalled"
        )
    for name in ours:  # day-2 on the healthy ones, next to their look-alikes
        stage.patch_spec(name, serverType="cx33", suspended=True)
    converge(stage, ours, check=lambda b: ready_now(b) and b["status"]["phase"] == "Suspended")
    for name in ours:
        stage.patch_spec(name, suspended=False)
    converge(stage, ours, check=lambda b: ready_now(b) and b["status"]["phase"] == "Running")
    for name in INSTANCES:
        stage.delete(name)
    converge(stage, [], gone=INSTANCES)

    after = state_of(stage, server_ids, record_ids)
    firewalls = {f["id"] for f in stage.hetzner.firewalls() if f["name"] == naming.FIREWALL_NAME}
    firewalls_changed = firewall_state(stage, firewall_ids) != firewalls_before
    firewalls_touched = firewall_writes_to(stage, firewall_ids)
    changed = [
        key
        for key, old in before.items()
        if key not in after
        or without_fleet_firewall(after[key], firewalls) != without_fleet_firewall(old, firewalls)
    ]
    touched = writes_to(stage, server_ids, record_ids)
    fleet = {sid for sid in server_ids if server_owner(before[sid]) is not None}
    foreign_actions = actions_on(stage, set(server_ids), fleet, planted_actions)
    books = audit(
        stage.hetzner,
        stage.cloudflare,
        Expectation(live={}, gone={uids[n]: h for n, h in INSTANCES.items()},
                    foreign_servers=frozenset(server_ids), foreign_records=frozenset(record_ids)),
        births,
    )  # fmt: skip
    figures.update(
        {
            "look-alike servers": len(server_ids),
            "look-alike records": len(record_ids),
            "look-alike firewalls": len(firewall_ids),
            "look-alike firewalls modified or gone": int(firewalls_changed),
            "writes to look-alike firewalls": len(firewalls_touched),
            "look-alikes modified or gone": len(changed),
            "writes to look-alikes": len(touched),
            "actions on look-alike servers": len(foreign_actions),
            "instances stalled on a conflict": len(STALLED),
            "servers ever created": births.total,
            **books.figures,
        }
    )
    assert changed == [], [(before[k], after.get(k)) for k in changed]
    assert orphan_server not in {s["id"] for s in stage.servers()}, "the sweep was not active"
    assert orphan_record not in {r["id"] for r in stage.cloudflare.records()}
    assert touched == [] and foreign_actions == [], (touched, foreign_actions)
    assert not firewalls_changed and firewalls_touched == [], firewalls_touched
    assert len(firewalls) == 1  # ours, next to the look-alikes
    assert births.total == len(ours)  # the stalled ones never created anything
    assert books.problems == {}, books.findings
    stage.assert_no_secrets_leaked()


def firewall_reads(stage: Stage) -> int:
    return sum(1 for r in stage.hetzner.request_log if (r.method, r.template) == ("GET", "/firewalls"))


def test_a_foreign_firewall_holding_the_managed_name_is_never_modified_or_deleted(
    owned_stage: Stage, figures: Figures
) -> None:
    stage = owned_stage
    client = hcloud.Client(stage.hetzner_token, api_endpoint=stage.hetzner.url)
    team = create_server(client, "team-web-1", {"team": "web"})
    foreign = client.firewalls.create(
        name=naming.FIREWALL_NAME, rules=RDP, labels={"team": "web"}, resources=[selector("team=web")]
    ).firewall
    foreign_id = int(foreign.id)
    before = firewall_state(stage, [foreign_id])
    births = ServerBirths.watch(stage.hetzner)
    stage.start_operator()
    stage.create_instance("alpha")
    stalled = stage.wait_for(
        "alpha", lambda b: condition(b, "Stalled", "reason") == "FirewallNameConflict", what="alpha stalled"
    )
    message = condition(stalled, "Stalled", "message") or ""
    assert f"(id {foreign_id})" in message and "untouched" in message
    reads = firewall_reads(stage)
    # Three more listings (two reads each: ours by label, none; the name, foreign): the conflict holds.
    wait_until(lambda: firewall_reads(stage) >= reads + 6, timeout=30, what="three more listings")
    held = births.total, firewall_state(stage, [foreign_id])
    assert condition(stage.get("alpha"), "Stalled", "reason") == "FirewallNameConflict"

    # Its owner renames it: the name is free, ours is created beside it and alpha goes ahead.
    client.firewalls.update(foreign, name="team-web")
    converge(stage, ["alpha"])
    ours = [f for f in stage.hetzner.firewalls() if f["name"] == naming.FIREWALL_NAME]
    stage.delete("alpha")
    converge(stage, [], gone={"alpha": f"alpha.{ZONE}"})

    after = firewall_state(stage, [foreign_id])
    renamed = {foreign_id: {**before[foreign_id], "name": "team-web"}}
    writes = firewall_writes_to(stage, [foreign_id])
    owners_rename = f"PUT /v1/firewalls/{foreign_id}"
    figures.update(
        {
            "servers created while a foreign firewall held the name": held[0],
            "foreign firewall modified or gone": int(held[1] != before or after != renamed),
            "operator writes to the foreign firewall": sum(1 for w in writes if w != owners_rename),
        }
    )
    assert held == (0, before)  # no server without the firewall it was promised, the foreign one as it was
    assert len(ours) == 1 and ours[0]["id"] != foreign_id
    assert after == renamed  # never modified, never deleted: only its owner renamed it
    assert writes == [owners_rename], writes
    assert team in {s["id"] for s in stage.servers()}
    stage.assert_no_secrets_leaked()

"""The books: what the simulated providers hold, grouped by the owner marks the operator writes, checked
against which instances should exist. Counted through the simulators' inspection API, never through the
operator's own view.

- A server belongs to an instance by its owner labels (managed-by + instance-uid); a record by its
  comment `clawhost.dev/instance-uid=<uid>` (docs/architecture.md, "Ownership marks").
- `ServerBirths` hooks the Hetzner simulator's responses and counts every server ever created per uid, so
  a duplicate that existed only for a moment (created, then noticed and deleted) still counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator

from openclaw_operator.reconcile import naming


@dataclass
class Births:
    """Resources created (201 to the create route `ROUTE`), by the instance uid in their labels."""

    ROUTE: ClassVar[tuple[str, str]]  # method, path template
    ITEM: ClassVar[str]  # the created resource's key in the response

    by_uid: Counter[str] = field(default_factory=Counter)

    @classmethod
    def watch(cls, hetzner: HetznerSimulator) -> Self:
        births = cls()
        hetzner.response_hooks.append(births.on_response)
        return births

    def on_response(self, method: str, template: str, status: int, payload: Any) -> None:
        if (method, template, status) == (*self.ROUTE, 201):
            labels = payload[self.ITEM]["labels"]
            self.by_uid[labels.get(naming.INSTANCE_UID_LABEL, "")] += 1

    @property
    def total(self) -> int:
        return sum(self.by_uid.values())

    def created_twice(self) -> dict[str, int]:
        return {uid: count for uid, count in self.by_uid.items() if count > 1}


class ServerBirths(Births):
    """Servers created (POST /servers)."""

    ROUTE = ("POST", "/servers")
    ITEM = "server"


class SnapshotBirths(Births):
    """Snapshots created (create_image)."""

    ROUTE = ("POST", "/servers/{id}/actions/create_image")
    ITEM = "image"


@dataclass(frozen=True)
class Expectation:
    """Which instances should own something at the providers now (uid -> hostname), and which must own
    nothing any more; resources that were someone else's from the start are left out of the books."""

    live: dict[str, str]
    gone: dict[str, str]
    foreign_servers: frozenset[int] = frozenset()
    foreign_records: frozenset[str] = frozenset()


def server_owner(server: dict[str, Any]) -> str | None:
    labels = server["labels"]
    if labels.get(naming.MANAGED_BY_LABEL) != naming.MANAGED_BY_VALUE:
        return None
    uid: str | None = labels.get(naming.INSTANCE_UID_LABEL)
    return uid


@dataclass(frozen=True)
class Books:
    figures: dict[str, int]  # every count but "live instances" and "servers" must be zero
    findings: list[str]  # one line per problem, naming the resource

    @property
    def problems(self) -> dict[str, int]:
        return {name: value for name, value in self.figures.items() if name not in CLEAN_EXCEPT and value}


CLEAN_EXCEPT = ("live instances", "servers")


def audit(
    hetzner: HetznerSimulator, cloudflare: CloudflareSimulator, expected: Expectation, births: ServerBirths
) -> Books:
    servers = [s for s in hetzner.servers() if s["id"] not in expected.foreign_servers]
    records = [r for r in cloudflare.records() if r["id"] not in expected.foreign_records]
    servers_of: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for server in servers:
        servers_of[server_owner(server)].append(server)
    records_of: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        records_of[naming.record_owner(record.get("comment"))].append(record)

    live = expected.live
    leaked_servers = [s for uid, found in servers_of.items() if uid not in live for s in found]
    leaked_records = [r for uid, found in records_of.items() if uid not in live for r in found]
    gone_names = set(expected.gone.values()) - set(live.values())
    on_gone_names = [r for r in records if r["name"] in gone_names]
    findings = [
        *(
            f"leaked server {s['name']} ({s['id']}, {s['status']}, labels {s['labels']})"
            for s in leaked_servers
        ),
        *(f"leaked record {r['type']} {r['name']} ({r['id']}, {r.get('comment')})" for r in leaked_records),
        *(
            f"servers of {uid}: {[s['name'] for s in servers_of[uid]]}"
            for uid in live
            if len(servers_of[uid]) > 1
        ),
        *(f"{uid} created {count} servers" for uid, count in births.created_twice().items()),
    ]
    figures = {
        "live instances": len(live),
        "servers": len(servers),
        "duplicate servers": sum(max(0, len(servers_of.get(uid, [])) - 1) for uid in live),
        "servers created twice": len(births.created_twice()),
        "missing servers": sum(1 for uid in live if not servers_of.get(uid)),
        "leaked servers": len(leaked_servers),
        "leaked records": len(leaked_records),
        "records left on deleted hostnames": len(on_gone_names),
        "wrong address records": sum(
            _address_problems(live[uid], servers_of.get(uid, []), records_of.get(uid, [])) for uid in live
        ),
        "managed firewalls beyond one": max(
            0, sum(1 for f in hetzner.firewalls() if f["name"] == naming.FIREWALL_NAME) - 1
        ),
    }
    return Books(figures, findings)


def _address_problems(hostname: str, servers: list[dict[str, Any]], records: list[dict[str, Any]]) -> int:
    """How far an instance's records are from exactly one A and one AAAA on its hostname, pointing at its
    server (a missing, extra or wrong record counts one each)."""
    if len(servers) != 1:
        return 0  # counted as a missing or duplicate server already
    net = servers[0]["public_net"]
    wanted = {
        ("A", hostname, net["ipv4"]["ip"]),
        ("AAAA", hostname, naming.ipv6_address(net["ipv6"]["ip"])),
    }
    found = Counter((r["type"], r["name"], r["content"]) for r in records)
    missing = sum(1 for entry in wanted if found[entry] == 0)
    extra = sum(count - (1 if entry in wanted else 0) for entry, count in found.items())
    return missing + extra

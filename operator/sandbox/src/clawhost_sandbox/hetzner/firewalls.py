"""SSH keys and firewalls: unique names (and fingerprints), rule validation, applying a firewall to servers
directly or by label selector."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from typing import Any

from .errors import hetzner_error, invalid_input, uniqueness
from .labels import SelectorError, parse_selector
from .resources import checked_labels, ensure_unique_name, required_name
from .world import Firewall, SshKey, World

MAX_CIDRS = 100
PROTOCOLS = ("tcp", "udp", "icmp", "esp", "gre")


def fingerprint(public_key: str) -> str:
    """MD5 of the key blob in colon notation, as Hetzner shows it; invalid keys raise `invalid_input`."""
    parts = public_key.split()
    if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-", "sk-")):
        raise invalid_input("public_key", "is not a valid SSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise invalid_input("public_key", "is not a valid SSH public key") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def create_ssh_key(world: World, body: dict[str, Any]) -> dict[str, Any]:
    name = required_name(body)
    public_key = body.get("public_key")
    if not isinstance(public_key, str):
        raise invalid_input("public_key", "is required")
    print_ = fingerprint(public_key)
    labels = checked_labels(body, {})
    ensure_unique_name(name, world.ssh_keys.values(), "SSH key")
    if any(k.fingerprint == print_ for k in world.ssh_keys.values()):
        raise uniqueness("public_key", "SSH key with the same fingerprint already exists")
    key = SshKey(world.next_id(), name, public_key.strip(), print_, labels, world.clock.now())
    world.ssh_keys[key.id] = key
    return {"ssh_key": world.render_ssh_key(key)}


def delete_ssh_key(world: World, key: SshKey) -> None:
    world.ssh_keys.pop(key.id)  # servers keep running with the key they were created with


def _cidrs(rule: dict[str, Any], field: str) -> list[str]:
    values = rule.get(field, [])
    if not isinstance(values, list) or len(values) > MAX_CIDRS:
        raise invalid_input(f"rules.{field}", f"must be a list of at most {MAX_CIDRS} CIDRs")
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except (TypeError, ValueError):
            raise invalid_input(f"rules.{field}", f"{value!r} is not a CIDR") from None
    return list(values)


def _port(rule: dict[str, Any]) -> str | None:
    port = rule.get("port")
    if rule["protocol"] not in ("tcp", "udp"):
        if port is not None:
            raise invalid_input("rules.port", f"is not allowed for protocol {rule['protocol']}")
        return None
    bounds = str(port).split("-") if port is not None else []
    if not 1 <= len(bounds) <= 2 or not all(b.isdigit() and 1 <= int(b) <= 65535 for b in bounds):
        raise invalid_input("rules.port", "must be a port or a range like 80-85")
    return str(port)


def _rules(raw: object) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise invalid_input("rules", "must be a list")
    rules = []
    for rule in raw:
        if not isinstance(rule, dict) or rule.get("direction") not in ("in", "out"):
            raise invalid_input("rules.direction", "must be 'in' or 'out'")
        if rule.get("protocol") not in PROTOCOLS:
            raise invalid_input("rules.protocol", f"must be one of {', '.join(PROTOCOLS)}")
        sources, destinations = (_cidrs(rule, "source_ips"), _cidrs(rule, "destination_ips"))
        if rule["direction"] == "in" and not sources:
            raise invalid_input("rules.source_ips", "is required for inbound rules")
        if rule["direction"] == "out" and not destinations:
            raise invalid_input("rules.destination_ips", "is required for outbound rules")
        rendered = {
            "direction": rule["direction"],
            "protocol": rule["protocol"],
            "port": _port(rule),
            "source_ips": sources,
            "destination_ips": destinations,
            "description": rule.get("description"),
        }
        rules.append(rendered)
    return rules


def _targets(world: World, raw: object) -> list[tuple[str, str | int]]:
    """`apply_to` / `resources` entries as ("server", id) or ("label_selector", selector)."""
    if not isinstance(raw, list):
        raise invalid_input("apply_to", "must be a list")
    targets: list[tuple[str, str | int]] = []
    for entry in raw:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind == "server":
            server_id = (entry.get("server") or {}).get("id")
            if server_id not in world.servers:
                raise hetzner_error("firewall_resource_not_found", f"server {server_id} not found")
            targets.append(("server", server_id))
        elif kind == "label_selector":
            selector = (entry.get("label_selector") or {}).get("selector", "")
            try:
                parse_selector(selector)
            except SelectorError as exc:
                raise invalid_input("label_selector", str(exc)) from None
            targets.append(("label_selector", selector))
        else:
            raise invalid_input("type", "must be 'server' or 'label_selector'")
    return targets


def _firewall_action(world: World, command: str, firewall: Firewall, server_ids: list[int]) -> dict[str, Any]:
    resources = [(firewall.id, "firewall"), *((sid, "server") for sid in server_ids)]
    return world.start_action(command, resources).render(world.clock)


def create_firewall(world: World, body: dict[str, Any]) -> dict[str, Any]:
    name = required_name(body)
    labels = checked_labels(body, {})
    rules = _rules(body.get("rules", []))
    targets = _targets(world, body.get("apply_to", []))
    ensure_unique_name(name, world.firewalls.values(), "firewall")
    firewall = Firewall(world.next_id(), name, labels, rules, world.clock.now())
    world.firewalls[firewall.id] = firewall
    actions = [_apply(world, firewall, kind, value) for kind, value in targets]
    return {"firewall": world.render_firewall(firewall), "actions": actions}


def delete_firewall(world: World, firewall: Firewall) -> None:
    if firewall.server_ids or firewall.selectors:
        raise hetzner_error("resource_in_use", "firewall is still applied to resources")
    world.firewalls.pop(firewall.id)


def _matched_servers(world: World, firewall: Firewall) -> list[int]:
    return [s.id for s in world.servers.values() if firewall in world.firewalls_of(s)]


def set_rules(world: World, firewall: Firewall, body: dict[str, Any]) -> dict[str, Any]:
    firewall.rules = _rules(body.get("rules", []))
    return {
        "actions": [
            _firewall_action(world, "set_firewall_rules", firewall, _matched_servers(world, firewall))
        ]
    }


def _apply(world: World, firewall: Firewall, kind: str, value: str | int) -> dict[str, Any]:
    if kind == "server":
        assert isinstance(value, int)
        if value in firewall.server_ids:
            raise hetzner_error("firewall_already_applied", f"firewall already applied to server {value}")
        firewall.server_ids.append(value)
        return _firewall_action(world, "apply_firewall", firewall, [value])
    assert isinstance(value, str)
    if value in firewall.selectors:
        raise hetzner_error("firewall_already_applied", f"firewall already applied to selector {value!r}")
    firewall.selectors.append(value)
    selector = parse_selector(value)
    matched = [s.id for s in world.servers.values() if selector.matches(s.labels)]
    return _firewall_action(world, "apply_firewall", firewall, matched)


def apply_to_resources(world: World, firewall: Firewall, body: dict[str, Any]) -> dict[str, Any]:
    targets = _targets(world, body.get("apply_to", []))
    return {"actions": [_apply(world, firewall, kind, value) for kind, value in targets]}


def remove_from_resources(world: World, firewall: Firewall, body: dict[str, Any]) -> dict[str, Any]:
    actions = []
    for kind, value in _targets(world, body.get("remove_from", [])):
        applied: list[Any] = firewall.server_ids if kind == "server" else firewall.selectors
        if value not in applied:
            raise hetzner_error("firewall_resource_not_found", f"firewall is not applied to {kind} {value}")
        applied.remove(value)
        servers = [value] if isinstance(value, int) else []
        actions.append(_firewall_action(world, "remove_firewall", firewall, servers))
    return {"actions": actions}


FIREWALL_ACTIONS = {
    "set_rules": set_rules,
    "apply_to_resources": apply_to_resources,
    "remove_from_resources": remove_from_resources,
}

"""The managed Hetzner Firewall: SSH from the configured ranges, 80/443 and ICMP from anywhere, never the
gateway port; the rules are valid hcloud API rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hcloud.firewalls.domain import FirewallRule
from openapi_schema_validator import OAS30Validator

from openclaw_operator.bootstrap.firewall import (
    ANYWHERE,
    GATEWAY_PORT,
    managed_firewall_rules,
    normalize_source_ranges,
)
from tests.simulators.openapi_check import SPEC_FILE

HETZNER_SPEC = json.loads(SPEC_FILE.read_text())
RULE_SCHEMA = HETZNER_SPEC["components"]["schemas"]["rule"]


def by_port(rules: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {rule["port"] if rule["protocol"] == "tcp" else rule["protocol"]: rule for rule in rules}


def test_default_rules() -> None:
    rules = by_port(managed_firewall_rules(["0.0.0.0/0", "::/0"]))
    assert set(rules) == {"22", "80", "443", "icmp"}
    assert all(rule["direction"] == "in" for rule in rules.values())
    for key in ("22", "80", "443", "icmp"):
        assert rules[key]["source_ips"] == list(ANYWHERE)
    assert rules["icmp"]["port"] is None


def test_ssh_only_from_the_configured_ranges() -> None:
    rules = by_port(managed_firewall_rules(["203.0.113.0/24", "2001:db8::/32"]))
    assert rules["22"]["source_ips"] == ["203.0.113.0/24", "2001:db8::/32"]
    assert rules["443"]["source_ips"] == list(ANYWHERE)
    assert rules["80"]["source_ips"] == list(ANYWHERE)


def test_no_ssh_ranges_closes_ssh() -> None:
    assert set(by_port(managed_firewall_rules([]))) == {"80", "443", "icmp"}


@pytest.mark.parametrize("ssh", [["0.0.0.0/0", "::/0"], ["198.51.100.7/32"], []])
def test_gateway_port_is_never_opened(ssh: list[str]) -> None:
    for rule in managed_firewall_rules(ssh):
        port = rule["port"]
        if port is not None:
            low, _, high = port.partition("-")
            assert not int(low) <= GATEWAY_PORT <= int(high or low)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["10.0.0.0/8"], ["10.0.0.0/8"]),
        (["198.51.100.7"], ["198.51.100.7/32"]),
        (["2001:0db8:0000:0000:0000:0000:0000:0001/128"], ["2001:db8::1/128"]),  # RFC 5952, as Hetzner stores
        (["2001:db8::1"], ["2001:db8::1/128"]),
        ([" 10.1.2.3/32 ", "10.1.2.3/32"], ["10.1.2.3/32"]),
        (["10.1.2.3/24"], ["10.1.2.3/24"]),  # a host inside a network is allowed by Hetzner; kept as given
    ],
)
def test_source_ranges_are_normalized(given: list[str], expected: list[str]) -> None:
    assert normalize_source_ranges(given) == expected


@pytest.mark.parametrize("bad", ["", "10.0.0.0/33", "example.com", "10.0.0.0/8,10.1.0.0/16", "::/129"])
def test_bad_source_range_is_rejected_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="is not an IPv4 or IPv6 CIDR") as rejected:
        managed_firewall_rules([bad])
    assert repr(bad) in str(rejected.value)


def test_more_ranges_than_hetzner_allows_are_rejected() -> None:
    with pytest.raises(ValueError, match="Hetzner allows 100"):
        managed_firewall_rules([f"10.0.{i}.0/24" for i in range(101)])


@pytest.mark.parametrize("ssh", [["0.0.0.0/0", "::/0"], ["203.0.113.5/32"], []])
def test_rules_are_valid_hcloud_rules(ssh: list[str]) -> None:
    validator = OAS30Validator(RULE_SCHEMA)
    for rule in managed_firewall_rules(ssh):
        validator.validate(rule)
        payload = FirewallRule(**rule).to_payload()
        validator.validate(payload)
        assert payload["source_ips"] == rule["source_ips"]
        assert len(rule["description"]) <= RULE_SCHEMA["properties"]["description"]["maxLength"]

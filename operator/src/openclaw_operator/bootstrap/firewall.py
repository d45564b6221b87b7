"""What may reach an OpenClaw server: the managed Hetzner Firewall's rules and the host firewall's ports.

Both layers come from the same constants so they cannot disagree. The gateway port is deliberately absent:
the gateway listens on loopback only and is reached through the TLS proxy on 443.
"""

from __future__ import annotations

import ipaddress
from typing import Any

SSH_PORT = 22
HTTP_PORT = 80
HTTPS_PORT = 443
GATEWAY_PORT = 18789
# Everything a client may reach, in both firewalls. 80 serves ACME HTTP-01 challenges and redirects to 443.
PUBLIC_TCP_PORTS = (SSH_PORT, HTTP_PORT, HTTPS_PORT)
ANYWHERE = ("0.0.0.0/0", "::/0")
# Hetzner accepts at most this many CIDRs per rule.
MAX_SOURCE_IPS = 100


def managed_firewall_rules(ssh_source_ranges: list[str]) -> list[dict[str, Any]]:
    """Rules of the one managed Hetzner Firewall, as hcloud API rule dicts (also `FirewallRule(**rule)`).

    SSH is open to `ssh_source_ranges` only; an empty list closes SSH at the cloud firewall entirely.
    """
    rules = []
    ssh_sources = normalize_source_ranges(ssh_source_ranges)
    if ssh_sources:
        rules.append(_tcp_in(SSH_PORT, ssh_sources, "SSH for administrators, from the configured ranges"))
    rules.append(_tcp_in(HTTP_PORT, list(ANYWHERE), "HTTP: ACME challenges and redirect to HTTPS"))
    rules.append(_tcp_in(HTTPS_PORT, list(ANYWHERE), "HTTPS: the OpenClaw gateway behind its TLS proxy"))
    rules.append(
        {
            "direction": "in",
            "protocol": "icmp",
            "port": None,
            "source_ips": list(ANYWHERE),
            "description": "ICMP: ping and path MTU discovery",
        }
    )
    return rules


def normalize_source_ranges(ranges: list[str]) -> list[str]:
    """CIDRs as Hetzner stores them (IPv6 in RFC 5952 form, bare addresses as /32 or /128), so rules we
    compare against what the API returns match; duplicates dropped, order kept."""
    normalized: list[str] = []
    for text in ranges:
        try:
            interface = ipaddress.ip_interface(text.strip())
        except ValueError:
            raise ValueError(f"SSH source range {text!r} is not an IPv4 or IPv6 CIDR") from None
        cidr = f"{interface.ip.compressed}/{interface.network.prefixlen}"
        if cidr not in normalized:
            normalized.append(cidr)
    if len(normalized) > MAX_SOURCE_IPS:
        raise ValueError(
            f"{len(normalized)} SSH source ranges given; Hetzner allows {MAX_SOURCE_IPS} per rule"
        )
    return normalized


def _tcp_in(port: int, sources: list[str], description: str) -> dict[str, Any]:
    return {
        "direction": "in",
        "protocol": "tcp",
        "port": str(port),
        "source_ips": sources,
        "description": description,
    }

"""Hypothesis strategies for OpenClawInstance bodies: mostly well-formed specs with a few fields bent
out of shape (wrong types, boundary values, hostile strings, unknown fields), so that many inputs get
past the apiserver and reach the operator, and the rest probe the schema's error messages."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from tests.operator.integration.harness import ZONE

TOKEN_SECRET = "fuzz-token"  # exists, key "token"
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm2B8C3l0m4d0uR0bmQ8Rr0JtG7vW8kqO3zY6cVb2Jx fuzz@host"

labels = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?", fullmatch=True)
hostnames = st.one_of(
    labels.map(lambda label: f"{label}.{ZONE}"),
    st.tuples(labels, labels).map(lambda pair: f"{pair[0]}.{pair[1]}.{ZONE}"),
    labels.map(lambda label: f"{label}.other.org"),  # a zone the operator does not manage
    st.from_regex(r"([a-z0-9]{1,8}\.){1,3}[a-z]{2,6}", fullmatch=True),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.text(alphabet=string.printable, max_size=300),
    st.sampled_from(
        ["", " ", "\n", "../../etc/passwd", "$(reboot)", "'; DROP TABLE x; --", "\u202e", "x" * 1100]
    ),
)
weird = st.one_of(
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), json_scalars, max_size=3),
)

VALID_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    # cx99 and cax11 in ash pass the schema but Hetzner refuses them: the operator must stall, not loop.
    "serverType": st.sampled_from(["cx23", "cx33", "cpx21", "cax11", "ccx13", "cx99"]),
    "location": st.sampled_from(["fsn1", "nbg1", "hel1", "ash", "hil", "sin"]),
    "image": st.sampled_from(["ubuntu-24.04", "debian-12", "debian-13"]),
    "dns": st.fixed_dictionaries(
        {},
        optional={
            "zone": st.sampled_from([ZONE, "other.org"]),
            "proxied": st.booleans(),
            "ttl": st.sampled_from([1, 60, 300, 86400]),
        },
    ),
    "sshKeys": st.lists(
        st.sampled_from([ED25519, ED25519 + "2", ED25519.replace("fuzz", "ops")]), max_size=3
    ),
    "openclawVersion": st.sampled_from(["2026.4.23", "2026.9.5", "2027.1.1-2", "2026.4.1", "2099.12.31"]),
    "gatewayTokenSecretRef": st.fixed_dictionaries(
        {"name": st.sampled_from([TOKEN_SECRET, "no-such-secret"])},
        optional={"key": st.sampled_from(["token", "missing-key"])},
    ),
    "suspended": st.booleans(),
    "backups": st.booleans(),
    "deletionPolicy": st.sampled_from(["Delete", "Retain"]),
    "whmcs": st.fixed_dictionaries(
        {}, optional={"clientId": st.integers(1, 10**9), "serviceId": st.integers(1, 10**9)}
    ),
}
PATHS = [*VALID_FIELDS, "hostname", "dns.ttl", "dns.zone", "gatewayTokenSecretRef.name", "whmcs.serviceId"]


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"hostname": draw(hostnames)}
    for field, values in VALID_FIELDS.items():
        if field == "gatewayTokenSecretRef" or draw(st.booleans()):
            spec[field] = draw(values)
    for path in draw(st.lists(st.sampled_from([*PATHS, "unknownField"]), max_size=2, unique=True)):
        bend(spec, path.split("."), draw(st.one_of(weird, st.just(REMOVE))))
    return spec


REMOVE = object()


def bend(spec: dict[str, Any], path: list[str], value: Any) -> None:
    """Set (or remove) a field at a dotted path, making parents objects where needed."""
    target = spec
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    if value is REMOVE:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


names = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,40}[a-z0-9])?", fullmatch=True),
    st.text(max_size=20),
    st.just("x" * 250),
)

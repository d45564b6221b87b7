"""The apiserver itself rejects invalid OpenClawInstance specs, each with a message naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator.api import API_VERSION, KIND
from tests.support.kube import instances_path

pytestmark = pytest.mark.controlplane

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm2B8C3l0m4d0uR0bmQ8Rr0JtG7vW8kqO3zY6cVb2Jx bob@laptop"
VALID_SPEC: dict[str, Any] = {
    "hostname": "a.example.com",
    "gatewayTokenSecretRef": {"name": "a-gateway"},
}
MISSING = object()


def with_spec(**changes: Any) -> dict[str, Any]:
    """VALID_SPEC with dotted paths set (or removed with MISSING)."""
    spec = copy.deepcopy(VALID_SPEC)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = spec
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is MISSING:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return spec


INVALID_SPECS: list[tuple[str, dict[str, Any], str]] = [
    ("hostname missing", with_spec(hostname=MISSING), "spec.hostname"),
    ("hostname upper case", with_spec(hostname="A.example.com"), "spec.hostname"),
    ("hostname single label", with_spec(hostname="localhost"), "spec.hostname"),
    ("hostname trailing dot", with_spec(hostname="a.example.com."), "spec.hostname"),
    ("hostname underscore", with_spec(hostname="a_b.example.com"), "spec.hostname"),
    ("hostname leading hyphen", with_spec(hostname="-a.example.com"), "spec.hostname"),
    (
        "hostname too long",
        with_spec(hostname=("a" * 60 + ".") * 4 + "example.com"),
        "spec.hostname",
    ),
    ("hostname with space", with_spec(hostname="a b.example.com"), "spec.hostname"),
    ("hostname numeric tld", with_spec(hostname="a.example.123"), "spec.hostname"),
    (
        "hostname with scheme",
        with_spec(hostname="https://a.example.com"),
        "spec.hostname",
    ),
    (
        "hostname label over 63",
        with_spec(hostname="a" * 64 + ".example.com"),
        "spec.hostname",
    ),
    ("server type upper case", with_spec(serverType="CX22"), "spec.serverType"),
    ("server type too short", with_spec(serverType="cx"), "spec.serverType"),
    ("server type shell", with_spec(serverType="cx22;rm"), "spec.serverType"),
    ("server type not a string", with_spec(serverType=22), "spec.serverType"),
    ("location unknown", with_spec(location="fra1"), "spec.location"),
    ("location upper case", with_spec(location="FSN1"), "spec.location"),
    ("image unsupported", with_spec(image="windows-2022"), "spec.image"),
    ("image too old", with_spec(image="ubuntu-22.04"), "spec.image"),
    ("ttl negative", with_spec(dns__ttl=-5), "spec.dns.ttl"),
    ("ttl zero", with_spec(dns__ttl=0), "spec.dns.ttl"),
    ("ttl below 60", with_spec(dns__ttl=30), "spec.dns.ttl"),
    ("ttl above a day", with_spec(dns__ttl=100000), "spec.dns.ttl"),
    (
        "proxied with fixed ttl",
        with_spec(dns__proxied=True, dns__ttl=300),
        "spec.dns.ttl",
    ),
    ("zone not a parent", with_spec(dns__zone="other.com"), "spec.dns.zone"),
    ("zone is a sibling suffix", with_spec(dns__zone="ample.com"), "spec.dns.zone"),
    ("zone upper case", with_spec(dns__zone="Example.COM"), "spec.dns.zone"),
    ("proxied not boolean", with_spec(dns__proxied="yes"), "spec.dns.proxied"),
    ("ssh key garbage", with_spec(sshKeys=["not a key"]), "spec.sshKeys[0]"),
    (
        "ssh key dsa",
        with_spec(sshKeys=["ssh-dss AAAAB3NzaC1kc3MAAACBAP"]),
        "spec.sshKeys[0]",
    ),
    ("ssh key type only", with_spec(sshKeys=["ssh-ed25519 "]), "spec.sshKeys[0]"),
    (
        "ssh key newline",
        with_spec(sshKeys=[ED25519 + "\nssh-rsa AAAAB3Nza evil"]),
        "spec.sshKeys[0]",
    ),
    (
        "ssh keys too many",
        with_spec(sshKeys=[f"{ED25519}{i}" for i in range(9)]),
        "spec.sshKeys",
    ),
    ("ssh keys duplicate", with_spec(sshKeys=[ED25519, ED25519]), "spec.sshKeys[1]"),
    ("version word", with_spec(openclawVersion="latest"), "spec.openclawVersion"),
    ("version semver", with_spec(openclawVersion="1.2.3"), "spec.openclawVersion"),
    (
        "version injection",
        with_spec(openclawVersion="2026.9.5; curl x"),
        "spec.openclawVersion",
    ),
    (
        "secret ref missing",
        with_spec(gatewayTokenSecretRef=MISSING),
        "spec.gatewayTokenSecretRef",
    ),
    (
        "secret name empty",
        with_spec(gatewayTokenSecretRef__name=""),
        "spec.gatewayTokenSecretRef.name",
    ),
    (
        "secret name invalid",
        with_spec(gatewayTokenSecretRef__name="Bad_Name"),
        "spec.gatewayTokenSecretRef.name",
    ),
    (
        "secret key with slash",
        with_spec(gatewayTokenSecretRef__key="a/b"),
        "spec.gatewayTokenSecretRef.key",
    ),
    ("suspended string", with_spec(suspended="true"), "spec.suspended"),
    ("backups number", with_spec(backups=1), "spec.backups"),
    ("suspend mode unknown", with_spec(suspendMode="Delete"), "spec.suspendMode"),
    ("suspend mode case", with_spec(suspendMode="hibernate"), "spec.suspendMode"),
    (
        "deletion policy unknown",
        with_spec(deletionPolicy="Orphan"),
        "spec.deletionPolicy",
    ),
    ("deletion policy case", with_spec(deletionPolicy="delete"), "spec.deletionPolicy"),
    ("location policy unknown", with_spec(locationPolicy="Anywhere"), "spec.locationPolicy"),
    ("location policy case", with_spec(locationPolicy="strict"), "spec.locationPolicy"),
    ("whmcs service zero", with_spec(whmcs__serviceId=0), "spec.whmcs.serviceId"),
    ("whmcs client negative", with_spec(whmcs__clientId=-1), "spec.whmcs.clientId"),
    ("whmcs service string", with_spec(whmcs__serviceId="abc"), "spec.whmcs.serviceId"),
    ("backup schedule unknown", with_spec(backup__schedule="Hourly"), "spec.backup.schedule"),
    ("backup schedule lower case", with_spec(backup__schedule="daily"), "spec.backup.schedule"),
    ("backup retain zero", with_spec(backup__retain=0), "spec.backup.retain"),
    ("backup retain above 90", with_spec(backup__retain=91), "spec.backup.retain"),
    ("restoreFrom without instance", with_spec(restoreFrom__backup="latest"), "spec.restoreFrom.instance"),
    (
        "restoreFrom backup not an id",
        with_spec(restoreFrom__instance="old", restoreFrom__backup="yesterday"),
        "spec.restoreFrom.backup",
    ),
    (
        "restoreFrom instance not a name",
        with_spec(restoreFrom__instance="Old_One"),
        "spec.restoreFrom.instance",
    ),
]


def instance(name: str, spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
    }
    if spec is not MISSING:
        body["spec"] = spec
    return body


def test_the_table_is_large_enough() -> None:
    assert len(INVALID_SPECS) + len(IMMUTABLE_CHANGES) + 2 >= 40


@pytest.mark.parametrize(("case", "spec", "field"), INVALID_SPECS, ids=[c[0] for c in INVALID_SPECS])
def test_invalid_spec_is_rejected_naming_the_field(
    cluster: ClusterAccess, namespace: str, case: str, spec: dict[str, Any], field: str
) -> None:
    response = cluster.request("POST", instances_path(namespace), json=instance("bad", spec))
    assert response.status_code == 422, f"{case}: accepted ({response.status_code}): {response.text}"
    message = response.json()["message"]
    assert f"{field}:" in message or f"{field}[" in message, f"{case}: {field} not named in: {message}"


def test_missing_spec_is_rejected(cluster: ClusterAccess, namespace: str) -> None:
    response = cluster.request("POST", instances_path(namespace), json=instance("bad", MISSING))
    assert response.status_code == 422
    assert "spec: Required value" in response.json()["message"]


def test_unknown_field_is_rejected_under_strict_validation(cluster: ClusterAccess, namespace: str) -> None:
    body = instance("typo", with_spec(serverTyp="cx23"))
    response = cluster.request("POST", instances_path(namespace) + "?fieldValidation=Strict", json=body)
    assert response.status_code == 400  # strict field validation answers BadRequest, not Invalid
    assert 'unknown field "spec.serverTyp"' in response.json()["message"]


IMMUTABLE_CHANGES = [
    ("location", "fsn1", "nbg1"),
    ("image", "ubuntu-24.04", "debian-13"),
]


@pytest.mark.parametrize(("field", "before", "after"), IMMUTABLE_CHANGES)
def test_immutable_field_cannot_change_in_place(
    cluster: ClusterAccess, namespace: str, field: str, before: str, after: str
) -> None:
    created = cluster.request(
        "POST",
        instances_path(namespace),
        json=instance("a", with_spec(**{field: before})),
    )
    assert created.status_code == 201, created.text
    response = cluster.request(
        "PATCH",
        instances_path(namespace, "a"),
        json={"spec": {field: after}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert f"spec.{field}:" in message and "immutable" in message


def test_defaults_are_applied_by_the_apiserver(cluster: ClusterAccess, namespace: str) -> None:
    created = cluster.request("POST", instances_path(namespace), json=instance("d", VALID_SPEC))
    assert created.status_code == 201, created.text
    spec = created.json()["spec"]
    assert spec["serverType"] == "cx23"
    assert spec["location"] == "fsn1"
    assert spec["image"] == "ubuntu-24.04"
    assert spec["dns"] == {"proxied": False, "ttl": 300}
    assert spec["gatewayTokenSecretRef"] == {"name": "a-gateway", "key": "token"}
    assert spec["suspended"] is False and spec["backups"] is False
    assert spec["deletionPolicy"] == "Delete"
    assert spec["suspendMode"] == "PowerOff"  # today's behaviour unless asked
    assert spec["backup"] == {"schedule": "Off", "retain": 7}  # no off-server backups unless asked
    assert "restoreFrom" not in spec


def test_status_is_a_subresource(cluster: ClusterAccess, namespace: str) -> None:
    """A spec write cannot set status, and a status write cannot change spec (GitOps-safe)."""
    body = instance("s", VALID_SPEC) | {"status": {"phase": "Running"}}
    created = cluster.request("POST", instances_path(namespace), json=body)
    assert created.status_code == 201
    assert "status" not in created.json()
    patched = cluster.request(
        "PATCH",
        instances_path(namespace, "s") + "/status",
        json={"spec": {"suspended": True}, "status": {"phase": "Running"}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"]["phase"] == "Running"
    assert patched.json()["spec"]["suspended"] is False

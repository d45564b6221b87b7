"""The chart's optional WHMCS access: the same rules the WHMCS module documents, a working long-lived
token, and real requests with that token that are allowed or denied exactly as the module's design says."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator import api
from tests.chart.chartkit import REPO_ROOT, of_kind, only, render, render_text
from tests.support.kube import instances_path

WHMCS_ROLE_FILE = REPO_ROOT / "whmcs-module" / "rbac" / "whmcs-role.yaml"
WHMCS_SETS = ("whmcs.enabled=true",)


def triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def test_chart_rules_equal_the_whmcs_module_role() -> None:
    module_role = only(list(yaml.safe_load_all(WHMCS_ROLE_FILE.read_text())), "Role")
    chart_role = only(render(sets=WHMCS_SETS), "Role")
    assert triples(chart_role["rules"]) == triples(module_role["rules"])
    assert not any(rule.get("resourceNames") for rule in module_role["rules"] + chart_role["rules"])


def test_whmcs_access_is_namespaced_only() -> None:
    whmcs = [m for m in render(sets=WHMCS_SETS) if m["metadata"].get("labels", {}).get(
        "app.kubernetes.io/component") == "whmcs"]  # fmt: skip
    assert sorted(m["kind"] for m in whmcs) == ["Role", "RoleBinding", "Secret", "ServiceAccount"]
    secret = only(whmcs, "Secret")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert (
        secret["metadata"]["annotations"]["kubernetes.io/service-account.name"]
        == only(whmcs, "ServiceAccount")["metadata"]["name"]
    )
    assert not of_kind(whmcs, "ClusterRole")


@dataclass(frozen=True)
class WhmcsAccount:
    namespace: str
    other_namespace: str
    token: str


@pytest.fixture(scope="module")
def whmcs(cluster: ClusterAccess) -> Iterator[WhmcsAccount]:
    names = [f"whmcs-{secrets.token_hex(3)}", f"other-{secrets.token_hex(3)}"]
    for name in names:
        assert (
            cluster.request("POST", "/api/v1/namespaces", json={"metadata": {"name": name}}).status_code
            == 201
        )
    manifests = render_text(namespace=names[0], sets=WHMCS_SETS, show_only="templates/whmcs-access.yaml")
    cluster.kubectl("apply", "--server-side", "-f", "-", input=manifests)
    secret_name = only(list(yaml.safe_load_all(manifests)), "Secret")["metadata"]["name"]
    token = ""
    deadline = time.monotonic() + 30
    while not token and time.monotonic() < deadline:
        response = cluster.request("GET", f"/api/v1/namespaces/{names[0]}/secrets/{secret_name}")
        token = base64.b64decode(response.json().get("data", {}).get("token", "")).decode()
        time.sleep(0.2)
    assert token, "the token controller did not fill in the WHMCS token Secret"
    yield WhmcsAccount(names[0], names[1], token)
    for name in names:
        cluster.request("DELETE", f"/api/v1/namespaces/{name}")


def instance_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": name},
        "spec": {"hostname": f"{name}.example.com", "gatewayTokenSecretRef": {"name": f"{name}-gateway"}},
    }


MERGE = {"Content-Type": "application/merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}


def test_whmcs_token_can_do_its_job(cluster: ClusterAccess, whmcs: WhmcsAccount) -> None:
    ns, token = whmcs.namespace, whmcs.token
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "svc-1-gateway"},
              "stringData": {"token": "gateway-secret"}}  # fmt: skip
    assert (
        cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", json=secret, token=token).status_code
        == 201
    )
    apply = cluster.request(
        "PATCH",
        instances_path(ns, "svc-1") + "?fieldManager=whmcs",
        json=instance_body("svc-1"),
        headers=APPLY,
        token=token,
    )
    assert apply.status_code == 201, apply.text
    suspend = {"spec": {"suspended": True}}
    assert cluster.request("PATCH", instances_path(ns, "svc-1"), json=suspend, headers=MERGE, token=token).ok
    assert (
        cluster.request("GET", instances_path(ns, "svc-1"), token=token).json()["spec"]["suspended"] is True
    )
    assert cluster.request("GET", instances_path(ns) + "?labelSelector=a%3Db", token=token).status_code == 200
    assert cluster.request("DELETE", instances_path(ns, "svc-1"), token=token).status_code == 200


DENIED: dict[str, tuple[str, str, Any, dict[str, str] | None]] = {
    # name: (method, path with {ns} and {other}, body, headers)
    "read a Secret": ("GET", "/api/v1/namespaces/{ns}/secrets/svc-1-gateway", None, None),
    "list Secrets": ("GET", "/api/v1/namespaces/{ns}/secrets", None, None),
    "patch a Secret (the answer would carry its data)": (
        "PATCH", "/api/v1/namespaces/{ns}/secrets/svc-1-gateway", {"metadata": {"labels": {"a": "b"}}}, MERGE
    ),
    "write status": ("PATCH", "/apis/clawhost.dev/v1alpha1/namespaces/{ns}/openclawinstances/svc-1/status",
                     {"status": {"phase": "Running"}}, MERGE),
    "create an instance in another namespace": (
        "POST", "/apis/clawhost.dev/v1alpha1/namespaces/{other}/openclawinstances", instance_body("x"), None
    ),
    "list instances in all namespaces": ("GET", "/apis/clawhost.dev/v1alpha1/openclawinstances", None, None),
    "create a Secret in another namespace": (
        "POST", "/api/v1/namespaces/{other}/secrets", {"metadata": {"name": "x"}}, None
    ),
    "delete its namespace": ("DELETE", "/api/v1/namespaces/{ns}", None, None),
    "create a ServiceAccount token": (
        "POST", "/api/v1/namespaces/{ns}/serviceaccounts/whmcs-openclaw/token", {"spec": {}}, None
    ),
    "create pods": ("POST", "/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "x"}}, None),
}  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "headers"), DENIED.values(), ids=DENIED.keys())
def test_whmcs_token_is_denied(
    cluster: ClusterAccess,
    whmcs: WhmcsAccount,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str] | None,
) -> None:
    # The objects exist, so a 403 is about permission, not about a missing target.
    secret = {"metadata": {"name": "svc-1-gateway"}, "stringData": {"token": "gateway-secret"}}
    cluster.request("POST", f"/api/v1/namespaces/{whmcs.namespace}/secrets", json=secret)
    cluster.request("POST", instances_path(whmcs.namespace), json=instance_body("svc-1"))
    url = path.format(ns=whmcs.namespace, other=whmcs.other_namespace)
    response = cluster.request(method, url, json=body, headers=headers, token=whmcs.token)
    assert response.status_code == 403, f"{method} {url}: {response.status_code} {response.text[:300]}"
    assert "gateway-secret" not in response.text

"""The API as a human and a GitOps tool meet it: examples apply, kubectl shows, explains and waits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator.api import API_VERSION, KIND
from tests.support.kube import instances_path

pytestmark = pytest.mark.controlplane
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANIFESTS = sorted(p for p in EXAMPLES.glob("*.yaml") if p.name != "kustomization.yaml")


def test_there_are_examples() -> None:
    kinds = {doc["kind"] for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert {"minimal.yaml", "full.yaml"} <= {p.name for p in MANIFESTS}
    assert KIND in kinds


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_example_is_accepted_by_server_side_apply(
    cluster: ClusterAccess, namespace: str, manifest: Path
) -> None:
    result = cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest))
    assert "serverside-applied" in result.stdout
    # Applying the same file again is a no-op: GitOps tools can re-apply it forever.
    again = cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", str(manifest))
    assert "serverside-applied" in again.stdout


def test_kustomization_builds_and_applies(cluster: ClusterAccess) -> None:
    cluster.kubectl("create", "namespace", "customers", check=False)
    result = cluster.kubectl("apply", "--server-side", "--dry-run=server", "-k", str(EXAMPLES))
    applied = result.stdout
    assert "openclawinstance.clawhost.dev/alice serverside-applied" in applied
    assert "openclawinstance.clawhost.dev/bob serverside-applied" in applied


def create(cluster: ClusterAccess, namespace: str, name: str) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {
            "hostname": f"{name}.example.com",
            "gatewayTokenSecretRef": {"name": f"{name}-gw"},
        },
    }
    response = cluster.request("POST", instances_path(namespace), json=body)
    assert response.status_code == 201, response.text


def write_status(cluster: ClusterAccess, namespace: str, name: str, status: dict[str, object]) -> None:
    response = cluster.request(
        "PATCH",
        instances_path(namespace, name) + "/status",
        json={"status": status},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def ready_condition(status: str) -> dict[str, object]:
    return {
        "type": "Ready",
        "status": status,
        "reason": "Provisioned" if status == "True" else "Provisioning",
        "message": "test",
        "lastTransitionTime": "2026-11-25T00:00:00Z",
    }


def test_get_shows_the_printer_columns(cluster: ClusterAccess, namespace: str) -> None:
    create(cluster, namespace, "cols")
    write_status(cluster, namespace, "cols", {"phase": "Running", "ipv4": "203.0.113.7",
                                               "conditions": [ready_condition("True")]})  # fmt: skip
    table = cluster.kubectl("get", "openclawinstances", "-n", namespace).stdout.splitlines()
    assert table[0].split() == [
        "NAME",
        "READY",
        "PHASE",
        "TYPE",
        "LOCATION",
        "IPV4",
        "HOSTNAME",
        "AGE",
    ]
    assert table[1].split()[:7] == [
        "cols",
        "True",
        "Running",
        "cx23",
        "fsn1",
        "203.0.113.7",
        "cols.example.com",
    ]
    # The short name and the category reach the same objects.
    assert "cols" in cluster.kubectl("get", "claw", "-n", namespace).stdout
    assert "cols" in cluster.kubectl("get", "clawhost", "-n", namespace).stdout


def test_explain_teaches_the_api(cluster: ClusterAccess) -> None:
    spec = cluster.kubectl("explain", "openclawinstance.spec").stdout
    assert "Written by WHMCS, kubectl or GitOps" in spec
    for field in [
        "serverType",
        "location",
        "hostname",
        "gatewayTokenSecretRef",
        "deletionPolicy",
        "sshKeys",
    ]:
        assert field in spec
    location = cluster.kubectl("explain", "openclawinstance.spec.location").stdout
    assert "Immutable" in location
    ttl = cluster.kubectl("explain", "openclawinstance.spec.dns.ttl").stdout
    assert "1 means automatic" in ttl


def test_every_schema_field_has_a_description() -> None:
    crd = yaml.safe_load((EXAMPLES.parent / "crds" / "openclawinstances.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    missing: list[str] = []

    def walk(node: dict[str, object], path: str) -> None:
        for name, child in (node.get("properties") or {}).items():  # type: ignore[attr-defined]
            if name != "metadata" and not child.get("description"):
                missing.append(f"{path}.{name}")
            walk(child, f"{path}.{name}")
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, path + "[]")

    walk(schema, "")
    assert missing == []


def test_kubectl_wait_for_ready(cluster: ClusterAccess, namespace: str) -> None:
    create(cluster, namespace, "waiting")
    write_status(cluster, namespace, "waiting", {"conditions": [ready_condition("False")]})
    timer = threading.Timer(2.0, write_status, (cluster, namespace, "waiting",
                                                {"conditions": [ready_condition("True")]}))  # fmt: skip
    timer.start()
    started = time.monotonic()
    try:
        result = cluster.kubectl(
            "wait",
            "--for=condition=Ready",
            "--timeout=30s",
            "-n",
            namespace,
            "openclawinstance/waiting",
        )
    finally:
        timer.join()
    assert "condition met" in result.stdout
    assert time.monotonic() - started >= 1.5  # it really waited for the status write


def test_kubectl_wait_times_out_while_not_ready(cluster: ClusterAccess, namespace: str) -> None:
    create(cluster, namespace, "never")
    write_status(cluster, namespace, "never", {"conditions": [ready_condition("False")]})
    result = cluster.kubectl(
        "wait",
        "--for=condition=Ready",
        "--timeout=2s",
        "-n",
        namespace,
        "openclawinstance/never",
        check=False,
    )
    assert result.returncode != 0

"""Every manifest the chart renders, with default and with full values, is accepted by a real kube-apiserver
in a server-side dry-run with strict field validation (unknown or misspelt fields fail).

ServiceMonitor and PrometheusRule need the Prometheus Operator's CRDs, which are not part of this product;
the test installs minimal copies of them (monitoring-crds.yaml: the upstream schema of exactly the fields
the chart uses), so those two kinds are checked by the same dry-run instead of being skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess

from tests.chart.chartkit import FULL_VALUES, MONITORING_CRDS, SHARD_VALUES, render_text

pytestmark = pytest.mark.controlplane


@pytest.fixture(scope="module")
def monitoring_crds(cluster: ClusterAccess) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(MONITORING_CRDS))
    for doc in yaml.safe_load_all(MONITORING_CRDS.read_text()):
        cluster.wait_crd_established(doc["metadata"]["name"])


@pytest.fixture
def namespaces(cluster: ClusterAccess) -> Iterator[list[str]]:
    """Three fresh namespaces: the release namespace and two watched ones (the first also for WHMCS)."""
    names = [f"chart-{secrets.token_hex(3)}-{role}" for role in ("release", "watch-a", "watch-b")]
    for name in names:
        response = cluster.request("POST", "/api/v1/namespaces", json={"metadata": {"name": name}})
        assert response.status_code == 201, response.text
    yield names
    for name in names:
        cluster.request("DELETE", f"/api/v1/namespaces/{name}")


def server_dry_run(cluster: ClusterAccess, manifests: str) -> list[str]:
    result = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "--validate=strict", "--force-conflicts",
        "--field-manager=chart-test", "-f", "-",
        input=manifests, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"server-side dry-run rejected the chart:\n{result.stderr}"
    return [line for line in result.stdout.splitlines() if line.strip()]


VALUE_SETS = {"default": (), "full": (FULL_VALUES,), "shards": (SHARD_VALUES,)}


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_rendered_manifest_passes_server_side_dry_run(
    cluster: ClusterAccess, monitoring_crds: None, namespaces: list[str], values: tuple[Path, ...]
) -> None:
    # The full values name fixed namespaces; point them at fresh ones that exist in this cluster.
    release, watch_a, watch_b = namespaces
    full = values == (FULL_VALUES,)
    sets = [f"watchNamespaces={{{watch_a},{watch_b}}}", f"whmcs.namespace={watch_a}"] if full else []
    text = render_text(namespace=release, values=values, sets=sets, include_crds=True)
    documents = [doc for doc in yaml.safe_load_all(text) if doc]
    accepted = server_dry_run(cluster, text)
    assert len(accepted) == len(documents), "\n".join(accepted)
    assert all("(server dry run)" in line for line in accepted)
    kinds = {doc["kind"] for doc in documents}
    expected = {
        "CustomResourceDefinition",
        "Deployment",
        "ServiceAccount",
        "ClusterRole",
        "ConfigMap",
        "Service",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    if full:
        expected |= {"Role", "RoleBinding", "Secret", "ServiceMonitor", "PrometheusRule"}
    else:
        expected |= {"ClusterRoleBinding"}
    assert expected <= kinds


def test_dry_run_catches_an_invalid_field(cluster: ClusterAccess, namespaces: list[str]) -> None:
    """The check above can fail: a misspelt field in a rendered Deployment is rejected."""
    text = render_text(namespace=namespaces[0])
    broken = text.replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true")
    assert broken != text
    result = cluster.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        "-",
        input=broken,
        check=False,
    )
    assert result.returncode != 0
    assert "readOnlyRootFileSystem" in result.stderr

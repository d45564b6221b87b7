"""The operator, holding only the chart's ServiceAccount token, runs a full lifecycle against the real
apiserver and both simulators, in both RBAC modes of the chart (ClusterRole for all namespaces, a Role per
watched namespace). A recording proxy between operator and apiserver writes down every request, which
proves three things:

1. sufficient: the lifecycle completes and the apiserver refused none of the operator's requests;
2. used: every verb the chart grants is one the operator really sent;
3. necessary: for each rule of the operator's role, the apiserver's own authorizer (SubjectAccessReview),
   asked about a role with just that rule removed, denies at least one request the operator sent — the
   request that named rule exists for. Removing any one rule therefore breaks this test.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess, ControlPlane, write_kubeconfig

from tests.chart.apiproxy import ApiCall, RecordingProxy
from tests.chart.chartkit import container_env, render_text
from tests.conftest import install_crd
from tests.operator.integration.harness import OPERATOR, OperatorProcess, Stage

pytestmark = pytest.mark.controlplane

RBAC_TEMPLATES = ("templates/serviceaccount.yaml", "templates/rbac.yaml")
DEPLOYMENT_TEMPLATE = "templates/deployment.yaml"
PROBE = "rbac-probe"  # a subject that only ever holds the role under test, for SubjectAccessReviews


@dataclass
class ChartIdentity:
    namespace: str
    service_account: str
    role_kind: str  # ClusterRole or Role
    role_namespace: str  # "" for a ClusterRole
    rules: list[dict[str, Any]]
    kubeconfig: Path
    deployment: dict[str, Any]


def install_operator_rbac(cluster: ClusterAccess, release_ns: str, watch: list[str]) -> list[dict[str, Any]]:
    """Applies the chart's ServiceAccount and operator (Cluster)Role(+Binding) for real, as helm would."""
    release = f"rbac-{secrets.token_hex(3)}"
    sets = [f"watchNamespaces={{{','.join(watch)}}}"] if watch else []
    docs: list[dict[str, Any]] = []
    for template in RBAC_TEMPLATES:
        text = render_text(namespace=release_ns, sets=sets, show_only=template, release=release)
        cluster.kubectl("apply", "--server-side", "-f", "-", input=text)
        docs += [doc for doc in yaml.safe_load_all(text) if doc]
    return docs


def request_token(cluster: ClusterAccess, namespace: str, service_account: str) -> str:
    response = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
        json={"spec": {"expirationSeconds": 3600}},
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["status"]["token"]
    return token


def chart_identity(
    cluster: ClusterAccess, release_ns: str, watch: list[str], proxy: RecordingProxy, workdir: Path
) -> ChartIdentity:
    docs = install_operator_rbac(cluster, release_ns, watch)
    account = next(d for d in docs if d["kind"] == "ServiceAccount")["metadata"]["name"]
    role = next(d for d in docs if d["kind"] in ("Role", "ClusterRole"))
    sets = [f"watchNamespaces={{{','.join(watch)}}}"] if watch else []
    deployment = yaml.safe_load(render_text(namespace=release_ns, sets=sets, show_only=DEPLOYMENT_TEMPLATE))
    kubeconfig = workdir / "operator-kubeconfig"
    assert cluster.ca_file is not None
    write_kubeconfig(kubeconfig, proxy.url, cluster.ca_file, request_token(cluster, release_ns, account))
    return ChartIdentity(
        release_ns,
        account,
        role["kind"],
        role["metadata"].get("namespace", ""),
        role["rules"],
        kubeconfig,
        deployment,
    )


def start_operator(stage: Stage, identity: ChartIdentity) -> OperatorProcess:
    """The operator as the chart's Deployment runs it: its command and its namespace scope."""
    command = identity.deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[0] == "openclaw-operator"
    watch = container_env(identity.deployment)["CLAWHOST_WATCH_NAMESPACES"]
    env = stage.operator_env(KUBECONFIG=str(identity.kubeconfig), CLAWHOST_WATCH_NAMESPACES=watch)
    log_path = stage.workdir / "operator.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(OPERATOR), *command[1:]], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=stage.workdir
        )
    process = OperatorProcess(
        proc, log_path, int(env["CLAWHOST_METRICS_PORT"]), int(env["CLAWHOST_HEALTH_PORT"])
    )
    stage.operators.append(process)
    return process


def full_lifecycle(stage: Stage) -> None:
    """Create -> Ready -> suspend -> resume -> reboot -> delete, with nothing left at the providers."""
    stage.create_instance("alice")
    stage.wait_ready("alice")
    stage.patch_spec("alice", suspended=True)
    stage.wait_for(
        "alice", lambda b: (b.get("status") or {}).get("phase") == "Suspended", what="alice Suspended"
    )
    stage.patch_spec("alice", suspended=False)
    stage.wait_ready("alice")
    asked = stage.request_day2("alice", "reboot")
    stage.wait_for(
        "alice", lambda b: (b.get("status") or {}).get("lastHandledRebootAt") == asked, what="reboot"
    )
    stage.delete("alice")
    stage.wait_gone("alice")
    assert stage.servers() == [] and stage.records() == []
    reasons = {event.get("reason") for event in stage.events()}
    assert len(reasons) > 1, "the operator posted no Events (they are part of what RBAC must allow)"


# --- what the record proves -----------------------------------------------------------------------------
def rule_triples(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (g, r, v)
        for rule in rules
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def call_triple(call: ApiCall) -> tuple[str, str, str]:
    resource = f"{call.resource}/{call.subresource}" if call.subresource else call.resource
    return call.group, resource, call.verb


def distinct_requests(calls: list[ApiCall]) -> list[ApiCall]:
    seen: dict[tuple[str, ...], ApiCall] = {}
    for call in calls:
        seen.setdefault((*call_triple(call), call.namespace), call)
    return list(seen.values())


def access_review(cluster: ClusterAccess, namespace: str, account: str, call: ApiCall) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{namespace}:{account}",
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ],
            "resourceAttributes": {k: v for k, v in call.attributes.items() if v},
        },
    }
    response = cluster.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", json=review)
    assert response.status_code == 201, response.text
    allowed: bool = response.json()["status"].get("allowed", False)
    return allowed


def grant_probe(cluster: ClusterAccess, identity: ChartIdentity, rules: list[dict[str, Any]]) -> None:
    """The probe subject holds exactly `rules`, in the same kind of role as the operator."""
    scoped = {"namespace": identity.role_namespace} if identity.role_namespace else {}
    binding_kind = "RoleBinding" if identity.role_kind == "Role" else "ClusterRoleBinding"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": identity.role_kind,
            "metadata": {"name": PROBE, **scoped}, "rules": rules}  # fmt: skip
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": binding_kind,
        "metadata": {"name": PROBE, **scoped},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": identity.role_kind, "name": PROBE},
        "subjects": [{"kind": "ServiceAccount", "name": PROBE, "namespace": identity.namespace}],
    }
    text = yaml.safe_dump_all([role, binding])
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=text)


def denied_without(
    cluster: ClusterAccess, identity: ChartIdentity, rules: list[dict[str, Any]], requests: list[ApiCall]
) -> list[ApiCall]:
    """Which of `requests` the real authorizer denies to a subject holding only `rules` (polled, because
    the authorizer learns about role changes through a watch)."""
    grant_probe(cluster, identity, rules)
    deadline = time.monotonic() + 10
    denied: list[ApiCall] = []
    while time.monotonic() < deadline:
        denied = [r for r in requests if not access_review(cluster, identity.namespace, PROBE, r)]
        if denied:
            return denied
        time.sleep(0.3)
    return denied


def assert_rbac_is_exact(cluster: ClusterAccess, identity: ChartIdentity, calls: list[ApiCall]) -> None:
    refused = [c for c in calls if c.status in (401, 403)]
    assert not refused, (
        f"the apiserver refused the operator: {sorted({call_triple(c) for c in refused})}. Kopf's "
        "namespace/CRD scanning needs cluster-wide list/watch the chart deliberately does not grant; the "
        "operator must run with settings.scanning.disabled = True (handlers.configure_settings)."
    )
    used = {call_triple(c) for c in calls}
    unused = rule_triples(identity.rules) - used
    assert not unused, f"the chart grants permissions the operator never used: {sorted(unused)}"
    requests = distinct_requests([c for c in calls if c.status not in (401, 403)])
    # The method works: with every rule, the authorizer allows every request the operator sent...
    grant_probe(cluster, identity, identity.rules)
    deadline = time.monotonic() + 10
    while [r for r in requests if not access_review(cluster, identity.namespace, PROBE, r)]:
        assert time.monotonic() < deadline, "the probe holding all rules is still denied"
        time.sleep(0.3)
    # ...and without any one rule, some request the operator sent is denied.
    for index, rule in enumerate(identity.rules):
        remaining = identity.rules[:index] + identity.rules[index + 1 :]
        denied = denied_without(cluster, identity, remaining, requests)
        assert denied, f"rule {rule} is not needed by any request the operator sent"


# --- the two RBAC modes ----------------------------------------------------------------------------------
@pytest.fixture
def proxied(stage: Stage) -> Iterator[RecordingProxy]:
    with RecordingProxy(stage.cluster.server, stage.cluster.ca_file or Path()) as proxy:
        yield proxy


def test_lifecycle_with_namespaced_chart_rbac(stage: Stage, proxied: RecordingProxy) -> None:
    """watchNamespaces set: one Role in the watched namespace, nothing cluster-wide."""
    cluster = stage.cluster
    release_ns = f"operator-{secrets.token_hex(3)}"
    assert cluster.request("POST", "/api/v1/namespaces", json={"metadata": {"name": release_ns}}).ok
    try:
        identity = chart_identity(cluster, release_ns, [stage.namespace], proxied, stage.workdir)
        assert identity.role_kind == "Role"
        start_operator(stage, identity)
        full_lifecycle(stage)
        stage.stop_operators()
        assert_rbac_is_exact(cluster, identity, proxied.calls)
    finally:
        cluster.request("DELETE", f"/api/v1/namespaces/{release_ns}")


@pytest.fixture
def own_cluster_stage(stage: Stage, tmp_path: Path) -> Iterator[Stage]:
    """The cluster-wide operator gets a control plane of its own, so it cannot adopt instances that other
    tests leave in the shared one."""
    plane = ControlPlane(tmp_path / "controlplane", controller_manager=False)
    access = plane.start()
    try:
        install_crd(access)
        namespace = f"customers-{secrets.token_hex(3)}"
        assert access.request("POST", "/api/v1/namespaces", json={"metadata": {"name": namespace}}).ok
        stage.cluster, stage.namespace = access, namespace
        yield stage
    finally:
        stage.stop_operators()
        plane.stop()


def test_lifecycle_with_cluster_wide_chart_rbac(own_cluster_stage: Stage) -> None:
    """The default: a ClusterRole, the operator watching all namespaces (-A)."""
    stage = own_cluster_stage
    cluster = stage.cluster
    release_ns = "openclaw-system"
    assert cluster.request("POST", "/api/v1/namespaces", json={"metadata": {"name": release_ns}}).ok
    with RecordingProxy(cluster.server, cluster.ca_file or Path()) as proxy:
        identity = chart_identity(cluster, release_ns, [], proxy, stage.workdir)
        assert identity.role_kind == "ClusterRole"
        start_operator(stage, identity)
        full_lifecycle(stage)
        stage.stop_operators()
    assert any(
        c.namespace == "" and c.resource == "openclawinstances" and c.verb == "watch" for c in proxy.calls
    ), "the operator did not watch cluster-wide"
    assert_rbac_is_exact(cluster, identity, proxy.calls)


def test_env_has_no_ambient_credentials() -> None:
    """The operator under test must not fall back to credentials other than the chart's token."""
    assert not Path("/var/run/secrets/kubernetes.io/serviceaccount/token").exists()
    assert "KUBERNETES_SERVICE_HOST" not in os.environ

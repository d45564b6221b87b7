"""Kubernetes access for the WHMCS module in tests: its Role, and tokens like `kubectl create token`."""

from __future__ import annotations

from typing import Any

from clawhost_sandbox.controlplane import ClusterAccess

from tests.whmcs.phpunit_runner import MODULE_DIR

ROLE_MANIFEST = MODULE_DIR / "rbac" / "whmcs-role.yaml"
WHMCS_ACCOUNT = "whmcs-openclaw"


def apply_whmcs_role(cluster: ClusterAccess, namespace: str) -> None:
    manifest = ROLE_MANIFEST.read_text().replace("__NAMESPACE__", namespace)
    cluster.kubectl("apply", "-f", "-", input=manifest)


def service_account_token(cluster: ClusterAccess, namespace: str, account: str = WHMCS_ACCOUNT) -> str:
    """A short-lived token from the TokenRequest API."""
    response = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        json={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
    )
    assert response.status_code == 201, response.text
    token: str = response.json()["status"]["token"]
    return token


def bind_role(
    cluster: ClusterAccess, namespace: str, name: str, account: str, rules: list[dict[str, Any]]
) -> None:
    """A Role with these rules, bound to a ServiceAccount of the namespace."""
    rbac = f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}"
    binding = {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }
    role = {"metadata": {"name": name}, "rules": rules}
    for path, body in [(f"{rbac}/roles", role), (f"{rbac}/rolebindings", binding)]:
        response = cluster.request("POST", path, json=body)
        assert response.status_code == 201, response.text


def whmcs_server(cluster: ClusterAccess, namespace: str) -> dict[str, Any]:
    """The WHMCS server record of a namespace, as module `$params`: the role applied, a token for it."""
    apply_whmcs_role(cluster, namespace)
    assert cluster.ca_file is not None, "the module needs the apiserver CA"
    return {
        "serverhostname": cluster.server,
        "serverusername": namespace,
        "serverpassword": service_account_token(cluster, namespace),
        "serveraccesshash": cluster.ca_file.read_text(),
    }


def ordered_service(server: dict[str, Any], service_id: int, zone: str, **extra: Any) -> dict[str, Any]:
    """`$params` of a freshly ordered service on that server (cx23 in fsn1, host name under `zone`)."""
    return {
        **server,
        "serviceid": str(service_id),
        "userid": "7",
        "serverid": "1",
        "domain": "",
        "password": "",
        "configoption1": "cx23",
        "configoption2": "fsn1",
        "configoption3": "ubuntu-24.04",
        "configoption4": zone,
        **extra,
    }

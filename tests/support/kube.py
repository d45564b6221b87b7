"""The test cluster through the official `kubernetes` client, as the operator reaches it (kube.py).

`Kube(access)` is built from the cluster's kubeconfig; its methods are the few calls the suites make
about OpenClawInstances, Secrets, Events and namespaces. A missing object is None, not an exception.
Tests that examine the apiserver's raw HTTP answers (CRD validation messages, RBAC as a given token)
still use `ClusterAccess.request`; kubectl subprocesses stay as they are.
"""

from __future__ import annotations

from typing import Any

from clawhost_sandbox.controlplane import ClusterAccess
from kubernetes.client import ApiClient, ApiException, CoreV1Api, CustomObjectsApi, V1Namespace, V1ObjectMeta
from kubernetes.config import new_client_from_config

from openclaw_operator.api import GROUP, PLURAL, VERSION

MERGE_PATCH = "application/merge-patch+json"
CRD = (GROUP, VERSION)


def instances_path(namespace: str, name: str = "") -> str:
    """The REST path, for the tests that look at raw HTTP answers."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{path}/{name}" if name else path


class Kube:
    def __init__(self, access: ClusterAccess) -> None:
        self.client: ApiClient = new_client_from_config(config_file=str(access.kubeconfig))
        self.core = CoreV1Api(self.client)
        self.custom = CustomObjectsApi(self.client)

    # --- OpenClawInstances -----------------------------------------------------------------------
    def create_instance(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return _dict(self.custom.create_namespaced_custom_object(*CRD, namespace, PLURAL, body))

    def instance(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _dict(self.custom.get_namespaced_custom_object(*CRD, namespace, PLURAL, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def instances(self, namespace: str) -> list[dict[str, Any]]:
        listing = _dict(self.custom.list_namespaced_custom_object(*CRD, namespace, PLURAL))
        items: list[dict[str, Any]] = listing.get("items", [])
        return items

    def patch_instance(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch (None deletes a field)."""
        patched = self.custom.patch_namespaced_custom_object(
            *CRD, namespace, PLURAL, name, body, _content_type=MERGE_PATCH
        )
        return _dict(patched)

    def patch_instance_status(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        patched = self.custom.patch_namespaced_custom_object_status(
            *CRD, namespace, PLURAL, name, body, _content_type=MERGE_PATCH
        )
        return _dict(patched)

    def delete_instance(self, namespace: str, name: str) -> bool:
        """True when the API accepted the delete, False when there was nothing to delete."""
        try:
            self.custom.delete_namespaced_custom_object(*CRD, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # --- the rest ------------------------------------------------------------------------------------
    def create_secret(self, namespace: str, body: dict[str, Any]) -> None:
        self.core.create_namespaced_secret(namespace, body)

    def delete_secret(self, namespace: str, name: str) -> None:
        try:
            self.core.delete_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def events(self, namespace: str) -> list[dict[str, Any]]:
        listing = self.core.list_namespaced_event(namespace)
        return [self.client.sanitize_for_serialization(event) for event in listing.items]

    def create_namespace(self, name: str) -> None:
        self.core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))

    def delete_namespace(self, name: str) -> None:
        self.core.delete_namespace(name)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def _dict(value: object) -> dict[str, Any]:
    assert isinstance(value, dict), type(value)
    return value

"""The Kubernetes side of a scenario: namespaces, the gateway-token Secret, and OpenClawInstances in bulk.

Thousands of objects go through a small pool of keep-alive sessions (one per thread): a fresh TLS
connection per request would make seeding 5,000 instances take minutes instead of seconds.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator.api import GROUP, PLURAL, VERSION, ConditionType

T = TypeVar("T")
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def instances_path(namespace: str, name: str = "") -> str:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{path}/{name}" if name else path


class Cluster:
    def __init__(self, access: ClusterAccess, threads: int = 8) -> None:
        self.access = access
        self.threads = threads
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self.access.session()
        return session

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        session = self._session()
        response = session.request(
            method, self.access.server + path, json=body, headers=headers, timeout=60, verify=session.verify
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    def each(self, fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(fn, items))

    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        self.call("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        return name

    def secret(self, namespace: str, name: str, key: str = "token") -> None:
        value = base64.b64encode(secrets.token_hex(24).encode()).decode()
        body = {"metadata": {"name": name}, "type": "Opaque", "data": {key: value}}
        self.call("POST", f"/api/v1/namespaces/{namespace}/secrets", body)

    def create_instances(self, namespace: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.each(lambda body: self.call("POST", instances_path(namespace), body), bodies)

    def patch_statuses(self, namespace: str, statuses: dict[str, dict[str, Any]]) -> None:
        def patch(item: tuple[str, dict[str, Any]]) -> None:
            name, status = item
            self.call("PATCH", instances_path(namespace, name) + "/status", {"status": status}, MERGE_PATCH)

        self.each(patch, statuses.items())

    def instances(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.call("GET", instances_path(namespace))["items"]
        return items


def is_ready(instance: dict[str, Any]) -> bool:
    conditions = (instance.get("status") or {}).get("conditions") or []
    return any(c.get("type") == ConditionType.READY and c.get("status") == "True" for c in conditions)

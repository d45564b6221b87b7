"""The Kubernetes side of a scenario: namespaces, the gateway-token Secret, and OpenClawInstances in bulk.

Thousands of objects go through the official client (tests/support/kube.py) from a few threads at once;
its urllib3 pool keeps the TLS connections alive, so seeding 5,000 instances takes seconds, not minutes.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator.api import ConditionType
from tests.support.kube import Kube

T = TypeVar("T")


class Cluster:
    def __init__(self, access: ClusterAccess, threads: int = 8) -> None:
        self.access = access
        self.threads = threads
        self.kube = Kube(access)

    def each(self, fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(fn, items))

    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{secrets.token_hex(3)}"
        self.kube.create_namespace(name)
        return name

    def secret(self, namespace: str, name: str, key: str = "token") -> None:
        value = base64.b64encode(secrets.token_hex(24).encode()).decode()
        self.kube.create_secret(
            namespace, {"metadata": {"name": name}, "type": "Opaque", "data": {key: value}}
        )

    def create_instances(self, namespace: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.each(lambda body: self.kube.create_instance(namespace, body), bodies)

    def patch_statuses(self, namespace: str, statuses: dict[str, dict[str, Any]]) -> None:
        def patch(item: tuple[str, dict[str, Any]]) -> None:
            name, status = item
            self.kube.patch_instance_status(namespace, name, {"status": status})

        self.each(patch, statuses.items())

    def patch_instances(self, namespace: str, patches: dict[str, dict[str, Any]]) -> None:
        def patch(item: tuple[str, dict[str, Any]]) -> None:
            name, body = item
            self.kube.patch_instance(namespace, name, body)

        self.each(patch, patches.items())

    def instances(self, namespace: str) -> list[dict[str, Any]]:
        return self.kube.instances(namespace)


def is_ready(instance: dict[str, Any]) -> bool:
    conditions = (instance.get("status") or {}).get("conditions") or []
    return any(c.get("type") == ConditionType.READY and c.get("status") == "True" for c in conditions)


def note_ready(cluster: Cluster, namespace: str, ready_at: dict[str, float], now: float) -> int:
    """Record in `ready_at` (uid -> instant) each instance first seen Ready; returns how many are."""
    for item in cluster.instances(namespace):
        if is_ready(item):
            ready_at.setdefault(item["metadata"]["uid"], now)
    return len(ready_at)

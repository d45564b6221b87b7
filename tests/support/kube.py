"""Small helpers for tests that talk to the Kubernetes API directly."""

from __future__ import annotations

from openclaw_operator.api import GROUP, PLURAL, VERSION


def instances_path(namespace: str, name: str = "") -> str:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{path}/{name}" if name else path

"""OpenClawInstance values for tests that call one operator part directly (no apiserver)."""

from __future__ import annotations

from openclaw_operator import api


def instance_with_infrastructure_ready(
    name: str = "a", uid: str = "u1", hostname: str = "a.example.com"
) -> api.OpenClawInstance:
    """An instance whose server and DNS are Ready: the state in which the app's health is checked."""
    ready = [
        {
            "type": kind,
            "status": "True",
            "reason": "R",
            "message": "m",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }
        for kind in ("ServerReady", "DNSReady")
    ]
    return api.OpenClawInstance.from_body(
        {
            "metadata": {"name": name, "namespace": "ns", "uid": uid},
            "spec": {"hostname": hostname, "gatewayTokenSecretRef": {"name": "t"}},
            "status": {"conditions": ready},
        }
    )

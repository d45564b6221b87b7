"""Kopf's seams: module-level handlers with explicit ids in one registry, the Runtime shared as Kopf's memo,
and no import of the runner from the handlers (the cycle the closures used to need)."""

from __future__ import annotations

import copy
import subprocess
import sys

from openclaw_operator import handlers
from openclaw_operator.config import load_config
from openclaw_operator.runtime import Runtime

ENV = {"HCLOUD_TOKEN": "h", "CLOUDFLARE_API_TOKEN": "c", "CLAWHOST_MANAGED_ZONES": "example.com"}


def registered_ids() -> dict[str, set[str]]:
    registry = handlers.REGISTRY
    found: dict[str, set[str]] = {}
    for name in ("_activities", "_changing", "_spawning", "_watching"):
        for handler in getattr(registry, name).get_all_handlers():
            found.setdefault(name, set()).add(handler.id)
    return found


def test_every_handler_has_its_explicit_id() -> None:
    assert registered_ids() == {
        "_activities": {"startup", "login", "cleanup"},
        "_changing": {handlers.RECONCILE, handlers.FINALIZE},
        "_spawning": {handlers.DRIFT},
        "_watching": {handlers.GONE},
    }


async def test_the_runtime_is_its_own_copy_so_every_resource_shares_it() -> None:
    runtime = Runtime(load_config(ENV))
    try:
        assert copy.copy(runtime) is runtime  # Kopf copies the memo once per resource
        assert runtime.sweep is None  # no CLAWHOST_CLUSTER_ID: no sweep
        with_sweep = Runtime(load_config({**ENV, "CLAWHOST_CLUSTER_ID": "prod-1"}), ("ns",))
        assert with_sweep.sweep is not None
        heard: list[str] = []  # after each listing: the firewall's plan, then the sweep
        for runtime_, hooks in ((runtime, ("firewall",)), (with_sweep, ("firewall", "sweep"))):
            for hook in hooks:
                getattr(runtime_, hook).after_listing = lambda h=hook: heard.append(h)
            runtime_.observer.on_listed()
        assert heard == ["firewall", "firewall", "sweep"]
        await with_sweep.stop()
    finally:
        await runtime.stop()


def test_importing_the_handlers_does_not_import_the_runner() -> None:
    code = "import sys, openclaw_operator.handlers; print('openclaw_operator.runner' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"

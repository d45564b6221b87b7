"""Where the operator's memory goes: `python -m bench.memprobe REPORT.json run --namespace ...` runs the
real `openclaw-operator` in this process and, on SIGUSR1, writes a breakdown of what it holds to REPORT.json.

Two rulers, because neither alone names the owner of a byte:
- **structures** (`sys.getsizeof` summed over everything reachable from a root, each object counted once,
  for the first root that reaches it): Kopf's per-object memories (its last-seen body per instance, the
  timer tasks and their frames), our observers' snapshots, the pass schedule, the reconciler's per-instance
  memory; plus counts of the objects that would show a per-instance copy (pydantic models, SDK objects).
- **allocations** (tracemalloc, only when BENCH_TRACEMALLOC=1: it slows the process and adds its own
  overhead, so RSS figures come from runs without it): live bytes by the package that allocated them.

The RSS figures themselves (the kernel's VmRSS/VmHWM) are read from outside by bench/processes.py.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import tracemalloc
import types
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Objects a walk never enters: code and classes are the program, not its data, and the event loop and the
# runtime's clients are shared by everything (they are walked once, as the roots they are).
_STOP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType,
         types.MethodType, types.MethodWrapperType, types.WrapperDescriptorType)  # fmt: skip
PACKAGES = ("kopf", "aiohttp", "pydantic", "openclaw_operator", "hcloud", "cloudflare", "httpx", "json",
            "asyncio", "yaml", "requests", "urllib3", "prometheus_client", "ssl", "kubernetes")  # fmt: skip
COUNTED = {
    "kopf Body (live body per timer)": "kopf._cogs.structs.bodies.Body",
    "pydantic OpenClawInstance": "openclaw_operator.api.OpenClawInstance",
    "pydantic InstanceStatus": "openclaw_operator.api.InstanceStatus",
    "ServerObservation": "openclaw_operator.reconcile.model.ServerObservation",
    "RecordObservation": "openclaw_operator.reconcile.model.RecordObservation",
    "hcloud BoundServer": "hcloud.servers.client.BoundServer",
    "asyncio Task": "_asyncio.Task",
}


def deep_size(roots: Iterable[Any], seen: set[int]) -> tuple[int, int]:
    """Bytes and object count reachable from `roots` that no earlier walk (`seen`) claimed."""
    total = count = 0
    stack = [root for root in roots if id(root) not in seen]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _STOP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        count += 1
        stack.extend(ref for ref in gc.get_referents(obj) if id(ref) not in seen)
    return total, count


def _qualname(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def structures() -> dict[str, Any]:
    """Deep sizes of the operator's and Kopf's per-instance state, each byte counted once."""
    from kopf._core.reactor.inventory import ResourceMemories

    from openclaw_operator.runtime import Runtime

    everything = gc.get_objects()
    runtime = next(o for o in everything if isinstance(o, Runtime))
    memories = [o for o in everything if isinstance(o, ResourceMemories)]
    loop = asyncio.get_event_loop_policy().get_event_loop()
    # The shared machinery is claimed first and not reported: walks must not wander into it.
    seen: set[int] = {id(loop), id(runtime), id(runtime.config), id(runtime.cloudflare), id(runtime.kube)}
    seen |= {id(project.provider) for project in runtime.projects}
    roots: dict[str, list[Any]] = {
        "observer snapshots (servers, records, views)": [p.observer for p in runtime.projects],
        "pass schedule": [runtime.schedule],
        "reconciler per-instance memory": [runtime.reconciler.book],
        "kopf per-object memories (live bodies, timers)": memories,
        "asyncio tasks not reached above": list(asyncio.all_tasks(loop)),
    }
    found: dict[str, Any] = {}
    for name, objs in roots.items():
        size, count = deep_size(objs, seen)
        found[name] = {"mb": round(size / 2**20, 2), "objects": count}
    counts = Counter(_qualname(o) for o in everything)
    found["counts"] = {label: counts.get(qualname, 0) for label, qualname in COUNTED.items()}
    return found


def allocations(limit: int = 25) -> dict[str, Any]:
    """Live bytes tracemalloc attributes to each package (by the innermost frame's file)."""
    snapshot = tracemalloc.take_snapshot()
    by_package: Counter[str] = Counter()
    by_file: Counter[str] = Counter()
    for stat in snapshot.statistics("filename"):
        path = stat.traceback[0].filename
        package = next((p for p in PACKAGES if f"/{p}/" in path or path.endswith(f"/{p}.py")), "other")
        by_package[package] += stat.size
        by_file[path.split("site-packages/")[-1].split("/src/")[-1]] += stat.size
    return {
        "total_mb": round(sum(by_package.values()) / 2**20, 1),
        "by_package_mb": {k: round(v / 2**20, 1) for k, v in by_package.most_common()},
        "top_files_mb": {k: round(v / 2**20, 2) for k, v in by_file.most_common(limit)},
    }


def report(path: Path) -> None:
    found: dict[str, Any] = {"structures": structures()}
    if tracemalloc.is_tracing():
        found["allocations"] = allocations()
    path.write_text(json.dumps(found, indent=2) + "\n")


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    if os.environ.get("BENCH_TRACEMALLOC") == "1":
        tracemalloc.start(1)
    # The handler runs in the main thread, which is the event loop's: the loop is paused while it walks.
    signal.signal(signal.SIGUSR1, lambda *_: report(out))
    from openclaw_operator.cli import main as operator_main

    return operator_main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

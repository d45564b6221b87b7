"""Driving a fleet through the operator: kill it, notice it working again, and wait until every instance
has settled (Ready for its current generation, or gone), with one LIST per poll however many there are."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterable
from typing import Any

from tests.operator.integration.harness import OperatorProcess, Stage, condition

Check = Callable[[dict[str, Any]], bool]


def ready_now(body: dict[str, Any]) -> bool:
    """Ready, and for the generation the spec is at now (not a Ready left over from before a change)."""
    status = body.get("status") or {}
    return (
        condition(body, "Ready") == "True"
        and status.get("observedGeneration") == body["metadata"]["generation"]
    )


def sigkill(stage: Stage, process: OperatorProcess) -> int:
    """SIGKILL one operator process; it leaves the stage's list (whose checks expect live operators)."""
    process.proc.send_signal(signal.SIGKILL)
    code = process.proc.wait(timeout=30)
    stage.operators.remove(process)
    return code


def log_marks(stage: Stage) -> tuple[int, int]:
    """Where both providers' request logs end now (for `Stage.requests_since`)."""
    return len(stage.hetzner.request_log), len(stage.cloudflare.request_log)


def writes_since(stage: Stage, marks: tuple[int, int]) -> int:
    return sum(1 for _, method, _, _ in stage.requests_since(*marks) if method != "GET")


def wait_until_talking(
    stage: Stage, process: OperatorProcess, marks: tuple[int, int], writing: bool = False, timeout: float = 60
) -> None:
    """Until the operator sent a provider request after `marks` (it started and began observing), or
    with `writing`, a request that changes something."""

    def heard() -> bool:
        return writes_since(stage, marks) > 0 if writing else bool(stage.requests_since(*marks))

    deadline = time.monotonic() + timeout
    while not heard():
        if not process.alive():
            raise AssertionError(f"operator exited with {process.proc.returncode}:\n{process.logs()[-4000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"operator sent nothing in {timeout}s:\n{process.logs()[-4000:]}")
        time.sleep(0.05)


def listing(stage: Stage) -> dict[str, dict[str, Any]]:
    return {item["metadata"]["name"]: item for item in stage.kube.instances(stage.namespace)}


def converge(
    stage: Stage,
    live: Iterable[str],
    gone: Iterable[str] = (),
    timeout: float = 120,
    check: Check = ready_now,
) -> dict[str, dict[str, Any]]:
    """Wait until every `live` instance passes `check` and every `gone` one no longer exists; returns the
    bodies of the live ones. Any operator the stage holds must stay alive meanwhile."""
    live, gone = sorted(set(live)), set(gone)
    deadline = time.monotonic() + timeout
    while True:
        items = listing(stage)
        waiting = [name for name in live if name not in items or not check(items[name])]
        lingering = sorted(gone & set(items))
        if not waiting and not lingering:
            return {name: items[name] for name in live}
        for process in stage.operators:
            assert process.alive(), f"operator exited ({process.proc.returncode}):\n{process.logs()[-6000:]}"
        if time.monotonic() > deadline:
            statuses = {name: (items.get(name) or {}).get("status") for name in [*waiting, *lingering][:5]}
            raise AssertionError(
                f"not settled after {timeout}s: waiting for {waiting}, still there: {lingering}\n"
                f"{json.dumps(statuses, indent=1, default=str)[:6000]}\nlogs:\n{stage.all_logs()[-6000:]}"
            )
        time.sleep(0.4)

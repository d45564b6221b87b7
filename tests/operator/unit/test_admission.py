"""Passes are admitted in bounded numbers before they parse their body (admission.py), and deletions have
slots of their own that a requeueing finalizer leaves before Kopf sleeps its delay.

The handlers run for real on a real Runtime; only the reconciler's pass is replaced by one that blocks
until the test lets it go, so the test can count what is under way at once (no provider is reachable
here: the pass itself is covered against the simulators in tests/operator/integration)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import kopf
import pytest

from openclaw_operator import api, handlers
from openclaw_operator.admission import PASSES_PER_THREAD
from openclaw_operator.config import load_config
from openclaw_operator.reconciler import PassResult
from openclaw_operator.runtime import Runtime

ENV = {
    "HCLOUD_TOKEN": "h",
    "CLOUDFLARE_API_TOKEN": "c",
    "CLAWHOST_MANAGED_ZONES": "example.com",
    "CLAWHOST_CONCURRENCY": "2",
}


def body(index: int) -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": api.API_VERSION,
            "kind": api.KIND,
            "metadata": {
                "name": f"claw-{index}",
                "namespace": "ns",
                "uid": f"uid-{index}",
                "finalizers": [api.FINALIZER],
            },
            "spec": {"hostname": f"claw-{index}.example.com", "gatewayTokenSecretRef": {"name": "gw"}},
        }
    )


class Gate:
    """Stands in for the providers: every pass or deletion waits here until released."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.in_flight = 0
        self.most = 0

    async def through(self, result: PassResult) -> PassResult:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await self.open.wait()
        finally:
            self.in_flight -= 1
        return result


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    runtime = Runtime(load_config(ENV))
    yield runtime
    await runtime.stop()


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the bodies parsed into models so far."""
    seen: list[str] = []
    real = api.OpenClawInstance.from_body.__func__  # type: ignore[attr-defined]

    def counting(cls: type[api.OpenClawInstance], raw: Any) -> api.OpenClawInstance:
        seen.append(raw["metadata"]["name"])
        return real(cls, raw)  # type: ignore[no-any-return]

    monkeypatch.setattr(api.OpenClawInstance, "from_body", classmethod(counting))
    return seen


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_start_up_parses_only_as_many_bodies_as_there_are_pass_slots(
    runtime: Runtime, parsed: list[str]
) -> None:
    gate = Gate()

    async def reconcile(instance: api.OpenClawInstance, *_: Any) -> PassResult:
        return await gate.through(PassResult(instance.status, None))

    runtime.reconciler.reconcile = reconcile  # type: ignore[method-assign]
    slots = runtime.admission.pass_slots
    assert slots == PASSES_PER_THREAD * 2  # CLAWHOST_CONCURRENCY=2, one project
    starting = (handlers.run_pass(runtime, body(i), kopf.Patch(), "change") for i in range(50))
    passes = [asyncio.create_task(run) for run in starting]
    await settle()
    assert gate.most == slots
    assert len(parsed) == slots  # the other 46 still hold only Kopf's body
    gate.open.set()
    await asyncio.wait_for(asyncio.gather(*passes), 5)
    assert len(parsed) == 50


async def test_deletions_holding_every_slot_hold_back_no_pass(runtime: Runtime) -> None:
    deleting, passing = Gate(), Gate()
    passing.open.set()

    async def finalize(instance: api.OpenClawInstance) -> PassResult:
        return await deleting.through(PassResult(instance.status, None, done=True))

    async def reconcile(instance: api.OpenClawInstance, *_: Any) -> PassResult:
        return await passing.through(PassResult(instance.status, None))

    runtime.reconciler.finalize = finalize  # type: ignore[method-assign]
    runtime.reconciler.reconcile = reconcile  # type: ignore[method-assign]
    deletions = [
        asyncio.create_task(handlers.finalize(body=body(i), patch=kopf.Patch(), memo=runtime))
        for i in range(3 * runtime.admission.deletion_slots)
    ]
    await settle()
    assert deleting.most == runtime.admission.deletion_slots  # e.g. long final backups, all slots held
    await asyncio.wait_for(handlers.run_pass(runtime, body(99), kopf.Patch(), "change"), 2)
    assert passing.most == 1
    deleting.open.set()
    await asyncio.wait_for(asyncio.gather(*deletions), 5)


async def test_a_requeueing_deletion_leaves_its_slot_before_kopf_sleeps_the_delay(runtime: Runtime) -> None:
    async def finalize(instance: api.OpenClawInstance) -> PassResult:
        return PassResult(instance.status.model_copy(update={"message": "deleting"}), 30.0)

    runtime.reconciler.finalize = finalize  # type: ignore[method-assign]
    for i in range(3 * runtime.admission.deletion_slots):
        with pytest.raises(kopf.TemporaryError) as raised:
            await handlers.finalize(body=body(i), patch=kopf.Patch(), memo=runtime)
        assert raised.value.delay == 30.0  # Kopf sleeps this in the worker: outside our slot
    assert not runtime.admission.deletions.locked()

"""AppHealth: how often an app is checked while booting, once healthy and once broken; how many at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from openclaw_operator import api
from openclaw_operator.providers import app as app_module
from openclaw_operator.providers.app import BOOT_GRACE, MAX_BACKOFF, AppHealth, next_check_in
from openclaw_operator.reconcile.model import ServerObservation
from tests.support.http import serving
from tests.support.instances import instance_with_infrastructure_ready

FIRST, RESYNC = 2.0, 300.0


@pytest.mark.parametrize(
    ("healthy", "failures", "booting_for", "delay"),
    [
        (True, 0, None, RESYNC),
        (False, 1, 0.0, FIRST / 2),  # booting: twice per first_retry ...
        (False, 40, BOOT_GRACE - 1, FIRST / 2),  # ... however many checks it takes within the grace
        (False, 40, BOOT_GRACE, MAX_BACKOFF),  # then the doubling backoff, capped
        (False, 1, None, FIRST),  # an app that was healthy and broke: doubling from first_retry
        (False, 3, None, 4 * FIRST),
        (False, 30, None, MAX_BACKOFF),
    ],
)
def test_next_check_in(healthy: bool, failures: int, booting_for: float | None, delay: float) -> None:
    assert next_check_in(healthy, failures, FIRST, RESYNC, booting_for) == delay


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def instance(uid: str = "u1") -> api.OpenClawInstance:
    return instance_with_infrastructure_ready(uid=uid)


@pytest.fixture
async def app_server() -> AsyncIterator[tuple[str, dict[str, int]]]:
    state = {"status": 503, "in_flight": 0, "most": 0}

    async def health(_: web.Request) -> web.Response:
        state["in_flight"] += 1
        state["most"] = max(state["most"], state["in_flight"])
        await asyncio.sleep(0.02)
        state["in_flight"] -= 1
        return web.Response(status=state["status"])

    application = web.Application()
    application.router.add_get("/health/{server}", health)
    async with serving(application) as url:
        yield url + "/health/{server_id}", state


async def test_a_booting_app_is_checked_every_retry_until_it_answers(
    app_server: tuple[str, dict[str, int]],
) -> None:
    template, state = app_server
    clock = Clock()
    health = AppHealth(template, RESYNC, FIRST, clock)
    server = ServerObservation(1, "s", "running", "cx23")
    try:
        for _ in range(40):  # 40 s of boot: never a growing gap
            seen = await health.observe(instance(), server)
            assert seen is not None and not seen.healthy and seen.retry_in == FIRST / 2
            clock.now += FIRST / 2
        state["status"] = 200
        seen = await health.observe(instance(), server)
        assert seen is not None and seen.healthy
        state["status"] = 503  # broke after being healthy: no boot grace any more
        clock.now += RESYNC
        delays = []
        for _ in range(3):
            seen = await health.observe(instance(), server)
            assert seen is not None and seen.retry_in is not None
            delays.append(seen.retry_in)
            clock.now += seen.retry_in
        assert delays == [FIRST, 2 * FIRST, 4 * FIRST]
    finally:
        await health.close()


async def test_checks_run_at_most_parallel_probes_at_once(
    app_server: tuple[str, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    template, state = app_server
    monkeypatch.setattr(app_module, "PARALLEL_PROBES", 5)
    health = AppHealth(template, RESYNC, FIRST, Clock())
    try:
        servers = [ServerObservation(i, f"s{i}", "running", "cx23") for i in range(40)]
        await asyncio.gather(*(health.observe(instance(f"u{s.id}"), s) for s in servers))
        assert state["most"] == 5
    finally:
        await health.close()

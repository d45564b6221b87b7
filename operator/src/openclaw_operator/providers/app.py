"""The OpenClaw application on the server, seen from outside: CLAWHOST_APP_HEALTH_URL answers 2xx.

The default URL is the gateway's `/readyz` through the server's Caddy: OpenClaw documents it for traffic
admission and operator monitoring (startup complete, not draining, agent databases admitted, channel
accounts healthy), where `/healthz` only says the HTTP server is live. Unauthenticated and remote, it
answers only `ok` and `status`, so the probe needs no token and learns nothing private.

Checked only once the server runs and its DNS records are correct. A healthy app is looked at again
once per resync interval. An app that has not answered yet since its server started is looked at twice
per `first_retry` (the action poll interval) for BOOT_GRACE seconds: a booting app is what a new customer
waits for, and each check costs only a GET to their own server, no provider request, so Ready follows
the boot by about a second; after that, or once an app that was healthy fails, on a doubling backoff
capped at five minutes, so a broken app neither hot-loops the operator nor waits an interval to be
noticed as fixed. At most PARALLEL_PROBES checks run at once, so a restart with thousands of instances
neither exhausts the connection pool nor times healthy apps out while they wait for a connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from openclaw_operator import api
from openclaw_operator.api import ConditionType
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile.model import AppObservation, ServerObservation, ServerStatus

MAX_BACKOFF = 300.0
BOOT_GRACE = 600.0
BOOT_CHECKS_PER_RETRY = 2
TIMEOUT = 5.0
PARALLEL_PROBES = 50


@dataclass
class _Checked:
    seen: AppObservation
    next_at: float
    failures: int
    booting_since: float | None  # first failed check of an app never healthy since its server started


def health_url(template: str, instance: api.OpenClawInstance, server: ServerObservation) -> str:
    return template.format(hostname=instance.spec.hostname, ipv4=server.ipv4 or "", server_id=server.id)


def next_check_in(
    healthy: bool, failures: int, first: float, resync: float, booting_for: float | None
) -> float:
    """`booting_for`: seconds since the first failed check of an app not yet seen healthy, else None."""
    if healthy:
        return resync
    if booting_for is not None and booting_for < BOOT_GRACE:
        return first / BOOT_CHECKS_PER_RETRY
    return float(min(MAX_BACKOFF, first * 2 ** max(failures - 1, 0)))


class AppHealth:
    def __init__(
        self,
        template: str,
        resync: float,
        first_retry: float,
        clock: Callable[[], float] = time.monotonic,
        connector: Callable[[], aiohttp.BaseConnector] | None = None,
    ) -> None:
        """`connector` makes the probe's connection pool (default: aiohttp's, public DNS and CAs); tests
        and the sandbox pass one that resolves host names to their local servers and trusts their CA."""
        self.template = template
        self._connector = connector
        self.resync = resync
        self.first_retry = first_retry
        self._clock = clock
        self._checked: dict[str, _Checked] = {}
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(PARALLEL_PROBES)

    def forget(self, uid: str) -> None:
        self._checked.pop(uid, None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def observe(
        self, instance: api.OpenClawInstance, server: ServerObservation
    ) -> AppObservation | None:
        uid = instance.metadata.uid
        infrastructure_ready = cond.is_true(instance.status, ConditionType.SERVER_READY) and cond.is_true(
            instance.status, ConditionType.DNS_READY
        )
        if server.status != ServerStatus.RUNNING or not infrastructure_ready:
            self._checked.pop(uid, None)
            return None
        now = self._clock()
        checked = self._checked.get(uid)
        if checked is not None and now < checked.next_at:
            seen = checked.seen
            return AppObservation(seen.healthy, seen.message, None if seen.healthy else checked.next_at - now)
        async with self._slots:
            healthy, message = await self._probe(health_url(self.template, instance, server))
        now = self._clock()
        failures = 0 if healthy else (checked.failures if checked else 0) + 1
        booting_since = None if healthy else (checked.booting_since if checked is not None else now)
        booting_for = now - booting_since if booting_since is not None else None
        delay = next_check_in(healthy, failures, self.first_retry, self.resync, booting_for)
        seen = AppObservation(healthy, message, None if healthy else delay)
        self._checked[uid] = _Checked(seen, now + delay, failures, booting_since)
        return seen

    async def _probe(self, url: str) -> tuple[bool, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=self._connector() if self._connector is not None else None,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            )
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                if 200 <= response.status < 300:
                    return True, f"the gateway answers at {url}"
                return False, f"the gateway health check at {url} answered HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, f"the gateway health check at {url} failed: {type(exc).__name__}"

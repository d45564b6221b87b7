"""Everything a running operator holds, built once from the configuration and handed to Kopf as its memo.

Kopf gives every resource a shallow copy of the operator's memo (docs/memos.rst, "Custom memo classes");
`__copy__` returns the runtime itself, so every handler of every instance shares one set of clients,
one observer and one schedule.
"""

from __future__ import annotations

import asyncio

import kopf

from openclaw_operator.config import Config
from openclaw_operator.events import post_event
from openclaw_operator.kube import KubeClient, KubeUnavailable
from openclaw_operator.observe import Observer
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconciler import Reconciler
from openclaw_operator.schedule import PassSchedule
from openclaw_operator.sweep import OrphanSweep


class Runtime:
    """One limiter per credential, the clients, the observer, the schedule, the reconciler, the managed
    firewall (after each listing), the sweep.

    `namespaces` are the watched ones (empty: all); the orphan sweep judges only servers of those."""

    def __init__(self, config: Config, namespaces: tuple[str, ...] = ()) -> None:
        self.config = config
        timeout, concurrency = config.provider_timeout_seconds, config.concurrency
        self.hetzner = HetznerProvider(
            config.hcloud_token, config.hcloud_endpoint, RateLimiter("hetzner"), concurrency, timeout
        )
        self.cloudflare = CloudflareProvider(
            config.cloudflare_api_token,
            config.cloudflare_base_url,
            RateLimiter("cloudflare"),
            concurrency,
            timeout,
        )
        self.observer = Observer(
            self.hetzner,
            self.cloudflare,
            config.managed_zones,
            config.resync_interval_seconds,
            config.action_poll_seconds,
        )
        self.schedule = PassSchedule(config.resync_interval_seconds)
        self.observer.on_change = self.schedule.wake
        self.app_health = AppHealth(
            config.app_health_url, config.resync_interval_seconds, config.action_poll_seconds
        )
        self._kube: KubeClient | None = None
        self.reconciler = Reconciler(
            config,
            self.observer,
            self.hetzner,
            self.cloudflare,
            self.kube,
            post_event,
            self.app_health,
        )
        self.firewall = self.reconciler.actuator.firewall
        self.sweep: OrphanSweep | None = None
        if config.cluster_id is not None:  # without it, another cluster's servers would look orphaned
            self.sweep = OrphanSweep(
                self.observer,
                self.kube,
                self.reconciler.vanished,
                config.cluster_id,
                config.orphan_grace_seconds,
                namespaces,
            )
        self.observer.on_listed = self._after_listing
        self._stop = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def _after_listing(self) -> None:
        self.firewall.after_listing()
        if self.sweep is not None:
            self.sweep.after_listing()

    def __copy__(self) -> Runtime:
        return self  # Kopf copies the memo per resource; all of them share this one

    async def use_credentials(self, info: kopf.ConnectionInfo) -> None:
        previous, self._kube = self._kube, KubeClient(info)
        if previous is not None:  # a re-login: the old client's pool and files go
            await previous.close()

    def kube(self) -> KubeClient:
        if self._kube is None:
            raise KubeUnavailable("not logged in to Kubernetes yet")
        return self._kube

    async def start(self) -> None:
        self._loop = asyncio.create_task(self.observer.run(self._stop), name="observer")

    async def stop(self) -> None:
        self._stop.set()
        if self.sweep is not None:
            await self.sweep.close()
        await self.firewall.close()
        # Kopf may still run timers after its cleanup handlers: no pass starts from here on, and the
        # ones in flight finish before their HTTP sessions close under them.
        await self.reconciler.close(grace=self.config.provider_timeout_seconds)
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
        await self.cloudflare.close()
        self.hetzner.close()
        await self.app_health.close()
        if self._kube is not None:
            await self._kube.close()

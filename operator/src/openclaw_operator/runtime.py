"""Everything a running operator holds, built once from the configuration and handed to Kopf as its memo.

Kopf gives every resource a shallow copy of the operator's memo (docs/memos.rst, "Custom memo classes");
`__copy__` returns the runtime itself, so every handler of every instance shares one set of clients,
one observer and one schedule.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

import kopf

from openclaw_operator import api
from openclaw_operator.admission import Admission
from openclaw_operator.backups import Bucket, BucketSweep
from openclaw_operator.config import Config
from openclaw_operator.events import post_event
from openclaw_operator.kopf_session import connection_limit
from openclaw_operator.kube import KubeClient, KubeUnavailable
from openclaw_operator.managed_firewall import ManagedFirewall
from openclaw_operator.observe import Observer
from openclaw_operator.projects import Project, ProjectPool, limiter_name
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconciler import Reconciler
from openclaw_operator.schedule import PassSchedule
from openclaw_operator.sweep import OrphanSweep
from openclaw_operator.warm_pool import WarmPool


class Runtime:
    """One limiter per credential, the clients, the observers, the schedule, the reconciler, and per
    project the managed firewall and the orphan sweep (both after each of that project's listings).

    Per Hetzner project (config.projects()) a provider with its own limiter and threads, and an observer
    listing that project's servers; the first observer also lists the Cloudflare zones. `namespaces` are
    the watched ones (empty: all); the orphan sweep judges only servers of those."""

    def __init__(
        self, config: Config, namespaces: tuple[str, ...] = (), bucket: Bucket | None = None
    ) -> None:
        self.config = config
        self.namespaces = namespaces
        timeout, concurrency = config.provider_timeout_seconds, config.concurrency
        self.cloudflare = CloudflareProvider(
            config.cloudflare_api_token,
            config.cloudflare_base_url,
            RateLimiter("cloudflare"),
            concurrency,
            timeout,
        )
        self.schedule = PassSchedule(config.resync_interval_seconds)
        projects = []
        for index, settings in enumerate(config.projects()):
            provider = HetznerProvider(
                settings.token,
                settings.endpoint or config.hcloud_endpoint,
                RateLimiter(limiter_name(settings.name)),
                settings.concurrency or concurrency,
                timeout,
            )
            observer = Observer(
                provider,
                self.cloudflare,
                config.managed_zones if index == 0 else (),  # records are listed once, by the first
                config.resync_interval_seconds,
                config.action_poll_seconds,
            )
            observer.on_change = self.schedule.wake
            projects.append(Project(settings, provider, observer))
        self.projects = ProjectPool(projects)
        # Passes share the providers' threads: as many at once as those keep busy (admission.py).
        self.admission = Admission(sum(p.settings.concurrency or concurrency for p in self.projects))
        self.hetzner, self.observer = self.projects.first.provider, self.projects.first.observer
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
            self.projects,
            bucket,
        )
        self.reconciler.fleet.on_wake = self.schedule.wake  # a freed update slot wakes who waits for it
        self.bucket = bucket
        self.bucket_sweep = (
            None
            if bucket is None
            else BucketSweep(
                bucket,
                self.kube,
                namespaces,
                timedelta(days=config.backup_final_retention_days),
                config.backup_sweep_interval_seconds,
                api.now,
            )
        )
        self.firewalls = self.reconciler.actuator.firewalls
        self.firewall = self.reconciler.actuator.firewall
        self.sweeps: list[OrphanSweep] = []
        for project in self.projects:
            sweep: OrphanSweep | None = None
            if config.cluster_id is not None:  # without it, another cluster's servers would look orphaned
                sweep = OrphanSweep(
                    project.observer,
                    self.kube,
                    functools.partial(self._vanished_in, project.name),
                    config.cluster_id,
                    config.orphan_grace_seconds,
                    namespaces,
                )
                self.sweeps.append(sweep)
            warm = self.reconciler.actuator.warm_pool
            project.observer.on_listed = functools.partial(
                self._after_listing,
                self.firewalls[project.name],
                sweep,
                warm if warm is not None and warm.project is project else None,
            )
        self.sweep = self.sweeps[0] if self.sweeps else None
        self._stop = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    def _vanished_in(self, project: str, instance: api.OpenClawInstance) -> None:
        """An orphan of `project`'s listing: its finalizer looks there (the instance's status is gone)."""
        self.reconciler.vanished(instance.model_copy(update={"status": api.InstanceStatus(project=project)}))

    @staticmethod
    def _after_listing(firewall: ManagedFirewall, sweep: OrphanSweep | None, warm: WarmPool | None) -> None:
        firewall.after_listing()
        if sweep is not None:
            sweep.after_listing()
        if warm is not None:
            warm.after_listing()

    def __copy__(self) -> Runtime:
        return self  # Kopf copies the memo per resource; all of them share this one

    async def use_credentials(self, info: kopf.ConnectionInfo) -> None:
        previous, self._kube = self._kube, KubeClient(info)
        if previous is not None:  # a re-login: the old client's pool and files go
            await previous.close()

    def kopf_connections(self) -> int:
        """The ceiling on Kopf's connections to the apiserver (kopf_session.py)."""
        return connection_limit(self.config.kube_connections, len(self.namespaces))

    def kube(self) -> KubeClient:
        if self._kube is None:
            raise KubeUnavailable("not logged in to Kubernetes yet")
        return self._kube

    async def start(self) -> None:
        self._loops = [
            asyncio.create_task(project.observer.run(self._stop), name=f"observer {project.name}")
            for project in self.projects
        ]
        if self.bucket_sweep is not None:
            self.bucket_sweep.start()

    async def stop(self) -> None:
        self._stop.set()
        if self.bucket_sweep is not None:
            await self.bucket_sweep.close()
        for sweep in self.sweeps:
            await sweep.close()
        for firewall in self.firewalls.values():
            await firewall.close()
        if self.reconciler.actuator.warm_pool is not None:
            await self.reconciler.actuator.warm_pool.close()
        # Kopf may still run timers after its cleanup handlers: no pass starts from here on, and the
        # ones in flight finish before their HTTP sessions close under them.
        await self.reconciler.close(grace=self.config.provider_timeout_seconds)
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.cloudflare.close()
        for project in self.projects:
            project.provider.close()
        await self.app_health.close()
        if self.bucket is not None:
            await self.bucket.close()
        if self._kube is not None:
            await self._kube.close()

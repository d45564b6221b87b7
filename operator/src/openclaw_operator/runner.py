"""`openclaw-operator run`: validate the configuration, wire the parts, and run Kopf in this process.

Kopf runs with our registry and settings (handlers.py), the liveness endpoint on CLAWHOST_HEALTH_PORT
(/healthz) and the Prometheus metrics on CLAWHOST_METRICS_PORT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import kopf

from openclaw_operator import handlers, metrics
from openclaw_operator.config import Config, ConfigError, load_config
from openclaw_operator.kube import KubeClient
from openclaw_operator.observe import Observer
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconciler import Reconciler
from openclaw_operator.schedule import PassSchedule

log = logging.getLogger(__name__)


class Runtime:
    """Everything a running operator holds: one limiter per credential, the clients, the observer."""

    def __init__(self, config: Config) -> None:
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
            handlers.post_event,
            self.app_health,
        )
        self._stop = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def use_credentials(self, info: kopf.ConnectionInfo) -> None:
        self._kube = KubeClient(info)

    def kube(self) -> KubeClient:
        if self._kube is None:
            raise RuntimeError("not logged in to Kubernetes yet")
        return self._kube

    async def start(self) -> None:
        self._loop = asyncio.create_task(self.observer.run(self._stop), name="observer")

    async def stop(self) -> None:
        self._stop.set()
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


class RequeuesAreNotErrors(logging.Filter):
    """Kopf logs every kopf.TemporaryError at ERROR. Our delete handler raises it to come back while a
    deletion is under way (an action running, a rate-limit reset); real failures already go out as Warning
    events and status messages. Logged at INFO, an ERROR line in our logs means something is actually wrong.

    Kopf also logs every run of a timer or event handler at INFO: one line per instance per resync and
    per watch event, thousands a minute at fleet scale, saying nothing. Those go to DEBUG."""

    ROUTINE = (
        "Timer 'build_registry.<locals>.drift' succeeded",
        "Handler 'build_registry.<locals>.gone' succeeded",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.ERROR and " failed temporarily" in record.getMessage():
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif record.levelno == logging.INFO and record.getMessage().startswith(self.ROUTINE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        help="watch this namespace (repeatable); default: CLAWHOST_WATCH_NAMESPACES, else all",
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Kopf's formatter prefixes each line about a resource with [namespace/name], so every handler's
    # and timer's line says which instance it is about.
    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.FULL, log_prefix=True)
    for noisy in ("httpx", "httpcore", "urllib3", "aiohttp.access", "cloudflare"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("kopf.objects").addFilter(RequeuesAreNotErrors())
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    namespaces = [] if args.all_namespaces else (args.namespace or list(config.watch_namespaces))
    metrics.serve(config.metrics_port, config.listen_address)
    liveness = f"http://{config.listen_address}:{config.health_port}/healthz" if config.health_port else None

    async def main() -> None:
        runtime = Runtime(config)
        await kopf.operator(
            registry=handlers.build_registry(runtime),
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness,
        )

    log.info(
        "starting: namespaces=%s zones=%s resync=%ss",
        ",".join(namespaces) or "*",
        ",".join(config.managed_zones),
        config.resync_interval_seconds,
    )
    asyncio.run(main())
    return 0

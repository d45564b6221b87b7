"""`openclaw-operator run`: validate the configuration, build the Runtime, and run Kopf in this process.

Kopf runs with our registry and settings (handlers.py), the Runtime as its memo (runtime.py), the
liveness endpoint on CLAWHOST_HEALTH_PORT (/healthz) and the Prometheus metrics on CLAWHOST_METRICS_PORT.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import sys

import kopf

from openclaw_operator import handlers, metrics
from openclaw_operator.config import ConfigError, load_config
from openclaw_operator.providers.backup_store import BackupStore
from openclaw_operator.runtime import Runtime

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas before any thread starts. glibc gives threads that allocate at once arenas
    of their own, up to 8 per core; the provider pools' threads parse listings and answers, and each arena
    keeps its high-water mark and its fragments, so the process's RSS kept what every thread ever held:
    419 MB at 1,000 instances, 226 MB with two arenas (docs/benchmarks.md). MALLOC_ARENA_MAX, when set,
    wins; without glibc (musl) there is nothing to cap. True if this call set the cap."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS))


class RequeuesAreNotErrors(logging.Filter):
    """Kopf logs every kopf.TemporaryError at ERROR. Our delete handler raises it to come back while a
    deletion is under way (an action running, a rate-limit reset); real failures already go out as Warning
    events and status messages. Logged at INFO, an ERROR line in our logs means something is actually wrong.

    Kopf also logs every run of a timer or event handler at INFO: one line per instance per resync and
    per watch event, thousands a minute at fleet scale, saying nothing. Those go to DEBUG."""

    ROUTINE = (f"Timer '{handlers.DRIFT}' succeeded", f"Handler '{handlers.GONE}' succeeded")

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
    try:
        bucket = BackupStore.from_env(os.environ)
    except ValueError as exc:  # names the variable and the file, never a value
        print(f"invalid backup store configuration: {exc}", file=sys.stderr)
        return 2
    namespaces = [] if args.all_namespaces else (args.namespace or list(config.watch_namespaces))
    limit_malloc_arenas()  # before the metrics server's thread and the provider pools
    metrics.serve(config.metrics_port, config.listen_address)
    liveness = f"http://{config.listen_address}:{config.health_port}/healthz" if config.health_port else None

    async def main() -> None:
        await kopf.operator(
            registry=handlers.REGISTRY,
            memo=Runtime(config, tuple(namespaces), bucket),
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

"""`clawhost-sandbox sim hetzner|cloudflare`: run one provider simulator in the foreground.

    clawhost-sandbox sim hetzner --port 0 --token T [--time-scale 60] [--seed 1]
        [--project NAME=TOKEN_FILE[:SERVER_LIMIT] ...] [--unavailable LOCATION/TYPE ...]
    clawhost-sandbox sim cloudflare --port 0 --token T --zone example.com [--zone example.net]

The first line on stdout is `listening on <API base URL>` (port 0 picks a free port); then one line per
request: method, path and query, status, simulated time and any injected fault. The token is never
printed. SIGINT or SIGTERM stops the simulator.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from .cloudflare.dns import RecordRules
from .cloudflare.simulator import CloudflareSimulator
from .hetzner.simulator import HetznerSimulator
from .simcore import LatencyModel, RequestRecord, SimClock
from .simserver import SimulatorServer


def configure(parser: argparse.ArgumentParser) -> None:
    simulators = parser.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    hetzner = simulators.add_parser("hetzner", help="the Hetzner Cloud API (/v1)")
    _common(hetzner)
    hetzner.add_argument("--rate-limit-capacity", type=int, default=3600, help="token bucket size per token")
    hetzner.add_argument("--rate-limit-refill", type=float, default=1.0, help="tokens per simulated second")
    hetzner.add_argument(
        "--app-boot-seconds", type=float, default=30.0, help="simulated boot time of the app"
    )
    hetzner.add_argument(
        "--server-limit", type=int, default=None, help="project server limit (default: none)"
    )
    hetzner.add_argument(
        "--project",
        action="append",
        default=[],
        metavar="NAME=TOKEN_FILE[:LIMIT]",
        help="another project, reached with the token in TOKEN_FILE (repeatable)",
    )
    hetzner.add_argument(
        "--unavailable",
        action="append",
        default=[],
        metavar="LOCATION/TYPE",
        help="no capacity for TYPE in LOCATION: creates answer resource_unavailable (repeatable)",
    )
    hetzner.set_defaults(func=_run_hetzner)

    cloudflare = simulators.add_parser("cloudflare", help="the Cloudflare API v4 (/client/v4)")
    _common(cloudflare)
    cloudflare.add_argument("--zone", action="append", required=True, help="a zone to serve (repeatable)")
    cloudflare.add_argument("--rate-limit", type=int, default=1200, help="requests per window per token")
    cloudflare.add_argument(
        "--rate-limit-window", type=float, default=300.0, help="window, simulated seconds"
    )
    cloudflare.add_argument(
        "--min-ttl", type=int, default=60, help="smallest TTL besides 1 (30 = enterprise)"
    )
    cloudflare.set_defaults(func=_run_cloudflare)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    token = parser.add_mutually_exclusive_group(required=True)
    token.add_argument("--token", help="the API token clients must present")
    token.add_argument("--token-file", type=Path, help="read the token from this file (keeps it out of ps)")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per wall second")
    parser.add_argument("--seed", type=int, default=0, help="seed of latencies and injected faults")
    parser.add_argument("--latency", choices=("none", "realistic"), default="none")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")


def _token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        return str(args.token_file.read_text().strip())
    return str(args.token)


def _latency(args: argparse.Namespace) -> LatencyModel:
    return LatencyModel.realistic() if args.latency == "realistic" else LatencyModel.none()


def _run_hetzner(args: argparse.Namespace) -> int:
    sim = HetznerSimulator(
        token=_token(args),
        clock=SimClock(time_scale=args.time_scale),
        seed=args.seed,
        latency=_latency(args),
        rate_limit_capacity=args.rate_limit_capacity,
        rate_limit_refill_per_second=args.rate_limit_refill,
        app_boot_seconds=args.app_boot_seconds,
        server_limit=args.server_limit,
    )
    for spec in args.project:
        name, _, rest = spec.partition("=")
        path, _, limit = rest.partition(":")
        token = Path(path).read_text().strip()
        sim.add_project(name, token, server_limit=int(limit) if limit else None)
    for spec in args.unavailable:
        location, _, server_type = spec.partition("/")
        sim.unavailable.add((location, server_type))
    return asyncio.run(serve(sim, args))


def _run_cloudflare(args: argparse.Namespace) -> int:
    sim = CloudflareSimulator(
        token=_token(args),
        zones=args.zone,
        clock=SimClock(time_scale=args.time_scale),
        seed=args.seed,
        latency=_latency(args),
        rate_limit=args.rate_limit,
        rate_limit_window_s=args.rate_limit_window,
        rules=RecordRules(min_ttl=args.min_ttl),
    )
    return asyncio.run(serve(sim, args))


def request_line(record: RequestRecord) -> str:
    query = f"?{record.query}" if record.query else ""
    fault = f" fault={record.fault}" if record.fault else ""
    status = record.status or "dropped"
    return f"{record.method} {record.path}{query} {status} sim={record.sim_time:.1f}s{fault}"


async def serve(sim: SimulatorServer, args: argparse.Namespace) -> int:
    if not args.quiet:
        sim.request_hooks.append(lambda record: print(request_line(record), flush=True))
    await sim.start(host=args.host, port=args.port)
    print(f"listening on {sim.url}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await sim.stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0

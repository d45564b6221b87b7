"""A stateful simulator of the Hetzner Cloud API (`/v1`), faithful enough for the official hcloud SDK.

Resources and their timeline live in `hetzner/world.py`, operations in `hetzner/servers.py`,
`hetzner/firewalls.py`, `hetzner/images.py` and `hetzner/primary_ips.py`, the route table in
`hetzner/routes.py`. This class wires them to the shared HTTP pipeline (token bucket, faults, latency,
request log) and offers the Python API tests and the sandbox use.
A route Hetzner documents (`documented_routes.py`) but the simulator lacks answers 501 `not_implemented`;
only a path Hetzner does not document answers 404 `not_found`.

Inspection (no auth, not rate limited, never shows a token):
- `GET /_sim/state`: servers, SSH keys, firewalls, snapshots/backups, primary IPs and running actions as
  the API would render them, plus the simulated time;
- `GET /_sim/requests`: request counters by method, route and status;
- `GET /_sim/app/{server_id}/readyz` (and `/healthz`, the same): the OpenClaw app on that server, as the
  gateway's readiness and liveness endpoints answer. 200 `{"ok": true}` once the server
  has been `running` for `app_boot_seconds` simulated seconds, 503 `{"ok": false}` while it boots or when
  its app was broken with `break_app()`; connections are refused (closed unanswered) while the server is
  not running or does not exist.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ..simcore import FaultDecision, LatencyModel, LimitDecision, SimClock, TokenBucket
from ..simserver import ApiError, DropConnection, Route, SimulatorServer
from .documented_routes import DOCUMENTED_ROUTES
from .errors import hetzner_error
from .firewalls import delete_firewall
from .routes import build_routes
from .servers import get_server
from .world import World

APP_HEALTH_TEMPLATE = "/_sim/app/{server_id}/healthz"
# The path the operator's default CLAWHOST_APP_HEALTH_URL asks on a real server.
APP_READY_TEMPLATE = "/_sim/app/{server_id}/readyz"


class HetznerSimulator(SimulatorServer):
    api_prefix = "/v1"

    def __init__(
        self,
        token: str,
        clock: SimClock | None = None,
        seed: int = 0,
        latency: LatencyModel | None = None,
        rate_limit_capacity: int = 3600,
        rate_limit_refill_per_second: float = 1.0,
        *,
        action_seconds: dict[str, float] | None = None,
        app_boot_seconds: float = 30.0,
        server_limit: int | None = None,
    ) -> None:
        super().__init__(
            token, clock, seed, latency, TokenBucket(rate_limit_capacity, rate_limit_refill_per_second)
        )
        self.world = World(self.clock, self.faults, action_seconds)
        self.app_boot_seconds = app_boot_seconds
        self.server_limit = server_limit
        self._routes = build_routes(self.world, lambda: self.server_limit)

    # --- SimulatorServer ---------------------------------------------------------------------------
    def api_routes(self) -> list[Route]:
        return self._routes

    def inspection_routes(self) -> list[Route]:
        return [
            *super().inspection_routes(),
            Route("GET", APP_HEALTH_TEMPLATE, self._app_health_handler),
            Route("GET", APP_READY_TEMPLATE, self._app_health_handler),
        ]

    def error_response(self, error: ApiError) -> web.Response:
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        body["details"] = error.details
        return web.json_response({"error": body}, status=error.status)

    def limit_headers(self, decision: LimitDecision) -> dict[str, str]:
        # Reset is wall-clock unix time: a client sleeping until then sees the bucket full.
        reset = math.ceil(time.time() + self.clock.to_wall_seconds(decision.reset_after))
        return {
            "RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(reset),
        }

    def rate_limited(self, decision: LimitDecision) -> ApiError:
        return hetzner_error("rate_limit_exceeded", f"limit of {decision.limit} requests per hour reached")

    def injected_error(self, fault: FaultDecision) -> ApiError:
        error = hetzner_error(str(fault.code), f"simulated {fault.kind}: {fault.code}")
        error.status = fault.status
        return error

    def unauthorized(self, request: web.Request) -> ApiError:
        return hetzner_error("unauthorized", "unable to authenticate")

    def no_route(self) -> ApiError:
        return hetzner_error("not_found", "no such API endpoint")

    def documented_routes(self) -> Iterable[tuple[str, str]]:
        return DOCUMENTED_ROUTES

    def not_implemented(self, method: str, template: str) -> ApiError:
        message = f"{method} {template} is documented by Hetzner but not implemented by this simulator"
        return hetzner_error("not_implemented", message, {})

    def decorate(self, response: web.StreamResponse, sequence: int) -> None:
        response.headers["X-Correlation-Id"] = f"{self.seed & 0xFFFFFFFF:08x}{sequence:08x}"

    # --- inspection and control (callable from any thread) -----------------------------------------
    def servers(self) -> list[dict[str, Any]]:
        return self.call_in_loop(
            lambda: [self.world.render_server(s) for s in self._settled().servers.values()]
        )

    def ssh_keys(self) -> list[dict[str, Any]]:
        return self.call_in_loop(
            lambda: [self.world.render_ssh_key(k) for k in self._settled().ssh_keys.values()]
        )

    def firewalls(self) -> list[dict[str, Any]]:
        return self.call_in_loop(
            lambda: [self.world.render_firewall(f) for f in self._settled().firewalls.values()]
        )

    def actions(self) -> list[dict[str, Any]]:
        return self.call_in_loop(lambda: [a.render(self.clock) for a in self._settled().actions.values()])

    def images(self) -> list[dict[str, Any]]:
        """The project's snapshots and backups (system images are the catalogue's)."""
        return self.call_in_loop(
            lambda: [self.world.render_image(i) for i in self._settled().images.values()]
        )

    def primary_ips(self) -> list[dict[str, Any]]:
        return self.call_in_loop(
            lambda: [self.world.render_primary_ip(p) for p in self._settled().primary_ips.values()]
        )

    def set_disk_usage(self, server_id: int, used_gb: float) -> None:
        """The server's software wrote (or freed) data: what its next snapshot copies and bills."""

        def apply() -> None:
            server = get_server(self._settled(), server_id)
            if not 0 <= used_gb <= server.primary_disk_size:
                raise ValueError(f"used_gb must be within the {server.primary_disk_size} GB disk")
            server.used_disk_gb = used_gb

        self.call_in_loop(apply)

    def app_health_url(self, server_id: int) -> str:
        return self.base_url + APP_HEALTH_TEMPLATE.format(server_id=server_id)

    def break_app(self, server_id: int, broken: bool = True) -> None:
        def apply() -> None:
            get_server(self._settled(), server_id).app_broken = broken

        self.call_in_loop(apply)

    def delete_server_out_of_band(self, server_id: int) -> None:
        """The customer deleted the server in the Hetzner console."""

        def apply() -> None:
            world = self._settled()
            if (server := world.servers.get(server_id)) is not None:
                world.remove_server(server)

        self.call_in_loop(apply)

    def delete_firewall_out_of_band(self, firewall_id: int) -> None:
        """Someone deleted the firewall in the Hetzner console, which takes it off its servers and
        selectors first (the API alone refuses to delete a firewall still applied: resource_in_use)."""

        def apply() -> None:
            world = self._settled()
            if (firewall := world.firewalls.get(firewall_id)) is not None:
                firewall.server_ids.clear()
                firewall.selectors.clear()
                delete_firewall(world, firewall)

        self.call_in_loop(apply)

    def power_off_out_of_band(self, server_id: int) -> None:
        """The server went off without the operator asking (console, crash, abuse lock)."""

        def apply() -> None:
            server = get_server(self._settled(), server_id)
            server.status, server.running_since = "off", None

        self.call_in_loop(apply)

    def _settled(self) -> World:
        self.world.settle()
        return self.world

    def snapshot(self) -> dict[str, Any]:
        world = self._settled()
        return {
            "servers": [world.render_server(s) for s in world.servers.values()],
            "ssh_keys": [world.render_ssh_key(k) for k in world.ssh_keys.values()],
            "firewalls": [world.render_firewall(f) for f in world.firewalls.values()],
            "images": [world.render_image(i) for i in world.images.values()],
            "primary_ips": [world.render_primary_ip(p) for p in world.primary_ips.values()],
            "running_actions": [
                a.render(self.clock) for a in world.actions.values() if a.status == "running"
            ],
        }

    async def _app_health_handler(self, request: web.Request) -> web.StreamResponse:
        world = self._settled()
        raw = request.match_info["server_id"]
        server = world.servers.get(int(raw)) if raw.isdigit() else None
        if server is None or server.status != "running":
            raise DropConnection  # nothing listens on a server that is not running
        healthy = world.app_healthy(server, self.app_boot_seconds)
        return web.json_response({"ok": healthy}, status=200 if healthy else 503)


__all__ = ["HetznerSimulator", "hetzner_error"]

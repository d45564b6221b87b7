"""A stateful simulator of the Hetzner Cloud API (`/v1`), faithful enough for the official hcloud SDK.

Resources and their timeline live in `hetzner/world.py`, operations in `hetzner/servers.py`,
`hetzner/firewalls.py`, `hetzner/images.py` and `hetzner/primary_ips.py`, the route table in
`hetzner/routes.py`. This class wires them to the shared HTTP pipeline (token bucket, faults, latency,
request log) and offers the Python API tests and the sandbox use.
A route Hetzner documents (`documented_routes.py`) but the simulator lacks answers 501 `not_implemented`;
only a path Hetzner does not document answers 404 `not_found`.

Projects: Hetzner scopes every API token to one project, and a project is a world of its own (its servers,
firewalls and server limit; another project's resources answer `not_found`). The token given to the
constructor is the project `default`; `add_project(name, token, server_limit=)` adds another, reached at
the same URL with its own token and rate-limit bucket. Ids are unique across projects, as Hetzner's are.
Each logged request records its project (`RequestRecord.project`). Capacity is a location's, not a
project's: `make_unavailable(location, server_type)` has every project's create of that type there answer
`resource_unavailable` ("error during placement"), as Hetzner does when a location runs out.

Inspection (no auth, not rate limited, never shows a token):
- `GET /_sim/state`: servers, SSH keys, firewalls, snapshots/backups, primary IPs and running actions as
  the API would render them, plus the simulated time;
- `GET /_sim/requests`: request counters by method, route and status;
- `GET /_sim/app/{server_id}/readyz` (and `/healthz`, the same): the OpenClaw app on that server, as the
  gateway's readiness and liveness endpoints answer. 200 `{"ok": true}` once the server
  has been `running` for `app_boot_seconds` simulated seconds, 503 `{"ok": false}` while it boots or when
  its app was broken with `break_app()`; connections are refused (closed unanswered) while the server is
  not running or does not exist. With `boot_model` (hetzner/boot.py, derived from a measured boot) the
  time depends on the boot: the full install on a system image, the personalise stage on a golden
  snapshot. A server whose user-data asks cloud-init to power off (`power_state`, a golden builder)
  runs the install stage and powers itself off, its disk grown by what the install wrote.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..simcore import FaultDecision, LatencyModel, LimitDecision, SimClock, TokenBucket
from ..simserver import ApiError, DropConnection, Route, SimulatorServer
from .boot import BootModel
from .documented_routes import DOCUMENTED_ROUTES
from .errors import hetzner_error
from .firewalls import delete_firewall
from .routes import build_routes
from .servers import get_server
from .world import World

APP_HEALTH_TEMPLATE = "/_sim/app/{server_id}/healthz"
# The path the operator's default CLAWHOST_APP_HEALTH_URL asks on a real server.
APP_READY_TEMPLATE = "/_sim/app/{server_id}/readyz"
DEFAULT_PROJECT = "default"


@dataclass
class SimProject:
    """One Hetzner project: its world, its server limit, and its routes (bound to that world)."""

    name: str
    world: World
    server_limit: int | None = None
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)


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
        boot_model: BootModel | None = None,
    ) -> None:
        super().__init__(
            token, clock, seed, latency, TokenBucket(rate_limit_capacity, rate_limit_refill_per_second)
        )
        self._action_seconds = action_seconds
        self._ids, self._action_ids = itertools.count(1), itertools.count(1)
        self.app_boot_seconds = app_boot_seconds
        self.boot_model = boot_model  # per-server boot times by kind of boot (hetzner/boot.py)
        self.unavailable: set[tuple[str, str]] = set()  # (location, server type) without capacity
        self.projects: dict[str, SimProject] = {}
        self._by_token: dict[str, SimProject] = {}
        default = self.add_project(DEFAULT_PROJECT, token, server_limit=server_limit)
        self.world = default.world
        self._routes = [
            Route(route.method, route.template, self._dispatch(route.method, route.template))
            for route in default.routes.values()
        ]

    def add_project(self, name: str, token: str, *, server_limit: int | None = None) -> SimProject:
        """Another project, reached with `token` (callable before or after `start`)."""
        if name in self.projects or token in self._by_token:
            raise ValueError(f"project {name} or its token exists already")
        world = World(
            self.clock, self.faults, self._action_seconds, ids=self._ids, action_ids=self._action_ids
        )
        world.boot_model = self.boot_model
        project = SimProject(name, world, server_limit)
        routes = build_routes(world, lambda: project.server_limit, lambda: self.unavailable)
        project.routes = {(route.method, route.template): route for route in routes}
        self.projects[name] = project
        self._by_token[token] = project
        return project

    def make_unavailable(self, location: str, server_type: str, unavailable: bool = True) -> None:
        """The location has (no longer) no capacity for the type: creates answer resource_unavailable."""
        self.call_in_loop(
            lambda: (self.unavailable.add if unavailable else self.unavailable.discard)(
                (location, server_type)
            )
        )

    @property
    def server_limit(self) -> int | None:
        return self.projects[DEFAULT_PROJECT].server_limit

    @server_limit.setter
    def server_limit(self, value: int | None) -> None:
        self.projects[DEFAULT_PROJECT].server_limit = value

    def _project_of(self, request: web.Request) -> SimProject | None:
        header = request.headers.get("Authorization", "")
        return self._by_token.get(header.removeprefix("Bearer ")) if header.startswith("Bearer ") else None

    def _dispatch(self, method: str, template: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            project = self._project_of(request)
            assert project is not None  # the pipeline answered 401 before calling a route
            return await project.routes[(method, template)].handler(request)

        return handler

    def authorized(self, request: web.Request) -> bool:
        return self._project_of(request) is not None

    def request_scope(self, request: web.Request) -> str | None:
        project = self._project_of(request)
        return project.name if project is not None else None

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
    def servers(self, project: str | None = None) -> list[dict[str, Any]]:
        """The servers of one project, or of every project (`None`)."""

        def render() -> list[dict[str, Any]]:
            chosen = [self.projects[project]] if project is not None else self.projects.values()
            return [p.world.render_server(s) for p in chosen for s in self._settle(p.world).servers.values()]

        return self.call_in_loop(render)

    def project_of_server(self, server_id: int) -> str | None:
        return self.call_in_loop(lambda: self._world_with(server_id)[0])

    def ssh_keys(self) -> list[dict[str, Any]]:
        return self.call_in_loop(
            lambda: [self.world.render_ssh_key(k) for k in self._settled().ssh_keys.values()]
        )

    def firewalls(self, project: str = DEFAULT_PROJECT) -> list[dict[str, Any]]:
        world = self.projects[project].world
        return self.call_in_loop(
            lambda: [world.render_firewall(f) for f in self._settle(world).firewalls.values()]
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
            server = get_server(self._world_with(server_id)[1], server_id)
            if not 0 <= used_gb <= server.primary_disk_size:
                raise ValueError(f"used_gb must be within the {server.primary_disk_size} GB disk")
            server.used_disk_gb = used_gb

        self.call_in_loop(apply)

    def user_data(self, server_id: int) -> str | None:
        """The user-data the server was created (or last rebuilt) with. In-process only, never over HTTP:
        it holds the gateway token. The sandbox runs the real gateway from it."""
        return self.call_in_loop(lambda: get_server(self._settled(), server_id).user_data)

    def app_health_url(self, server_id: int) -> str:
        return self.base_url + APP_HEALTH_TEMPLATE.format(server_id=server_id)

    def break_app(self, server_id: int, broken: bool = True) -> None:
        def apply() -> None:
            get_server(self._world_with(server_id)[1], server_id).app_broken = broken

        self.call_in_loop(apply)

    def delete_server_out_of_band(self, server_id: int) -> None:
        """The customer deleted the server in the Hetzner console."""

        def apply() -> None:
            world = self._world_with(server_id)[1]
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
            world = self._world_with(server_id)[1]
            server = get_server(world, server_id)
            server.status = "off"
            server.stop_running(world.clock.now())

        self.call_in_loop(apply)

    def _settled(self) -> World:
        self.world.settle()
        return self.world

    @staticmethod
    def _settle(world: World) -> World:
        world.settle()
        return world

    def _world_with(self, server_id: int) -> tuple[str | None, World]:
        """The project holding the server (ids are unique across projects), else the default one."""
        for project in self.projects.values():
            if server_id in self._settle(project.world).servers:
                return project.name, project.world
        return None, self._settled()

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
        raw = request.match_info["server_id"]
        world = self._world_with(int(raw))[1] if raw.isdigit() else self._settled()
        server = world.servers.get(int(raw)) if raw.isdigit() else None
        if server is None or server.status != "running":
            raise DropConnection  # nothing listens on a server that is not running
        healthy = world.app_healthy(server, self.app_boot_seconds)
        return web.json_response({"ok": healthy}, status=200 if healthy else 503)


__all__ = ["DEFAULT_PROJECT", "HetznerSimulator", "SimProject", "hetzner_error"]

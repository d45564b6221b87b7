"""The HTTP side both simulators share: one request pipeline (latency, faults, rate limit, auth, logging)
wrapped around each simulator's route handlers, and the aiohttp server lifecycle.

A subclass supplies its routes and says how its API spells errors and rate-limit headers; everything a
request goes through before and after its handler is decided here, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TypeVar

from aiohttp import web

from .simcore import (
    FaultDecision,
    Faults,
    LatencyModel,
    LimitDecision,
    RequestRecord,
    SimClock,
    SlidingWindowLimiter,
    TokenBucket,
    count_requests,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RequestHook = Callable[[RequestRecord], None]
ResponseHook = Callable[[str, str, int, Any], None]
T = TypeVar("T")


class ApiError(Exception):
    """An error answer. `code` is the provider's own (a string for Hetzner, an integer for Cloudflare)."""

    def __init__(
        self,
        status: int,
        code: str | int,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


class DropConnection(Exception):
    """Raised by a handler to close the connection without an answer (nothing listens there)."""


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # relative to the API prefix, with aiohttp `{name}` placeholders
    handler: Handler
    logged: bool = True  # inspection reads are not part of the traffic under test


class SimulatorServer(ABC):
    api_prefix: ClassVar[str]

    def __init__(
        self,
        token: str,
        clock: SimClock | None,
        seed: int,
        latency: LatencyModel | None,
        limiter: TokenBucket | SlidingWindowLimiter,
    ) -> None:
        self._token = token
        self.clock = clock or SimClock()
        self.seed = seed
        self.latency = latency or LatencyModel.none()
        self.limiter = limiter
        self.faults = Faults(self.clock, seed)
        self.request_log: list[RequestRecord] = []
        self.request_hooks: list[RequestHook] = []
        self.response_hooks: list[
            ResponseHook
        ] = []  # (method, template, status, parsed body): fidelity tests
        self._latency_rngs: dict[str, random.Random] = {}
        self._sequence = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    # --- what a subclass provides -------------------------------------------------------------------
    @abstractmethod
    def api_routes(self) -> list[Route]: ...

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """What exists, as `GET /_sim/state` shows it (never a token)."""

    def inspection_routes(self) -> list[Route]:
        """Read-only views: no auth, no rate limit, not in the request log."""
        return [
            Route("GET", "/_sim/state", self._state_handler, logged=False),
            Route("GET", "/_sim/requests", self._requests_handler, logged=False),
        ]

    async def _state_handler(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"sim_time": self.clock.now(), **self.snapshot()})

    async def _requests_handler(self, request: web.Request) -> web.StreamResponse:
        counts = [
            {"method": method, "template": template, "status": status, "count": count}
            for (method, template, status), count in sorted(self.counters().items())
        ]
        return web.json_response({"total": len(self.request_log), "counters": counts})

    @abstractmethod
    def error_response(self, error: ApiError) -> web.Response: ...

    @abstractmethod
    def limit_headers(self, decision: LimitDecision) -> dict[str, str]: ...

    @abstractmethod
    def rate_limited(self, decision: LimitDecision) -> ApiError: ...

    @abstractmethod
    def injected_error(self, fault: FaultDecision) -> ApiError: ...

    @abstractmethod
    def unauthorized(self, request: web.Request) -> ApiError: ...

    @abstractmethod
    def no_route(self) -> ApiError: ...

    def documented_routes(self) -> Iterable[tuple[str, str]]:
        """(method, template) of every operation the provider documents. Those the simulator does not
        implement answer `not_implemented()`, never `no_route()`: a client reads 404 as "that resource
        is gone", so a delete against a missing route would pass silently."""
        return ()

    def not_implemented(self, method: str, template: str) -> ApiError:
        raise NotImplementedError(f"{type(self).__name__} documents routes but has no not-implemented answer")

    def decorate(self, response: web.StreamResponse, sequence: int) -> None:
        """Headers every answer carries (correlation ids and the like)."""
        return

    def authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self._token}"

    def request_scope(self, request: web.Request) -> str | None:
        """What the request's credential is scoped to (a Hetzner project), for the request log."""
        return None

    # --- lifecycle ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url + self.api_prefix

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._loop = asyncio.get_running_loop()
        app = web.Application()
        for route in most_specific_first([*self.route_table(), *self.not_implemented_routes()]):
            app.router.add_route(route.method, self.api_prefix + route.template, self._pipeline(route))
        for route in self.inspection_routes():
            app.router.add_route(route.method, route.template, self._inspection(route))
        fallback = Route("*", "*", self._no_route_handler)
        app.router.add_route("*", self.api_prefix + "/{tail:.*}", self._pipeline(fallback))
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host = host
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def route_table(self) -> list[Route]:
        """The API operations this simulator implements (the fidelity tests enumerate it)."""
        return self.api_routes()

    def not_implemented_routes(self) -> list[Route]:
        """A route per documented operation missing from `route_table()`, answering `not_implemented()`."""
        implemented = {(route.method, route.template) for route in self.route_table()}
        missing = [op for op in self.documented_routes() if op not in implemented]
        return [self._not_implemented_route(method, template) for method, template in missing]

    def _not_implemented_route(self, method: str, template: str) -> Route:
        async def handler(request: web.Request) -> web.StreamResponse:
            raise self.not_implemented(method, template)

        return Route(method, template, handler)

    # --- observation -------------------------------------------------------------------------------
    def counters(self) -> Counter[tuple[str, str, int]]:
        return self.call_in_loop(lambda: count_requests(self.request_log))

    def call_in_loop(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the simulator's loop: state is only ever touched from there."""
        loop = self._loop
        if loop is None or not loop.is_running():
            return fn()
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is loop:
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)

    # --- the pipeline ------------------------------------------------------------------------------
    async def _no_route_handler(self, request: web.Request) -> web.StreamResponse:
        raise self.no_route()

    def _limit_key(self, request: web.Request) -> str:
        # The bucket is per token; keep only a digest so no token sits in simulator state.
        credential = request.headers.get("Authorization") or request.remote or "anonymous"
        return hashlib.sha256(credential.encode()).hexdigest()

    def _sample_latency(self, operation: str) -> float:
        rng = self._latency_rngs.setdefault(operation, random.Random(f"{self.seed}|latency|{operation}"))
        return self.latency.for_operation(operation).sample(rng)

    def _pipeline(self, route: Route) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            method = request.method
            fault = self.faults.decide(method, route.template)
            await self.clock.sleep(self._sample_latency(f"{method} {route.template}") + fault.extra_delay)
            self._sequence += 1
            sequence = self._sequence
            if fault.kind == "drop":
                self._record(request, route, 0, None, fault.kind)
                _hang_up(request)
            decision = self.limiter.take(self._limit_key(request), self.clock.now())
            try:
                if fault.kind == "rate_limit" or not decision.allowed:
                    if decision.allowed:  # a storm: the bucket looks empty to the client
                        decision = LimitDecision(False, decision.limit, 0, decision.reset_after)
                    raise self.rate_limited(decision)
                if fault.kind in ("outage", "error"):
                    raise self.injected_error(fault)
                if not self.authorized(request):
                    raise self.unauthorized(request)
                response = await route.handler(request)
            except ApiError as error:
                response = self.error_response(error)
                response.headers.update(error.headers)
            response.headers.update(self.limit_headers(decision))
            self.decorate(response, sequence)
            self._record(request, route, response.status, decision.remaining, fault.kind)
            self._notify_response(method, route.template, response)
            return response

        return handle

    def _inspection(self, route: Route) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                response = await route.handler(request)
            except DropConnection:
                self._record(request, route, 0, None, None)
                _hang_up(request)
            if route.logged:
                self._record(request, route, response.status, None, None)
            return response

        return handle

    def _record(
        self, request: web.Request, route: Route, status: int, remaining: int | None, fault: str | None
    ) -> None:
        template = request.path[len(self.api_prefix) :] if route.template == "*" else route.template
        record = RequestRecord(
            request.method,
            request.path,
            template,
            request.query_string,
            status,
            self.clock.now(),
            time.time(),
            remaining,
            fault,
            self.request_scope(request),
        )
        self.request_log.append(record)
        for hook in self.request_hooks:
            hook(record)

    def _notify_response(self, method: str, template: str, response: web.StreamResponse) -> None:
        if not self.response_hooks or not isinstance(response, web.Response):
            return
        body = response.body
        payload = json.loads(body) if isinstance(body, bytes) and body else None
        for hook in self.response_hooks:
            hook(method, template, response.status, payload)


def most_specific_first(routes: list[Route]) -> list[Route]:
    """Literal segments before placeholders (`/servers/actions` before `/servers/{id}`), so that table
    order is the order in which aiohttp resolves a path; otherwise as given."""
    return sorted(routes, key=lambda route: [part.startswith("{") for part in route.template.split("/")])


def _hang_up(request: web.Request) -> NoReturn:
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


async def json_body(request: web.Request, invalid: Callable[[str], ApiError]) -> dict[str, Any]:
    """The request's JSON object; `invalid(reason)` makes the provider's error for anything else."""
    if not request.can_read_body:
        return {}
    try:
        payload = json.loads(await request.read() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("request body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise invalid("request body must be a JSON object")
    return payload

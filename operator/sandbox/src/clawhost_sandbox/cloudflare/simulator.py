"""A stateful simulator of the Cloudflare API v4 (`/client/v4`): zones and DNS records, faithful enough for
the official cloudflare SDK (strict response validation included).

Errors are non-2xx answers in the v4 envelope (a 200 with `success: false` would not raise in the SDK).
The rate limit is Cloudflare's: 1,200 requests per 5 minutes per token; going over blocks the token for
5 minutes, answered with 429, code 971 and `Retry-After`.

Inspection (no auth, not rate limited, never shows a token):
- `GET /_sim/state`: zones and their records, plus the simulated time;
- `GET /_sim/requests`: request counters by method, route and status.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from ..simcore import FaultDecision, LatencyModel, LimitDecision, SimClock, SlidingWindowLimiter
from ..simserver import ApiError, Route, SimulatorServer
from .dns import RecordRules, Zone, ZoneRecords
from .errors import cf_error
from .routes import build_routes

INJECTED_ERROR_CODE = 10001  # simulator-specific: an injected failure that is not one of Cloudflare's codes


class CloudflareSimulator(SimulatorServer):
    api_prefix = "/client/v4"

    def __init__(
        self,
        token: str,
        zones: Iterable[str],
        clock: SimClock | None = None,
        seed: int = 0,
        latency: LatencyModel | None = None,
        rate_limit: int = 1200,
        rate_limit_window_s: float = 300.0,
        rate_limit_lockout_s: float = 300.0,
        *,
        rules: RecordRules | None = None,
        record_page_cap: int | None = 5000,
    ) -> None:
        super().__init__(
            token,
            clock,
            seed,
            latency,
            SlidingWindowLimiter(rate_limit, rate_limit_window_s, rate_limit_lockout_s),
        )
        self.rules = rules or RecordRules()
        # Records served per page at most, whatever `per_page` asks (the schema allows up to 5,000,000);
        # a client must follow `result_info.total_pages`, not take a short page for the last one.
        self.record_page_cap = record_page_cap
        self._ids = itertools.count(1)
        self.zones: dict[str, Zone] = {}
        for name in zones:
            zone = Zone(self._new_id(), name.lower().rstrip("."), self.clock.now())
            self.zones[zone.id] = zone
        self._routes = build_routes(
            self.zones, self._records_of, lambda z: z.render(self.clock), lambda: self.record_page_cap
        )

    def _new_id(self) -> str:
        return hashlib.md5(f"{self.seed}:{next(self._ids)}".encode(), usedforsecurity=False).hexdigest()

    def _records_of(self, zone: Zone) -> ZoneRecords:
        return ZoneRecords(zone, self.clock, self.rules, self._new_id)

    # --- SimulatorServer ---------------------------------------------------------------------------
    def api_routes(self) -> list[Route]:
        return self._routes

    def error_response(self, error: ApiError) -> web.Response:
        entry: dict[str, Any] = {"code": error.code, "message": error.message}
        entry.update(error.details or {})
        payload = {"success": False, "errors": [entry], "messages": [], "result": None}
        return web.json_response(payload, status=error.status)

    def limit_headers(self, decision: LimitDecision) -> dict[str, str]:
        wait = math.ceil(self.clock.to_wall_seconds(decision.reset_after))
        window = math.ceil(self.clock.to_wall_seconds(self.limiter_window()))
        headers = {
            "Ratelimit": f'"default";r={decision.remaining};t={wait}',
            "Ratelimit-Policy": f'"default";q={decision.limit};w={window}',
        }
        if not decision.allowed:
            headers["Retry-After"] = str(max(1, wait))
        return headers

    def limiter_window(self) -> float:
        assert isinstance(self.limiter, SlidingWindowLimiter)
        return self.limiter.window

    def rate_limited(self, decision: LimitDecision) -> ApiError:
        return cf_error(429, 971, "Please wait and consider throttling your request speed")

    def injected_error(self, fault: FaultDecision) -> ApiError:
        code = fault.code if isinstance(fault.code, int) else INJECTED_ERROR_CODE
        return cf_error(fault.status, code, f"simulated {fault.kind}: {fault.code}")

    def unauthorized(self, request: web.Request) -> ApiError:
        header = request.headers.get("Authorization")
        if header is None:
            return cf_error(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return cf_error(
                400, 6003, "Invalid request headers", [(6111, "Invalid format for Authorization header")]
            )
        return cf_error(403, 10000, "Authentication error")

    def no_route(self) -> ApiError:
        return cf_error(404, 7000, "No route for that URI")

    # --- inspection and control (callable from any thread) -----------------------------------------
    def zone_id(self, name: str) -> str:
        wanted = name.lower().rstrip(".")
        return next(zone.id for zone in self.zones.values() if zone.name == wanted)

    def records(self, zone_name: str | None = None) -> list[dict[str, Any]]:
        def collect() -> list[dict[str, Any]]:
            zones = [z for z in self.zones.values() if zone_name is None or z.id == self.zone_id(zone_name)]
            return [dict(record) for zone in zones for record in zone.records.values()]

        return self.call_in_loop(collect)

    def _zone_of_record(self, record_id: str) -> Zone:
        zone = next((z for z in self.zones.values() if record_id in z.records), None)
        if zone is None:
            raise KeyError(f"no record {record_id}")
        return zone

    def change_record_out_of_band(self, record_id: str, **fields: Any) -> dict[str, Any]:
        """Someone edited the record in the dashboard (same validation as the API's PATCH)."""
        return self.call_in_loop(
            lambda: self._records_of(self._zone_of_record(record_id)).patch(record_id, fields)
        )

    def delete_record_out_of_band(self, record_id: str) -> None:
        self.call_in_loop(lambda: self._records_of(self._zone_of_record(record_id)).delete(record_id))

    def add_record_out_of_band(self, zone_name: str, **body: Any) -> dict[str, Any]:
        """A record the operator did not create (a customer's own, or another tool's)."""
        return self.call_in_loop(lambda: self._records_of(self.zones[self.zone_id(zone_name)]).create(body))

    def snapshot(self) -> dict[str, Any]:
        return {
            "zones": [
                {"id": z.id, "name": z.name, "records": list(z.records.values())} for z in self.zones.values()
            ]
        }

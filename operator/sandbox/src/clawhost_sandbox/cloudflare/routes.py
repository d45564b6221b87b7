"""The Cloudflare route table (zones, DNS records, batch, token verification), in the v4 envelope."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..simserver import Route, json_body
from .dns import Zone, ZoneRecords, qualify
from .errors import bad_route, invalid_json
from .listing import order, page_of, record_filter

HEX_ID = re.compile(r"^[0-9a-f]{32}$")
# `per_page` of the record listing as Cloudflare's schema publishes it (dns-records_per_page); zones: 5..50
RECORDS_PER_PAGE_BOUNDS = (1, 5_000_000)


def envelope(
    result: Any, result_info: dict[str, int] | None = None, messages: list[dict[str, Any]] | None = None
) -> web.Response:
    payload: dict[str, Any] = {"success": True, "errors": [], "messages": messages or [], "result": result}
    if result_info is not None:
        payload["result_info"] = result_info
    return web.json_response(payload)


def build_routes(
    zones: dict[str, Zone],
    records_of: Callable[[Zone], ZoneRecords],
    render_zone: Any,
    record_page_cap: Callable[[], int | None],
) -> list[Route]:
    def zone_of(request: web.Request) -> Zone:
        zone_id = request.match_info["zone_id"]
        zone = zones.get(zone_id) if HEX_ID.match(zone_id) else None
        if zone is None:
            raise bad_route(request.path)
        return zone

    def record_id(request: web.Request) -> str:
        ident = request.match_info["dns_record_id"]
        if not HEX_ID.match(ident):
            raise bad_route(request.path)
        return ident

    async def list_zones(request: web.Request) -> web.StreamResponse:
        query = request.query
        chosen = sorted(zones.values(), key=lambda z: z.name)
        if "name" in query:
            chosen = [z for z in chosen if z.name == query["name"].lower().rstrip(".")]
        if "status" in query and query["status"] != "active":
            chosen = []
        chunk, info = page_of(chosen, query, default=20, low=5, high=50)
        return envelope([render_zone(z) for z in chunk], info)

    async def get_zone(request: web.Request) -> web.StreamResponse:
        return envelope(render_zone(zone_of(request)))

    async def list_records(request: web.Request) -> web.StreamResponse:
        zone = zone_of(request)
        matches = record_filter(request.query, lambda name: qualify(name, zone))
        chosen = order([r for r in zone.records.values() if matches(r)], request.query)
        low, high = RECORDS_PER_PAGE_BOUNDS
        chunk, info = page_of(chosen, request.query, default=100, low=low, high=high, cap=record_page_cap())
        return envelope(chunk, info)

    async def create_record(request: web.Request) -> web.StreamResponse:
        body = await json_body(request, invalid_json)
        return envelope(records_of(zone_of(request)).create(body))

    async def get_record(request: web.Request) -> web.StreamResponse:
        return envelope(records_of(zone_of(request)).get(record_id(request)))

    async def replace_record(request: web.Request) -> web.StreamResponse:
        zone, ident = zone_of(request), record_id(request)
        return envelope(records_of(zone).replace(ident, await json_body(request, invalid_json)))

    async def patch_record(request: web.Request) -> web.StreamResponse:
        zone, ident = zone_of(request), record_id(request)
        return envelope(records_of(zone).patch(ident, await json_body(request, invalid_json)))

    async def delete_record(request: web.Request) -> web.StreamResponse:
        zone, ident = zone_of(request), record_id(request)
        return envelope({"id": records_of(zone).delete(ident)["id"]})

    async def batch(request: web.Request) -> web.StreamResponse:
        zone = zone_of(request)
        return envelope(records_of(zone).batch(await json_body(request, invalid_json)))

    async def verify_token(request: web.Request) -> web.StreamResponse:
        valid = {"code": 10000, "message": "This API Token is valid and active", "type": None}
        return envelope({"id": "0" * 32, "status": "active"}, messages=[valid])

    records = "/zones/{zone_id}/dns_records"
    return [
        Route("GET", "/zones", list_zones),
        Route("GET", "/zones/{zone_id}", get_zone),
        Route("GET", records, list_records),
        Route("POST", records, create_record),
        Route("POST", records + "/batch", batch),
        Route("GET", records + "/{dns_record_id}", get_record),
        Route("PUT", records + "/{dns_record_id}", replace_record),
        Route("PATCH", records + "/{dns_record_id}", patch_record),
        Route("DELETE", records + "/{dns_record_id}", delete_record),
        Route("GET", "/user/tokens/verify", verify_token),
    ]

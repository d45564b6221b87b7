"""The Hetzner route table: each route parses the request, calls one operation and renders its answer.

Templates use the OpenAPI description's own placeholders (`{id}`, `{action_id}`), so a route's template
is also the key of its operation in `hetzner-cloud-openapi.json`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..simserver import Route, json_body
from . import catalogue, firewalls, servers
from .errors import invalid_input, json_error, not_found
from .listing import listing, select
from .world import World

Json = dict[str, Any]
SORT_BY_ID_NAME = {"id": lambda r: r.id, "name": lambda r: r.name}
SORT_WITH_CREATED = {**SORT_BY_ID_NAME, "created": lambda r: r.created}


def _reply(payload: Json | None, status: int = 200) -> web.Response:
    if payload is None:
        return web.Response(status=204)
    return web.json_response(payload, status=status)


def build_routes(world: World, server_limit: Callable[[], int | None]) -> list[Route]:
    def route(method: str, template: str, status: int = 200) -> Callable[[Callable[..., Json | None]], Route]:
        """Register `fn(request, body)`; the world is settled to the current simulated instant first."""

        def register(fn: Callable[..., Json | None]) -> Route:
            async def handler(request: web.Request) -> web.StreamResponse:
                body = await json_body(request, json_error) if method in ("POST", "PUT") else {}
                world.settle()
                return _reply(fn(request, body), status)

            routes.append(Route(method, template, handler))
            return routes[-1]

        return register

    routes: list[Route] = []
    info = request_info

    # --- servers ---
    @route("GET", "/servers")
    def list_servers(request: web.Request, body: Json) -> Json:
        query = request.query
        chosen = select(list(world.servers.values()), query, name=lambda s: s.name, labels=lambda s: s.labels,
                        sort_keys=SORT_WITH_CREATED)  # fmt: skip
        if statuses := query.getall("status", []):
            chosen = [s for s in chosen if s.status in statuses]
        return listing("servers", chosen, query, world.render_server)

    @route("POST", "/servers", 201)
    def create_server(request: web.Request, body: Json) -> Json:
        return servers.create_server(world, body, server_limit())

    @route("GET", "/servers/{id}")
    def get_server(request: web.Request, body: Json) -> Json:
        return {"server": world.render_server(servers.get_server(world, info(request, "id")))}

    @route("PUT", "/servers/{id}")
    def update_server(request: web.Request, body: Json) -> Json:
        return servers.update_server(world, servers.get_server(world, info(request, "id")), body)

    @route("DELETE", "/servers/{id}")
    def delete_server(request: web.Request, body: Json) -> Json:
        return servers.delete_server(world, servers.get_server(world, info(request, "id")))

    @route("GET", "/servers/{id}/actions")
    def list_server_actions(request: web.Request, body: Json) -> Json:
        server = servers.get_server(world, info(request, "id"))
        return _list_actions(world, servers.actions_of(world, server.id), request)

    @route("GET", "/servers/{id}/actions/{action_id}")
    def get_server_action(request: web.Request, body: Json) -> Json:
        server = servers.get_server(world, info(request, "id"))
        action = world.actions.get(_int(info(request, "action_id")))
        if action is None or (server.id, "server") not in action.resources:
            raise not_found("action", info(request, "action_id"))
        return {"action": action.render(world.clock)}

    for name in servers.SERVER_ACTIONS:
        routes.append(_server_action_route(world, name))

    # --- actions ---
    @route("GET", "/actions")
    def list_actions(request: web.Request, body: Json) -> Json:
        ids = request.query.getall("id", [])
        if not ids:
            raise invalid_input("id", "at least one id is required")
        found = [world.actions[i] for i in map(_int, ids) if i in world.actions]
        return _list_actions(world, found, request)

    @route("GET", "/actions/{id}")
    def get_action(request: web.Request, body: Json) -> Json:
        action = world.actions.get(_int(info(request, "id")))
        if action is None:
            raise not_found("action", info(request, "id"))
        return {"action": action.render(world.clock)}

    # --- ssh keys ---
    @route("GET", "/ssh_keys")
    def list_ssh_keys(request: web.Request, body: Json) -> Json:
        chosen = select(list(world.ssh_keys.values()), request.query, name=lambda k: k.name,
                        labels=lambda k: k.labels, sort_keys=SORT_BY_ID_NAME)  # fmt: skip
        if "fingerprint" in request.query:
            chosen = [k for k in chosen if k.fingerprint == request.query["fingerprint"]]
        return listing("ssh_keys", chosen, request.query, world.render_ssh_key)

    @route("POST", "/ssh_keys", 201)
    def create_ssh_key(request: web.Request, body: Json) -> Json:
        return firewalls.create_ssh_key(world, body)

    @route("GET", "/ssh_keys/{id}")
    def get_ssh_key(request: web.Request, body: Json) -> Json:
        return {"ssh_key": world.render_ssh_key(firewalls.get_ssh_key(world, info(request, "id")))}

    @route("PUT", "/ssh_keys/{id}")
    def update_ssh_key(request: web.Request, body: Json) -> Json:
        return firewalls.update_ssh_key(world, firewalls.get_ssh_key(world, info(request, "id")), body)

    @route("DELETE", "/ssh_keys/{id}")
    def delete_ssh_key(request: web.Request, body: Json) -> None:
        world.ssh_keys.pop(firewalls.get_ssh_key(world, info(request, "id")).id)

    # --- firewalls ---
    @route("GET", "/firewalls")
    def list_firewalls(request: web.Request, body: Json) -> Json:
        chosen = select(list(world.firewalls.values()), request.query, name=lambda f: f.name,
                        labels=lambda f: f.labels, sort_keys=SORT_WITH_CREATED)  # fmt: skip
        return listing("firewalls", chosen, request.query, world.render_firewall)

    @route("POST", "/firewalls", 201)
    def create_firewall(request: web.Request, body: Json) -> Json:
        return firewalls.create_firewall(world, body)

    @route("GET", "/firewalls/{id}")
    def get_firewall(request: web.Request, body: Json) -> Json:
        return {"firewall": world.render_firewall(firewalls.get_firewall(world, info(request, "id")))}

    @route("PUT", "/firewalls/{id}")
    def update_firewall(request: web.Request, body: Json) -> Json:
        return firewalls.update_firewall(world, firewalls.get_firewall(world, info(request, "id")), body)

    @route("DELETE", "/firewalls/{id}")
    def delete_firewall(request: web.Request, body: Json) -> None:
        firewalls.delete_firewall(world, firewalls.get_firewall(world, info(request, "id")))

    firewall_actions = {
        "set_rules": firewalls.set_rules,
        "apply_to_resources": firewalls.apply_to_resources,
        "remove_from_resources": firewalls.remove_from_resources,
    }
    for name, operation in firewall_actions.items():
        routes.append(_firewall_action_route(world, name, operation))

    routes.extend(_catalogue_routes())
    return routes


def request_info(request: web.Request, name: str) -> str:
    return request.match_info[name]


def _int(raw: str) -> int:
    if not raw.isdigit():
        raise invalid_input("id", f"{raw!r} is not an ID")
    return int(raw)


def _list_actions(world: World, actions: list[Any], request: web.Request) -> Json:
    chosen = select(actions, request.query, sort_keys={"id": lambda a: a.id, "command": lambda a: a.command,
                    "status": lambda a: a.status, "started": lambda a: a.started})  # fmt: skip
    if statuses := request.query.getall("status", []):
        chosen = [a for a in chosen if a.status in statuses]
    return listing("actions", chosen, request.query, lambda a: a.render(world.clock))


def _server_action_route(world: World, name: str) -> Route:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await json_body(request, json_error)
        world.settle()
        server = servers.get_server(world, request_info(request, "id"))
        return web.json_response(servers.run_server_action(world, server, name, body), status=201)

    return Route("POST", f"/servers/{{id}}/actions/{name}", handler)


def _firewall_action_route(world: World, name: str, operation: Callable[..., Json]) -> Route:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await json_body(request, json_error)
        world.settle()
        firewall = firewalls.get_firewall(world, request_info(request, "id"))
        return web.json_response(operation(world, firewall, body), status=201)

    return Route("POST", f"/firewalls/{{id}}/actions/{name}", handler)


def _catalogue_routes() -> list[Route]:
    """Read-only collections: `GET /<plural>` (filter by `name`, and for images `architecture`/`type`)
    and `GET /<plural>/{id}`."""
    collections: dict[str, tuple[str, list[Any], Callable[[Any], Json]]] = {
        "server_types": ("server_type", list(catalogue.SERVER_TYPES), lambda t: t.render()),
        "locations": ("location", list(catalogue.LOCATIONS), lambda loc: loc.render()),
        "datacenters": ("datacenter", list(catalogue.LOCATIONS), catalogue.render_datacenter),
        "images": ("image", list(catalogue.IMAGES), lambda i: i.render()),
    }
    routes = []
    for plural, (singular, items, render) in collections.items():
        routes.append(Route("GET", f"/{plural}", _catalogue_list(plural, items, render)))
        routes.append(Route("GET", f"/{plural}/{{id}}", _catalogue_get(singular, items, render)))
    return routes


def _catalogue_list(plural: str, items: list[Any], render: Callable[[Any], Json]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        query = request.query
        name_of = (lambda loc: loc.datacenter) if plural == "datacenters" else (lambda item: item.name)
        chosen = select(items, query, name=name_of, sort_keys=SORT_BY_ID_NAME)
        if plural == "images":
            if "architecture" in query:
                chosen = [i for i in chosen if i.architecture == query["architecture"]]
            if types := query.getall("type", []):
                chosen = [i for i in chosen if "system" in types]
        payload = listing(plural, chosen, query, render)
        if plural == "datacenters":
            payload["recommendation"] = items[0].id
        return web.json_response(payload)

    return handler


def _catalogue_get(singular: str, items: list[Any], render: Callable[[Any], Json]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        ident = request_info(request, "id")
        item = next((i for i in items if str(i.id) == ident), None)
        if item is None:
            raise not_found(singular, ident)
        return web.json_response({singular: render(item)})

    return handler

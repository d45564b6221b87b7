"""The Hetzner route table: each route parses the request, calls one operation and renders its answer.

Templates use the OpenAPI description's own placeholders (`{id}`, `{action_id}`), so a route's template
is also the key of its operation in `hetzner-cloud-openapi.json`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from ..simserver import Route, json_body
from . import catalogue, firewalls, images, pricing, primary_ips, servers
from .errors import invalid_input, json_error, not_found
from .listing import listing, select
from .resources import find, update_named
from .world import Action, World

Json = dict[str, Any]
Handler = Callable[[web.Request, Json], "Json | None"]
SORT_BY_ID_NAME: Mapping[str, Callable[[Any], Any]] = {"id": lambda r: r.id, "name": lambda r: r.name}
SORT_WITH_CREATED = {**SORT_BY_ID_NAME, "created": lambda r: r.created}


def _route(world: World, method: str, template: str, fn: Handler, status: int = 200) -> Route:
    """`fn(request, body)` runs on a world settled to the current simulated instant; None answers 204."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await json_body(request, json_error) if method in ("POST", "PUT") else {}
        world.settle()
        payload = fn(request, body)
        return web.Response(status=204) if payload is None else web.json_response(payload, status=status)

    return Route(method, template, handler)


@dataclass(frozen=True)
class Collection:
    """A named, labelled resource with the usual five routes: list, create, get, update, delete."""

    plural: str
    singular: str
    store: Callable[[], dict[int, Any]]
    render: Callable[[Any], Json]
    create: Callable[[Json], Json]
    delete: Callable[[Any], Json | None]
    sort_keys: Mapping[str, Callable[[Any], Any]]
    narrow: Callable[[list[Any], MultiMapping[str]], list[Any]] = lambda items, query: items
    check_name: Callable[[Json], str] | None = None
    replace: Callable[[Any, Json], Any] | None = None  # a PUT with more than name and labels

    def routes(self, world: World) -> list[Route]:
        base, item = f"/{self.plural}", f"/{self.plural}/{{id}}"

        def one(request: web.Request) -> Any:
            return find(self.store(), self.singular, request.match_info["id"])

        def list_all(request: web.Request, body: Json) -> Json:
            query = request.query
            items = select(list(self.store().values()), query, name=lambda r: r.name,
                           labels=lambda r: r.labels, sort_keys=self.sort_keys)  # fmt: skip
            return listing(self.plural, self.narrow(items, query), query, self.render)

        def update(request: web.Request, body: Json) -> Json:
            if self.replace is not None:
                return {self.singular: self.render(self.replace(one(request), body))}
            kind = self.singular.replace("_", " ")
            extra = {"check_name": self.check_name} if self.check_name else {}
            updated = update_named(one(request), body, self.store().values(), kind, **extra)
            return {self.singular: self.render(updated)}

        return [
            _route(world, "GET", base, list_all),
            _route(world, "POST", base, lambda request, body: self.create(body), 201),
            _route(world, "GET", item, lambda request, body: {self.singular: self.render(one(request))}),
            _route(world, "PUT", item, update),
            _route(world, "DELETE", item, lambda request, body: self.delete(one(request))),
        ]


def _by_status(items: list[Any], query: MultiMapping[str]) -> list[Any]:
    statuses = query.getall("status", [])
    return [item for item in items if item.status in statuses] if statuses else items


def _by_ip(ips: list[Any], query: MultiMapping[str]) -> list[Any]:
    wanted = query.get("ip")
    return [ip for ip in ips if ip.ip == wanted] if wanted else ips


def _by_fingerprint(keys: list[Any], query: MultiMapping[str]) -> list[Any]:
    wanted = query.get("fingerprint")
    return [key for key in keys if key.fingerprint == wanted] if wanted else keys


def build_routes(
    world: World,
    server_limit: Callable[[], int | None],
    unavailable: Callable[[], AbstractSet[tuple[str, str]]] = frozenset,
) -> list[Route]:
    # Renderers are looked up per call, so tests can swap one in to prove the schema check bites.
    collections = [
        Collection("servers", "server", lambda: world.servers, lambda server: world.render_server(server),
                   lambda body: servers.create_server(world, body, server_limit(), unavailable()),
                   lambda server: servers.delete_server(world, server),
                   SORT_WITH_CREATED, _by_status, servers.hostname),
        Collection("ssh_keys", "ssh_key", lambda: world.ssh_keys, world.render_ssh_key,
                   lambda body: firewalls.create_ssh_key(world, body),
                   lambda key: firewalls.delete_ssh_key(world, key),
                   SORT_BY_ID_NAME, _by_fingerprint),
        Collection("firewalls", "firewall", lambda: world.firewalls, world.render_firewall,
                   lambda body: firewalls.create_firewall(world, body),
                   lambda firewall: firewalls.delete_firewall(world, firewall),
                   SORT_WITH_CREATED),
        Collection("primary_ips", "primary_ip", lambda: world.primary_ips, world.render_primary_ip,
                   lambda body: primary_ips.create_primary_ip(world, body),
                   lambda ip: primary_ips.delete_primary_ip(world, ip),
                   {"id": lambda r: r.id, "created": lambda r: r.created}, _by_ip,
                   replace=lambda ip, body: primary_ips.update_primary_ip(world, ip, body)),
    ]  # fmt: skip
    routes = [route for collection in collections for route in collection.routes(world)]
    routes += _action_routes(world)
    routes += [_server_action_route(world, name) for name in servers.SERVER_ACTIONS]
    routes += [_resource_action_route(world, "firewalls", lambda: world.firewalls, name, op)
               for name, op in firewalls.FIREWALL_ACTIONS.items()]  # fmt: skip
    routes += [_resource_action_route(world, "primary_ips", lambda: world.primary_ips, name, op)
               for name, op in primary_ips.PRIMARY_IP_ACTIONS.items()]  # fmt: skip
    routes += _image_routes(world)
    routes.append(_route(world, "GET", "/pricing", lambda request, body: pricing.render_pricing()))
    routes += _catalogue_routes()
    return routes


def _int(raw: str) -> int:
    if not raw.isdigit():
        raise invalid_input("id", f"{raw!r} is not an ID")
    return int(raw)


def _action(world: World, raw_id: str, belongs: Callable[[Action], bool] = lambda action: True) -> Json:
    action = world.actions.get(_int(raw_id))
    if action is None or not belongs(action):
        raise not_found("action", raw_id)
    return {"action": action.render(world.clock)}


def _list_actions(world: World, actions: list[Action], query: MultiMapping[str]) -> Json:
    sort_keys = {"id": lambda a: a.id, "command": lambda a: a.command, "status": lambda a: a.status,
                 "started": lambda a: a.started}  # fmt: skip
    return listing("actions", _by_status(select(actions, query, sort_keys=sort_keys), query), query,
                   lambda action: action.render(world.clock))  # fmt: skip


def _action_routes(world: World) -> list[Route]:
    def list_by_ids(request: web.Request, body: Json) -> Json:
        ids = request.query.getall("id", [])
        if not ids:
            raise invalid_input("id", "at least one id is required")
        found = [world.actions[i] for i in map(_int, ids) if i in world.actions]
        return _list_actions(world, found, request.query)

    return [
        _route(world, "GET", "/actions", list_by_ids),
        _route(world, "GET", "/actions/{id}", lambda request, body: _action(world, request.match_info["id"])),
        *_actions_of(world, "servers", "server", lambda ident: servers.get_server(world, ident).id),
        *_actions_of(world, "images", "image", lambda ident: images.find_any_image(world, ident).id),
        *_actions_of(world, "primary_ips", "primary_ip",
                     lambda ident: find(world.primary_ips, "primary_ip", ident).id),
    ]  # fmt: skip


def _actions_of(world: World, plural: str, kind: str, resource_id: Callable[[str], int]) -> list[Route]:
    """`GET /<plural>/{id}/actions[/{action_id}]`: the actions that name this resource."""

    def list_them(request: web.Request, body: Json) -> Json:
        rid = resource_id(request.match_info["id"])
        mine = [a for a in world.actions.values() if (rid, kind) in a.resources]
        return _list_actions(world, mine, request.query)

    def one(request: web.Request, body: Json) -> Json:
        rid = resource_id(request.match_info["id"])
        return _action(world, request.match_info["action_id"], lambda a: (rid, kind) in a.resources)

    return [
        _route(world, "GET", f"/{plural}/{{id}}/actions", list_them),
        _route(world, "GET", f"/{plural}/{{id}}/actions/{{action_id}}", one),
    ]


def _server_action_route(world: World, name: str) -> Route:
    def run(request: web.Request, body: Json) -> Json:
        server = servers.get_server(world, request.match_info["id"])
        return servers.run_server_action(world, server, name, body)

    return _route(world, "POST", f"/servers/{{id}}/actions/{name}", run, 201)


def _resource_action_route(
    world: World, plural: str, store: Callable[[], dict[int, Any]], name: str, operation: Callable[..., Json]
) -> Route:
    def run(request: web.Request, body: Json) -> Json:
        return operation(world, find(store(), plural[:-1], request.match_info["id"]), body)

    return _route(world, "POST", f"/{plural}/{{id}}/actions/{name}", run, 201)


def _image_routes(world: World) -> list[Route]:
    """System images from the catalogue and the project's snapshots and backups, in one collection."""

    def on_one(operation: Callable[..., Json | None]) -> Handler:
        def handle(request: web.Request, body: Json) -> Json | None:
            return operation(world, images.find_any_image(world, request.match_info["id"]), body)

        return handle

    def get(world: World, image: images.AnyImage, body: Json) -> Json:
        return {"image": world.render_image(image)}

    def delete(world: World, image: images.AnyImage, body: Json) -> None:
        images.delete_image(world, image)

    protect = on_one(images.change_image_protection)
    return [
        _route(world, "GET", "/images", lambda request, body: images.list_images(world, request.query)),
        _route(world, "GET", "/images/{id}", on_one(get)),
        _route(world, "PUT", "/images/{id}", on_one(images.update_image)),
        _route(world, "DELETE", "/images/{id}", on_one(delete)),
        _route(world, "POST", "/images/{id}/actions/change_protection", protect, 201),
    ]


def _catalogue_routes() -> list[Route]:
    """Read-only collections: `GET /<plural>` (filter by `name`) and `GET /<plural>/{id}`."""
    collections: dict[str, tuple[str, list[Any], Callable[[Any], Json]]] = {
        "server_types": ("server_type", list(catalogue.SERVER_TYPES), lambda t: t.render()),
        "locations": ("location", list(catalogue.LOCATIONS), lambda loc: loc.render()),
        "datacenters": ("datacenter", list(catalogue.LOCATIONS), catalogue.render_datacenter),
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
        payload = listing(plural, chosen, query, render)
        if plural == "datacenters":
            payload["recommendation"] = items[0].id
        return web.json_response(payload)

    return handler


def _catalogue_get(singular: str, items: list[Any], render: Callable[[Any], Json]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        ident = request.match_info["id"]
        item = next((i for i in items if str(i.id) == ident), None)
        if item is None:
            raise not_found(singular, ident)
        return web.json_response({singular: render(item)})

    return handler

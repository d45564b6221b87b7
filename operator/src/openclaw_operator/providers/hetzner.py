"""A thin adapter over the official hcloud SDK: the few calls the operator makes, as observations.

The SDK is synchronous (requests), so calls run in this provider's own pool of CLAWHOST_CONCURRENCY
threads (asyncio's default pool has only cpu_count + 4, which would quietly cap a burst of creates at six
in flight on a 2-core pod), over as many pooled connections. Its own retries are switched off and action
polling is never used: the operator owns waiting (see reconcile/server.py), and the limiter in the transport
owns pacing.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
from hcloud import APIException, Client
from hcloud.firewalls import (
    BoundFirewall,
    Firewall,
    FirewallResource,
    FirewallResourceLabelSelector,
    FirewallRule,
)
from hcloud.images import BoundImage, Image
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer, Server
from pydantic import SecretStr

from openclaw_operator.providers.errors import (
    Failure,
    FailureKind,
    Operation,
    classify_hetzner,
    provider_failure,
)
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.providers.transport import gate_session
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import (
    ActionObservation,
    ActionStatus,
    FirewallObservation,
    FirewallRuleSpec,
    ImageStatus,
    ServerObservation,
    ServerStatus,
    ServerTypeInfo,
    SnapshotObservation,
)

T = TypeVar("T")
PROVIDER = "hetzner"
PAGE_SIZE = 50  # Hetzner's maximum


def server_observation(server: BoundServer | Server) -> ServerObservation:
    public = server.public_net
    ipv4 = public.ipv4.ip if public is not None and public.ipv4 is not None else None
    ipv6 = public.ipv6.ip if public is not None and public.ipv6 is not None else None  # the /64
    protection = server.protection or {"delete": False, "rebuild": False}
    server_type = server.server_type
    return ServerObservation(
        id=int(server.id or 0),
        name=server.name or "",
        status=_enum(ServerStatus, server.status, ServerStatus.UNKNOWN),
        server_type=(server_type.name or "") if server_type is not None else "",
        labels=dict(server.labels or {}),
        ipv4=ipv4,
        ipv6=naming.ipv6_address(ipv6),
        disk_gb=server.primary_disk_size,
        architecture=server_type.architecture if server_type is not None else None,
        backups=server.backup_window is not None,
        delete_protected=bool(protection.get("delete")),
        rebuild_protected=bool(protection.get("rebuild")),
        location=server.location.name if server.location is not None else None,
        outgoing_traffic=server.outgoing_traffic,
        ingoing_traffic=server.ingoing_traffic,
        included_traffic=server.included_traffic,
    )


def snapshot_observation(image: BoundImage | Image) -> SnapshotObservation:
    source = image.created_from
    return SnapshotObservation(
        id=int(image.id or 0),
        status=_enum(ImageStatus, image.status, ImageStatus.CREATING),
        labels=dict(image.labels or {}),
        size_gb=image.image_size,
        disk_gb=image.disk_size,
        created=image.created,
        server_id=int(source.id) if source is not None and source.id is not None else None,
    )


def action_observation(data: dict[str, Any]) -> ActionObservation:
    error = data.get("error") or {}
    return ActionObservation(
        id=int(data["id"]),
        command=str(data.get("command", "")),
        status=_enum(ActionStatus, data.get("status"), ActionStatus.RUNNING),
        error_message=error.get("message") if isinstance(error, dict) else None,
    )


E = TypeVar("E", ServerStatus, ActionStatus, ImageStatus)


def _enum(enum: type[E], value: object, otherwise: E) -> E:
    """A status Hetzner may add after this code was written counts as `otherwise`."""
    try:
        return enum(str(value))
    except ValueError:
        return otherwise


class HetznerProvider:
    def __init__(
        self,
        token: SecretStr,
        endpoint: str,
        limiter: RateLimiter,
        concurrency: int,
        timeout: float,
    ) -> None:
        self.limiter = limiter
        self._threads = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="hcloud")
        self._client = Client(
            token=token.get_secret_value(),
            api_endpoint=endpoint,
            application_name="openclaw-operator",
            timeout=timeout,
        )
        # The SDK retries some errors itself with sleeps of up to a minute inside our worker thread; the
        # operator retries at the reconcile level instead (no public knob exists in hcloud 2.27).
        self._client._client._retry_max_retries = 0
        gate_session(self._client._client._session, limiter, concurrency)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def _call(self, operation: str, kind: Operation, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, fn)
        except APIException as exc:
            error_kind, slow = classify_hetzner(kind, exc.code)
            raise provider_failure(
                PROVIDER, operation, error_kind, slow, str(exc.code), exc.message
            ) from None
        except requests.RequestException as exc:
            raise provider_failure(
                PROVIDER, operation, FailureKind.RETRYING, False, "connection", type(exc).__name__
            ) from None

    # --- reads ---------------------------------------------------------------------------------------
    async def list_servers(self, label_selector: str = naming.MANAGED_SELECTOR) -> list[ServerObservation]:
        """Every page: the first says how many there are, the rest are fetched at once, so a listing of a
        big fleet takes about two answers' time instead of one per page (drift is noticed when the
        listing ends). A page that says there is still more (the fleet grew meanwhile) is followed."""

        async def fetch(page: int) -> tuple[list[ServerObservation], int | None, int | None]:
            call = functools.partial(
                self._client.servers.get_list, label_selector=label_selector, page=page, per_page=PAGE_SIZE
            )
            result = await self._call("list_servers", Operation.READ, call)
            pagination = result.meta.pagination if result.meta is not None else None
            next_page = pagination.next_page if pagination is not None else None
            last_page = pagination.last_page if pagination is not None else None
            return [server_observation(server) for server in result.servers], next_page, last_page

        found, next_page, last_page = await fetch(1)
        servers = {server.id: server for server in found}
        if next_page is not None and last_page is not None and last_page >= next_page:
            pages = await asyncio.gather(*(fetch(page) for page in range(next_page, last_page + 1)))
            for found, _, _ in pages:
                servers.update((server.id, server) for server in found)
            next_page = pages[-1][1]
        while next_page is not None:
            found, next_page, _ = await fetch(next_page)
            servers.update((server.id, server) for server in found)
        return list(servers.values())

    async def list_snapshots(
        self, label_selector: str = naming.MANAGED_SELECTOR
    ) -> list[SnapshotObservation]:
        """Our snapshots (few: one per hibernated instance), page by page."""
        found: dict[int, SnapshotObservation] = {}
        page: int | None = 1
        while page is not None:
            call = functools.partial(
                self._client.images.get_list,
                type=["snapshot"],
                label_selector=label_selector,
                page=page,
                per_page=PAGE_SIZE,
            )
            result = await self._call("list_images", Operation.READ, call)
            found.update((i.id, i) for i in map(snapshot_observation, result.images))
            pagination = result.meta.pagination if result.meta is not None else None
            page = pagination.next_page if pagination is not None else None
        return list(found.values())

    async def get_snapshot(self, image_id: int) -> SnapshotObservation | None:
        try:
            image = await self._call(
                "get_image", Operation.READ, lambda: self._client.images.get_by_id(image_id)
            )
        except Failure as exc:
            if exc.kind == FailureKind.NOT_FOUND:
                return None
            raise
        return snapshot_observation(image)

    async def get_server(self, server_id: int) -> ServerObservation | None:
        try:
            server = await self._call(
                "get_server", Operation.READ, lambda: self._client.servers.get_by_id(server_id)
            )
        except Failure as exc:
            if exc.kind == FailureKind.NOT_FOUND:
                return None
            raise
        return server_observation(server)

    async def server_by_name(self, name: str) -> ServerObservation | None:
        result = await self._call(
            "get_server", Operation.READ, lambda: self._client.servers.get_list(name=name)
        )
        return server_observation(result.servers[0]) if result.servers else None

    async def actions(self, ids: list[int]) -> dict[int, ActionObservation]:
        if not ids:
            return {}
        found: dict[int, ActionObservation] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            chunk = ids[start : start + PAGE_SIZE]
            params = {"id": chunk, "per_page": PAGE_SIZE}
            fetch = functools.partial(self._client.request, "GET", "/actions", params=params)
            data = await self._call("get_actions", Operation.READ, fetch)
            found.update((a.id, a) for a in map(action_observation, data.get("actions", [])))
        return found

    async def server_type(self, name: str) -> ServerTypeInfo | None:
        result = await self._call(
            "get_server_type", Operation.READ, lambda: self._client.server_types.get_list(name=name)
        )
        if not result.server_types:
            return None
        found = result.server_types[0]
        return ServerTypeInfo(
            name=found.name or name,
            disk_gb=int(found.disk or 0),
            architecture=found.architecture or "",
            storage_type=found.storage_type or "local",
            monthly_net_eur=tuple(
                (str(p["location"]), float(p["price_monthly"]["net"]))
                for p in found.prices or ()
                if isinstance(p, dict) and "location" in p and "price_monthly" in p
            ),
        )

    # --- writes --------------------------------------------------------------------------------------
    async def create_server(
        self,
        *,
        name: str,
        server_type: str,
        image: str,
        location: str,
        labels: dict[str, str],
        user_data: str,
        from_snapshot: int | None = None,
    ) -> tuple[ServerObservation, int]:
        source = Image(id=from_snapshot) if from_snapshot is not None else Image(name=image)
        response = await self._call(
            "create_server",
            Operation.CREATE,
            lambda: self._client.servers.create(
                name=name,
                server_type=ServerType(name=server_type),
                image=source,
                location=Location(name=location),
                labels=labels,
                user_data=user_data,
                start_after_create=True,
            ),
        )
        return server_observation(response.server), int(response.action.id)

    async def server_action(self, command: str, server_id: int, payload: dict[str, Any] | None = None) -> int:
        """POST /servers/{id}/actions/{command}; the started action's id."""
        url = f"/servers/{server_id}/actions/{command}"
        data = await self._call(
            command, Operation.ACTION, lambda: self._client.request("POST", url, json=payload or {})
        )
        return int(data["action"]["id"])

    async def delete_server(self, server_id: int) -> int | None:
        """The delete action's id, or None when the server is already gone."""
        try:
            data = await self._call(
                "delete_server",
                Operation.DELETE,
                lambda: self._client.request("DELETE", f"/servers/{server_id}"),
            )
        except Failure as exc:
            if exc.kind == FailureKind.NOT_FOUND:
                return None
            raise
        return int(data["action"]["id"])

    async def create_snapshot(
        self, server_id: int, description: str, labels: dict[str, str]
    ) -> tuple[SnapshotObservation, int]:
        """POST /servers/{id}/actions/create_image type=snapshot: the image (creating) and the action's id."""
        body = {"type": "snapshot", "description": description, "labels": labels}
        url = f"/servers/{server_id}/actions/create_image"
        data = await self._call(
            "create_image", Operation.ACTION, lambda: self._client.request("POST", url, json=body)
        )
        image = BoundImage(self._client.images, data["image"])
        return snapshot_observation(image), int(data["action"]["id"])

    async def delete_snapshot(self, image_id: int) -> bool:
        """False when it was already gone."""
        try:
            url = f"/images/{image_id}"
            await self._call("delete_image", Operation.DELETE, lambda: self._client.request("DELETE", url))
        except Failure as exc:
            if exc.kind == FailureKind.NOT_FOUND:
                return False
            raise
        return True

    async def set_snapshot_labels(self, image_id: int, labels: dict[str, str]) -> SnapshotObservation:
        data = await self._call(
            "update_image",
            Operation.UPDATE,
            lambda: self._client.request("PUT", f"/images/{image_id}", json={"labels": labels}),
        )
        return snapshot_observation(BoundImage(self._client.images, data["image"]))

    async def set_labels(self, server_id: int, labels: dict[str, str]) -> ServerObservation:
        return await self._update_server("update_server", server_id, {"labels": labels})

    async def claim_server(self, server_id: int, name: str, labels: dict[str, str]) -> ServerObservation:
        """A warm-pool server becomes an instance's: its name and all its labels in one PUT (Hetzner
        replaces the labels whole), so it is in the pool or the instance's, never both."""
        return await self._update_server("claim_server", server_id, {"name": name, "labels": labels})

    async def _update_server(self, operation: str, server_id: int, body: dict[str, Any]) -> ServerObservation:
        data = await self._call(
            operation,
            Operation.UPDATE,
            lambda: self._client.request("PUT", f"/servers/{server_id}", json=body),
        )
        return server_observation(BoundServer(self._client.servers, data["server"]))

    # --- the managed firewall ----------------------------------------------------------------------
    async def list_firewalls(self, label_selector: str) -> list[FirewallObservation]:
        found = await self._call(
            "list_firewalls",
            Operation.READ,
            lambda: self._client.firewalls.get_all(label_selector=label_selector),
        )
        return [firewall_observation(firewall) for firewall in found]

    async def firewall_by_name(self, name: str) -> FirewallObservation | None:
        found = await self._call(
            "get_firewall", Operation.READ, lambda: self._client.firewalls.get_by_name(name)
        )
        return None if found is None else firewall_observation(found)

    async def create_firewall(
        self, *, name: str, labels: dict[str, str], rules: tuple[FirewallRuleSpec, ...], selector: str
    ) -> FirewallObservation:
        """Created already applied to `selector`, so no server is ever without it once it exists."""
        response = await self._call(
            "create_firewall",
            Operation.CREATE,
            lambda: self._client.firewalls.create(
                name=name,
                rules=[_sdk_rule(rule) for rule in rules],
                labels=labels,  # type: ignore[arg-type]
                resources=[_selector_resource(selector)],
            ),
        )
        return firewall_observation(response.firewall)

    async def set_firewall_rules(self, firewall_id: int, rules: tuple[FirewallRuleSpec, ...]) -> None:
        await self._call(
            "set_firewall_rules",
            Operation.ACTION,
            lambda: self._client.firewalls.set_rules(
                Firewall(id=firewall_id), [_sdk_rule(rule) for rule in rules]
            ),
        )

    async def apply_firewall_to_selector(self, firewall_id: int, selector: str) -> None:
        await self._call(
            "apply_firewall",
            Operation.ACTION,
            lambda: self._client.firewalls.apply_to_resources(
                Firewall(id=firewall_id), [_selector_resource(selector)]
            ),
        )


def firewall_observation(firewall: BoundFirewall | Firewall) -> FirewallObservation:
    selectors = tuple(
        applied.label_selector.selector
        for applied in firewall.applied_to or []
        if applied.type == "label_selector" and applied.label_selector is not None
    )
    return FirewallObservation(
        id=int(firewall.id or 0),
        name=firewall.name or "",
        labels=dict(firewall.labels or {}),
        rules=tuple(FirewallRuleSpec.from_api(rule.to_payload()) for rule in firewall.rules or []),
        selectors=tuple(selector for selector in selectors if selector),
    )


def _sdk_rule(rule: FirewallRuleSpec) -> FirewallRule:
    return FirewallRule(
        direction=rule.direction,
        protocol=rule.protocol,
        port=rule.port,
        source_ips=list(rule.source_ips),
        destination_ips=list(rule.destination_ips),
        description=rule.description,
    )


def _selector_resource(selector: str) -> FirewallResource:
    return FirewallResource(
        type="label_selector", label_selector=FirewallResourceLabelSelector(selector=selector)
    )

"""Primary IPs: the public addresses of servers, as resources of their own.

Every server address is a primary IP. One named in `public_net` at server create is assigned to the new
server; otherwise one is made for it with `auto_delete=true` (the spec: "If omitted and enable_ipv4 is true,
a new ipv4 Primary IP will automatically be created"). A server's deletion deletes its `auto_delete` IPs and
leaves the others unassigned, ready for the next server. Assigning and unassigning need the server `off`;
since 1 May 2026 an assigned IP must be unassigned before it can be deleted (`must_be_unassigned`).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..simserver import ApiError
from .catalogue import Location, find_location
from .errors import hetzner_error, invalid_input
from .resources import HOSTNAME, checked_labels, ensure_unique_name, find, required_name, update_named
from .world import PrimaryIP, Server, World

IPV6_POOL = ipaddress.IPv6Network("2001:db8::/32")  # documentation prefix
IP_TYPES = ("ipv4", "ipv6")
# Operation-specific codes (the spec's tables; statuses from the server-create table in research notes).
STATUS = {
    "primary_ip_assigned": 422,
    "primary_ip_already_assigned": 422,
    "primary_ip_datacenter_mismatch": 422,
    "primary_ip_version_mismatch": 412,
    "server_has_ipv4": 422,
    "server_has_ipv6": 422,
    "must_be_unassigned": 422,
}


def _error(code: str, message: str) -> ApiError:
    error = hetzner_error(code, message)
    error.status = STATUS.get(code, error.status)
    return error


def default_ptr(ipv4: str) -> str:
    return f"static.{'.'.join(reversed(ipv4.split('.')))}.clients.your-server.de"


def new_primary_ip(
    world: World, ip_type: str, location: Location, *, name: str | None = None,
    labels: dict[str, str] | None = None, auto_delete: bool = False,
) -> PrimaryIP:  # fmt: skip
    """Allocate an address (from pools keyed by the IP's id, so addresses never repeat) and book it."""
    ident = world.next_id()
    if ip_type == "ipv4":
        address = str(world.ipv4_pool + ident)
        ptrs = {address: default_ptr(address)}
    else:
        address = f"{ipaddress.IPv6Address(int(IPV6_POOL.network_address) + (ident << 64))}/64"
        ptrs = {}
    primary_ip = PrimaryIP(
        ident, name or f"primary_ip-{ident}", labels or {}, ip_type, address, location,
        world.clock.now(), ptrs, auto_delete=auto_delete,
    )  # fmt: skip
    world.primary_ips[ident] = primary_ip
    return primary_ip


def _slot(server: Server, ip_type: str) -> int | None:
    return server.ipv4_id if ip_type == "ipv4" else server.ipv6_id


def _assign(primary_ip: PrimaryIP, server: Server) -> None:
    primary_ip.assignee_id = server.id
    if primary_ip.type == "ipv4":
        server.ipv4_id = primary_ip.id
    else:
        server.ipv6_id = primary_ip.id


def _check_assignable(server: Server, ip_type: str, location: Location) -> None:
    """An unassigned IP of this type and location may go to this server now?"""
    if server.status != "off":
        raise hetzner_error("server_not_stopped", "server must be powered off to change its primary IPs")
    if _slot(server, ip_type) is not None:
        raise _error(f"server_has_{ip_type}", f"server {server.id} already has an {ip_type} address")
    if location != server.location:
        raise _error("primary_ip_datacenter_mismatch", "primary IP and server are in different locations")


# --- at server create ----------------------------------------------------------------------------------
def chosen_for_new_server(
    world: World, public_net: object, location: Location
) -> dict[str, PrimaryIP | None]:
    """Check `public_net` before the server exists: the named IPs, per type (None = make one if enabled)."""
    if not isinstance(public_net, dict):
        raise invalid_input("public_net", "must be an object")
    chosen: dict[str, PrimaryIP | None] = {}
    for ip_type in IP_TYPES:
        ref = public_net.get(ip_type)
        if ref is None:
            chosen[ip_type] = None
            continue
        field = f"public_net.{ip_type}"
        if not public_net.get(f"enable_{ip_type}", True):
            raise invalid_input(field, f"cannot be given with enable_{ip_type} false")
        primary_ip = world.primary_ips.get(ref) if isinstance(ref, int) else None
        if primary_ip is None:
            raise invalid_input(field, f"primary IP {ref} not found")
        if primary_ip.type != ip_type:
            raise _error("primary_ip_version_mismatch", f"primary IP {ref} is an {primary_ip.type} address")
        if primary_ip.assignee_id is not None:
            raise _error("primary_ip_assigned", f"primary IP {ref} is already assigned to a server")
        if primary_ip.location != location:
            raise _error(
                "primary_ip_datacenter_mismatch", f"primary IP {ref} is in {primary_ip.location.name}"
            )
        chosen[ip_type] = primary_ip
    return chosen


def give_addresses(
    world: World, server: Server, public_net: dict[str, Any], chosen: dict[str, PrimaryIP | None]
) -> None:
    for ip_type in IP_TYPES:
        primary_ip = chosen[ip_type]
        if primary_ip is None and public_net.get(f"enable_{ip_type}", True):
            primary_ip = new_primary_ip(world, ip_type, server.location, auto_delete=True)
        if primary_ip is not None:
            _assign(primary_ip, server)


def holding(world: World, server: Server, address: str) -> PrimaryIP | None:
    """The server's primary IP that is, or (ipv6) contains, this address."""
    try:
        wanted = ipaddress.ip_address(address)
    except ValueError:
        raise invalid_input("ip", "is not an IP address") from None
    for ip_id in (server.ipv4_id, server.ipv6_id):
        primary_ip = world.primary_ips.get(ip_id or 0)
        if primary_ip is not None and wanted in ipaddress.ip_network(primary_ip.ip):
            return primary_ip
    return None


# --- /primary_ips ----------------------------------------------------------------------------------------
def create_primary_ip(world: World, body: dict[str, Any]) -> dict[str, Any]:
    name = required_name(body)
    ip_type = body.get("type")
    if ip_type not in IP_TYPES:
        raise invalid_input("type", "must be ipv4 or ipv6")
    # The spec marks assignee_type required, but hcloud-python sends it only with an assignee_id.
    if body.get("assignee_type", "server") != "server":
        raise invalid_input("assignee_type", "must be server")
    auto_delete = body.get("auto_delete", False)
    if not isinstance(auto_delete, bool):
        raise invalid_input("auto_delete", "must be a boolean")
    labels = checked_labels(body, {})
    assignee_id = body.get("assignee_id")
    server = None
    if assignee_id is not None:
        if "location" in body:
            raise invalid_input("location", "location and assignee_id are mutually exclusive")
        server = find(world.servers, "server", assignee_id)
        location = server.location
    else:
        found = find_location(str(body.get("location", "")))
        if found is None:
            raise invalid_input("location", f"location {body.get('location')} not found")
        location = found
    ensure_unique_name(name, world.primary_ips.values(), "primary IP")
    if server is not None:
        _check_assignable(server, str(ip_type), location)
    primary_ip = new_primary_ip(
        world, str(ip_type), location, name=name, labels=labels, auto_delete=auto_delete
    )
    if server is None:
        return {"primary_ip": world.render_primary_ip(primary_ip)}
    _assign(primary_ip, server)
    action = world.start_action("assign_primary_ip", [(primary_ip.id, "primary_ip"), (server.id, "server")])
    return {"primary_ip": world.render_primary_ip(primary_ip), "action": action.render(world.clock)}


def update_primary_ip(world: World, primary_ip: PrimaryIP, body: dict[str, Any]) -> PrimaryIP:
    auto_delete = body.get("auto_delete", primary_ip.auto_delete)
    if not isinstance(auto_delete, bool):
        raise invalid_input("auto_delete", "must be a boolean")
    update_named(primary_ip, body, world.primary_ips.values(), "primary IP")
    primary_ip.auto_delete = auto_delete
    return primary_ip


def delete_primary_ip(world: World, primary_ip: PrimaryIP) -> None:
    if primary_ip.protection_delete:
        raise hetzner_error("protected", "primary IP is protected against deletion")
    if primary_ip.assignee_id is not None:
        raise _error("must_be_unassigned", "primary IP must be unassigned before it can be deleted")
    del world.primary_ips[primary_ip.id]


# --- /primary_ips/{id}/actions/* ---------------------------------------------------------------------
def _assign_action(world: World, primary_ip: PrimaryIP, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("assignee_type") != "server":
        raise invalid_input("assignee_type", "must be server")
    server = find(world.servers, "server", body.get("assignee_id", ""))
    if primary_ip.assignee_id is not None:
        raise _error("primary_ip_already_assigned", f"primary IP {primary_ip.id} is already assigned")
    _check_assignable(server, primary_ip.type, primary_ip.location)
    _assign(primary_ip, server)
    action = world.start_action("assign_primary_ip", [(primary_ip.id, "primary_ip"), (server.id, "server")])
    return {"action": action.render(world.clock)}


def _unassign_action(world: World, primary_ip: PrimaryIP, body: dict[str, Any]) -> dict[str, Any]:
    server = world.servers.get(primary_ip.assignee_id or 0)
    if server is None:
        raise invalid_input("id", f"primary IP {primary_ip.id} is not assigned")
    if server.status != "off":
        raise hetzner_error("server_not_stopped", "server must be powered off to give up a primary IP")
    primary_ip.assignee_id = None
    if server.ipv4_id == primary_ip.id:
        server.ipv4_id = None
    if server.ipv6_id == primary_ip.id:
        server.ipv6_id = None
    action = world.start_action("unassign_primary_ip", [(primary_ip.id, "primary_ip"), (server.id, "server")])
    return {"action": action.render(world.clock)}


def _change_protection(world: World, primary_ip: PrimaryIP, body: dict[str, Any]) -> dict[str, Any]:
    delete = body.get("delete")
    if not isinstance(delete, bool):
        raise invalid_input("delete", "must be a boolean")
    if delete and primary_ip.auto_delete:
        raise invalid_input("delete", "delete protection needs auto_delete to be false")

    def apply(at: float) -> None:
        primary_ip.protection_delete = delete

    action = world.start_action("change_protection", [(primary_ip.id, "primary_ip")], on_success=apply)
    return {"action": action.render(world.clock)}


def change_dns_ptr(
    world: World, primary_ip: PrimaryIP, body: dict[str, Any], resources: list[tuple[int, str]]
) -> dict[str, Any]:
    """Set (or with `dns_ptr: null` reset) the reverse DNS of one address of this IP; used by the server's
    `change_dns_ptr` too."""
    ip, ptr = body.get("ip"), body.get("dns_ptr")
    if not isinstance(ip, str):
        raise invalid_input("ip", "is required")
    if ptr is not None and (not isinstance(ptr, str) or not HOSTNAME.match(ptr)):
        raise invalid_input("dns_ptr", "must be a valid hostname")
    try:
        inside = ipaddress.ip_address(ip) in ipaddress.ip_network(primary_ip.ip)
    except ValueError:
        raise invalid_input("ip", "is not an IP address") from None
    if not inside:
        raise invalid_input("ip", f"{ip} does not belong to primary IP {primary_ip.id}")

    def apply(at: float) -> None:
        if ptr is not None:
            primary_ip.dns_ptrs[ip] = ptr
        elif primary_ip.type == "ipv4":
            primary_ip.dns_ptrs[ip] = default_ptr(ip)
        else:
            primary_ip.dns_ptrs.pop(ip, None)

    action = world.start_action("change_dns_ptr", resources, on_success=apply)
    return {"action": action.render(world.clock)}


PRIMARY_IP_ACTIONS = {
    "assign": _assign_action,
    "unassign": _unassign_action,
    "change_protection": _change_protection,
    "change_dns_ptr": lambda world, primary_ip, body: change_dns_ptr(
        world, primary_ip, body, [(primary_ip.id, "primary_ip")]
    ),
}

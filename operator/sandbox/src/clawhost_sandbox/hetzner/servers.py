"""Server operations: create, update, delete and the `/servers/{id}/actions/*` commands, with the rules
the real API enforces (unique RFC 1123 names, 32 KiB user data, locks while an action runs, protection,
power state and disk size for `change_type`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from .catalogue import Image, ServerType, find_image, find_location, find_server_type
from .errors import hetzner_error, invalid_input
from .resources import checked_labels, ensure_unique_name, find, required_name
from .world import GUEST_SHUTDOWN_SECONDS, Action, Server, World

USER_DATA_LIMIT = 32 * 1024
_HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
HOSTNAME = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")
MAX_NAME = 63
IPV4_POOL = ipaddress.IPv4Address("100.64.0.0")  # shared address space: never a real customer's IP
IPV6_POOL = ipaddress.IPv6Network("2001:db8::/32")  # documentation prefix


def get_server(world: World, server_id: str | int) -> Server:
    return find(world.servers, "server", server_id)


def hostname(body: dict[str, Any]) -> str:
    """A server's name: unique (checked apart) and a valid hostname as per RFC 1123."""
    name = required_name(body)
    if len(name) > MAX_NAME or not HOSTNAME.match(name):
        raise invalid_input("name", "must be a valid hostname (RFC 1123)")
    return name


def _resolve_ssh_keys(world: World, refs: object) -> list[int]:
    if not isinstance(refs, list):
        raise invalid_input("ssh_keys", "must be a list")
    ids = []
    for ref in refs:
        key = next((k for k in world.ssh_keys.values() if str(ref) in (str(k.id), k.name)), None)
        if key is None:
            raise invalid_input("ssh_keys", f"ssh key {ref} not found")
        ids.append(key.id)
    return ids


def _image_for(ref: object, server_type: ServerType) -> Image:
    image = find_image(str(ref), server_type.architecture) if ref is not None else None
    if image is None:
        raise invalid_input("image", f"image {ref} not found for architecture {server_type.architecture}")
    return image


def _allocate_addresses(world: World, server: Server, public_net: dict[str, Any]) -> None:
    index = server.id
    if public_net.get("enable_ipv4", True):
        server.ipv4 = str(IPV4_POOL + index)
        server.ipv4_id = world.next_id()
        server.ipv4_ptr = f"static.{'.'.join(reversed(server.ipv4.split('.')))}.clients.your-server.de"
    if public_net.get("enable_ipv6", True):
        prefix = int(IPV6_POOL.network_address) + (index << 64)
        server.ipv6_net = f"{ipaddress.IPv6Address(prefix)}/64"
        server.ipv6_id = world.next_id()


def create_server(world: World, body: dict[str, Any], server_limit: int | None) -> dict[str, Any]:
    name = hostname(body)
    server_type = find_server_type(str(body.get("server_type", "")))
    if server_type is None:
        raise invalid_input("server_type", f"server type {body.get('server_type')} not found")
    image = _image_for(body.get("image"), server_type)
    location = find_location(str(body.get("location") or "fsn1"))
    if location is None:
        raise invalid_input("location", f"location {body.get('location')} not found")
    if location.name not in server_type.locations:
        raise hetzner_error(
            "invalid_server_type", f"server type {server_type.name} is unavailable in {location.name}"
        )
    user_data = body.get("user_data")
    if user_data is not None and (
        not isinstance(user_data, str) or len(user_data.encode()) > USER_DATA_LIMIT
    ):
        raise invalid_input("user_data", "is too long (maximum is 32 KiB)")
    labels = checked_labels(body, {})
    ssh_keys = _resolve_ssh_keys(world, body.get("ssh_keys", []))
    firewall_ids = [
        entry.get("firewall", 0) for entry in body.get("firewalls", []) if isinstance(entry, dict)
    ]
    if missing := [fid for fid in firewall_ids if fid not in world.firewalls]:
        raise invalid_input("firewalls", f"firewall {missing[0]} not found")
    ensure_unique_name(name, world.servers.values(), "server")
    if server_limit is not None and len(world.servers) >= server_limit:
        raise hetzner_error(
            "resource_limit_exceeded", "server limit exceeded", {"limits": [{"name": "project_limit"}]}
        )

    start = bool(body.get("start_after_create", True))
    now = world.clock.now()
    server = Server(
        world.next_id(), name, labels, server_type, image, location, now, "initializing",
        None, None, None, None, ssh_keys, user_data, server_type.disk,
    )  # fmt: skip
    _allocate_addresses(world, server, body.get("public_net") or {})
    world.servers[server.id] = server
    for fid in firewall_ids:
        world.firewalls[fid].server_ids.append(server.id)

    resource = [(server.id, "server")]

    def created(at: float) -> None:
        server.status = "starting" if start else "off"

    def failed(at: float) -> None:
        server.status = "off"

    action = world.start_action("create_server", resource, on_success=created, on_failure=failed)
    next_actions = []
    if start:
        next_actions.append(
            world.start_action(
                "start_server", resource, on_success=_running(server), on_failure=failed, after=action
            )
        )
    return {
        "server": world.render_server(server),
        "action": action.render(world.clock),
        "next_actions": [a.render(world.clock) for a in next_actions],
        "root_password": None if ssh_keys else world.root_password(),
    }


def _running(server: Server) -> Callable[[float], None]:
    def effect(at: float) -> None:
        server.status = "running"
        server.running_since = at

    return effect


def _status(server: Server, status: str) -> Callable[[float], None]:
    def effect(at: float) -> None:
        server.status = status
        if status != "running":
            server.running_since = None

    return effect


def delete_server(world: World, server: Server) -> dict[str, Any]:
    if server.protection_delete:
        raise hetzner_error("protected", "server is protected against deletion")
    previous = server.status
    server.status = "deleting"

    def gone(at: float) -> None:
        world.servers.pop(server.id, None)
        for firewall in world.firewalls.values():
            if server.id in firewall.server_ids:
                firewall.server_ids.remove(server.id)

    action = world.start_action(
        "delete_server", [(server.id, "server")], on_success=gone, on_failure=_status(server, previous)
    )
    return {"action": action.render(world.clock)}


# --- /servers/{id}/actions/<name> --------------------------------------------------------------------
ActionHandler = Callable[[World, Server, dict[str, Any]], dict[str, Any]]


def _power(command: str, transient: str, final: str, failed: str) -> ActionHandler:
    def handle(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
        if server.status == final:  # already there: the action succeeds without a transition
            action = world.start_action(command, [(server.id, "server")])
        else:
            server.status = transient
            on_success = _running(server) if final == "running" else _status(server, final)
            action = world.start_action(
                command, [(server.id, "server")], on_success=on_success, on_failure=_status(server, failed)
            )
        return {"action": action.render(world.clock)}

    return handle


def _shutdown(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    def halted(at: float) -> None:
        world.schedule(at + GUEST_SHUTDOWN_SECONDS, _status(server, "off"))

    if server.status == "running":
        server.status = "stopping"
        action = world.start_action(
            "shutdown_server", [(server.id, "server")], on_success=halted, on_failure=_running(server)
        )
    else:
        action = world.start_action("shutdown_server", [(server.id, "server")])
    return {"action": action.render(world.clock)}


def _restart(command: str) -> ActionHandler:
    """reboot / reset: the guest boots again, so the app is unhealthy until it has booted."""

    def handle(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
        on_success = _running(server) if server.status == "running" else None
        action = world.start_action(command, [(server.id, "server")], on_success=on_success)
        if on_success:
            server.running_since = None
        return {"action": action.render(world.clock)}

    return handle


def _rebuild(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    if server.protection_rebuild:
        raise hetzner_error("protected", "server is protected against rebuild")
    image = _image_for(body.get("image"), server.server_type)
    user_data = body.get("user_data", server.user_data)
    if user_data is not None and len(str(user_data).encode()) > USER_DATA_LIMIT:
        raise invalid_input("user_data", "is too long (maximum is 32 KiB)")

    def rebuilt(at: float) -> None:
        server.image = image
        server.user_data = user_data
        _running(server)(at)

    server.status = "rebuilding"
    server.running_since = None
    action = world.start_action(
        "rebuild_server", [(server.id, "server")], on_success=rebuilt, on_failure=_status(server, "off")
    )
    password = None if server.ssh_keys else world.root_password()
    return {"action": action.render(world.clock), "root_password": password}


def change_type_problem(server: Server, new: ServerType) -> str | None:
    """Hetzner's rule: a disk never shrinks, so the new type's disk must hold the current one. With
    `upgrade_disk` the disk grows to the new type's size, which rules out later moves back down."""
    if new.architecture != server.server_type.architecture:
        return f"server type {new.name} has a different architecture"
    if new.disk < server.primary_disk_size:
        return (
            f"server type {new.name} has a {new.disk} GB disk; the server's {server.primary_disk_size} GB"
            " disk cannot shrink"
        )
    return None


def _change_type(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    new = find_server_type(str(body.get("server_type", "")))
    if new is None:
        raise invalid_input("server_type", f"server type {body.get('server_type')} not found")
    if server.status != "off":
        raise hetzner_error("server_not_stopped", "server must be stopped before changing its type")
    upgrade_disk = bool(body.get("upgrade_disk", True))
    if problem := change_type_problem(server, new):
        raise hetzner_error("invalid_server_type", problem)

    def changed(at: float) -> None:
        server.server_type = new
        if upgrade_disk:
            server.primary_disk_size = new.disk
        server.status = "off"

    server.status = "migrating"
    action = world.start_action(
        "change_server_type", [(server.id, "server")], on_success=changed, on_failure=_status(server, "off")
    )
    return {"action": action.render(world.clock)}


def _backup(enabled: bool) -> ActionHandler:
    def handle(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
        def apply(at: float) -> None:
            server.backup_window = "22-02" if enabled else None

        command = "enable_backup" if enabled else "disable_backup"
        return {
            "action": world.start_action(command, [(server.id, "server")], on_success=apply).render(
                world.clock
            )
        }

    return handle


def _change_protection(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    delete = body.get("delete", server.protection_delete)
    rebuild = body.get("rebuild", server.protection_rebuild)
    if not isinstance(delete, bool) or not isinstance(rebuild, bool):
        raise invalid_input("delete", "must be a boolean")
    if delete != rebuild:
        raise invalid_input("rebuild", "delete and rebuild protection must have the same value")

    def apply(at: float) -> None:
        server.protection_delete, server.protection_rebuild = delete, rebuild

    action = world.start_action("change_protection", [(server.id, "server")], on_success=apply)
    return {"action": action.render(world.clock)}


def _change_dns_ptr(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    ip, ptr = body.get("ip"), body.get("dns_ptr")
    if not isinstance(ip, str):
        raise invalid_input("ip", "is required")
    if ptr is not None and (not isinstance(ptr, str) or not HOSTNAME.match(ptr)):
        raise invalid_input("dns_ptr", "must be a valid hostname")
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise invalid_input("ip", "is not an IP address") from None
    if server.ipv4 is not None and ip == server.ipv4:
        default = f"static.{'.'.join(reversed(ip.split('.')))}.clients.your-server.de"

        def apply(at: float) -> None:
            server.ipv4_ptr = ptr or default

    elif server.ipv6_net is not None and address in ipaddress.ip_network(server.ipv6_net):

        def apply(at: float) -> None:
            if ptr is None:
                server.ipv6_ptrs.pop(ip, None)
            else:
                server.ipv6_ptrs[ip] = ptr

    else:
        raise invalid_input("ip", f"{ip} is not assigned to this server")
    action = world.start_action("change_dns_ptr", [(server.id, "server")], on_success=apply)
    return {"action": action.render(world.clock)}


SERVER_ACTIONS: dict[str, ActionHandler] = {
    "poweron": _power("start_server", "starting", "running", "off"),
    "poweroff": _power("stop_server", "stopping", "off", "running"),
    "shutdown": _shutdown,
    "reboot": _restart("reboot_server"),
    "reset": _restart("reset_server"),
    "rebuild": _rebuild,
    "change_type": _change_type,
    "enable_backup": _backup(True),
    "disable_backup": _backup(False),
    "change_protection": _change_protection,
    "change_dns_ptr": _change_dns_ptr,
}


def run_server_action(world: World, server: Server, name: str, body: dict[str, Any]) -> dict[str, Any]:
    if world.is_busy(server.id):
        raise hetzner_error("locked", "server is locked by a running action")
    if server.status == "deleting":
        raise hetzner_error("locked", "server is being deleted")
    return SERVER_ACTIONS[name](world, server, body)


def actions_of(world: World, server_id: int) -> list[Action]:
    return [a for a in world.actions.values() if (server_id, "server") in a.resources]

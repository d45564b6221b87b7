"""Server operations: create, update, delete and the `/servers/{id}/actions/*` commands, with the rules
the real API enforces (unique RFC 1123 names, 32 KiB user data, locks while an action runs, protection,
power state and disk size for `change_type`)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import yaml

from . import images, primary_ips
from .boot import INSTALL_ADDS_GB, MEASURED
from .catalogue import ServerType, find_location, find_server_type
from .errors import hetzner_error, invalid_input
from .resources import HOSTNAME, checked_labels, ensure_unique_name, find, required_name
from .world import GUEST_SHUTDOWN_SECONDS, Effect, ProjectImage, Server, World

USER_DATA_LIMIT = 32 * 1024
MAX_NAME = 63


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


def create_server(
    world: World,
    body: dict[str, Any],
    server_limit: int | None,
    unavailable: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    name = hostname(body)
    server_type = find_server_type(str(body.get("server_type", "")))
    if server_type is None:
        raise invalid_input("server_type", f"server type {body.get('server_type')} not found")
    image = images.image_for(world, body.get("image"), server_type, server_type.disk)
    location = find_location(str(body.get("location") or "fsn1"))
    if location is None:
        raise invalid_input("location", f"location {body.get('location')} not found")
    if location.name not in server_type.locations:
        raise hetzner_error(
            "invalid_server_type", f"server type {server_type.name} is unavailable in {location.name}"
        )
    if (location.name, server_type.name) in unavailable:
        # Offered there, but the location has no capacity for it right now: Hetzner's placement error.
        raise hetzner_error("resource_unavailable", "error during placement")
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
    public_net = body.get("public_net") or {}
    chosen_ips = primary_ips.chosen_for_new_server(world, public_net, location)
    ensure_unique_name(name, world.servers.values(), "server")
    if server_limit is not None and len(world.servers) >= server_limit:
        raise hetzner_error(
            "resource_limit_exceeded", "server limit exceeded", {"limits": [{"name": "project_limit"}]}
        )

    start = bool(body.get("start_after_create", True))
    now = world.clock.now()
    server = Server(
        world.next_id(), name, labels, server_type, image, location, now, "initializing",
        None, None, ssh_keys, user_data, server_type.disk, images.used_disk_after_install(image),
    )  # fmt: skip
    primary_ips.give_addresses(world, server, public_net, chosen_ips)
    world.servers[server.id] = server
    for fid in firewall_ids:
        world.firewalls[fid].server_ids.append(server.id)

    resource = [(server.id, "server")]

    def created(at: float) -> None:
        server.status = "starting" if start else "off"

    def failed(at: float) -> None:
        server.status = "off"

    seconds = world.action_seconds["create_server"] + images.restore_seconds(world, image)
    action = world.start_action(
        "create_server", resource, on_success=created, on_failure=failed, seconds=seconds
    )
    next_actions = []
    if start:
        running = _running(server)
        boot = boot_kind(image, user_data)
        if world.boot_model is not None and boot in ("cold", "golden"):
            server.boot_seconds = getattr(world.boot_model, boot)
        if boot == "builder":
            running = _then_install_and_power_off(world, server, running)
        next_actions.append(
            world.start_action("start_server", resource, on_success=running, on_failure=failed, after=action)
        )
    return {
        "server": world.render_server(server),
        "action": action.render(world.clock),
        "next_actions": [a.render(world.clock) for a in next_actions],
        "root_password": None if ssh_keys else world.root_password(),
    }


def boot_kind(image: images.AnyImage, user_data: str | None) -> str | None:
    """What the guest's first boot does: a golden snapshot personalises, a system image installs
    everything, or only the install stage and then powers off (a golden builder's power_state); any
    other snapshot (a hibernation's) is None: the simulator's default boot time."""
    if isinstance(image, ProjectImage):
        return "golden" if image.labels.get("clawhost.dev/golden") == "true" else None
    if user_data and "power_state" in user_data:
        config = yaml.safe_load(user_data)
        if isinstance(config, dict) and (config.get("power_state") or {}).get("mode") == "poweroff":
            return "builder"
    return "cold"


def _then_install_and_power_off(world: World, server: Server, running: Effect) -> Effect:
    """cloud-init's power_state after the install stage: the guest writes its install to the disk and
    halts itself, so the server is `off` (what the golden build waits for) with the install's data."""
    model = world.boot_model or MEASURED

    def installed(at: float) -> None:
        if server.status == "running":
            server.used_disk_gb = min(server.primary_disk_size, server.used_disk_gb + INSTALL_ADDS_GB)
            server.status = "off"
            server.stop_running(at)

    def effect(at: float) -> None:
        running(at)
        world.schedule(at + model.install, installed)

    return effect


def _running(server: Server) -> Callable[[float], None]:
    def effect(at: float) -> None:
        server.status = "running"
        server.running_since = at

    return effect


def _status(server: Server, status: str) -> Callable[[float], None]:
    def effect(at: float) -> None:
        server.status = status
        if status != "running":
            server.stop_running(at)

    return effect


def delete_server(world: World, server: Server) -> dict[str, Any]:
    if server.protection_delete:
        raise hetzner_error("protected", "server is protected against deletion")
    previous = server.status
    server.status = "deleting"

    def gone(at: float) -> None:
        world.remove_server(server)

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
            server.stop_running(world.clock.now())
        return {"action": action.render(world.clock)}

    return handle


def _rebuild(world: World, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    if server.protection_rebuild:
        raise hetzner_error("protected", "server is protected against rebuild")
    image = images.image_for(world, body.get("image"), server.server_type, server.primary_disk_size)
    user_data = body.get("user_data", server.user_data)
    if user_data is not None and len(str(user_data).encode()) > USER_DATA_LIMIT:
        raise invalid_input("user_data", "is too long (maximum is 32 KiB)")

    def rebuilt(at: float) -> None:
        server.image = image
        server.user_data = user_data
        server.used_disk_gb = images.used_disk_after_install(image)
        _running(server)(at)

    server.status = "rebuilding"
    server.stop_running(world.clock.now())
    seconds = world.action_seconds["rebuild_server"] + images.restore_seconds(world, image)
    action = world.start_action(
        "rebuild_server",
        [(server.id, "server")],
        on_success=rebuilt,
        on_failure=_status(server, "off"),
        seconds=seconds,
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
    address = body.get("ip")
    if not isinstance(address, str):
        raise invalid_input("ip", "is required")
    primary_ip = primary_ips.holding(world, server, address)
    if primary_ip is None:
        raise invalid_input("ip", f"{address} is not assigned to this server")
    return primary_ips.change_dns_ptr(world, primary_ip, body, [(server.id, "server")])


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
    "create_image": images.create_image,
}


def run_server_action(world: World, server: Server, name: str, body: dict[str, Any]) -> dict[str, Any]:
    if world.is_busy(server.id):
        raise hetzner_error("locked", "server is locked by a running action")
    if server.status == "deleting":
        raise hetzner_error("locked", "server is being deleted")
    return SERVER_ACTIONS[name](world, server, body)

"""The simulated project: its resources, and the timeline that moves servers and actions along.

Time is evaluated lazily. Every state change that takes time is an event on a heap; `settle()` applies
all events due by the simulated clock's `now()` before anything is read or written. So the same
requests at the same simulated instants always produce the same states, and `SimClock.advance()` jumps
a server from `initializing` to `running` without any sleeping.
"""

from __future__ import annotations

import heapq
import itertools
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..simcore import Faults, SimClock
from .boot import BootModel
from .catalogue import Image, Location, ServerType, render_datacenter
from .labels import parse_selector

# Simulated seconds each asynchronous action takes before it reports success or error.
DEFAULT_ACTION_SECONDS: dict[str, float] = {
    "create_server": 8.0,
    "start_server": 6.0,
    "stop_server": 3.0,
    "shutdown_server": 1.0,
    "reboot_server": 5.0,
    "reset_server": 3.0,
    "rebuild_server": 15.0,
    "change_server_type": 20.0,
    "delete_server": 2.0,
    "enable_backup": 1.0,
    "disable_backup": 1.0,
    "change_protection": 1.0,
    "change_dns_ptr": 1.0,
    "create_image": 20.0,  # the fixed part; SNAPSHOT_SECONDS_PER_GB adds the copying (see there)
    "assign_primary_ip": 1.0,
    "unassign_primary_ip": 1.0,
    "set_firewall_rules": 1.0,
    "apply_firewall": 1.0,
    "remove_firewall": 1.0,
}
# Snapshots. Copying a disk takes time per GB of *used* data: 20 s fixed + 15 s/GB puts a server with 5-18 GB
# used at 1.5-5 min, matching the two figures we have (an assumption calibrated on them, not Hetzner's word):
# "Depending on the disk size, this typically takes 1-5 minutes" (hetsnap.com/docs/snapshots, a Hetzner
# snapshot tool) and "snapshot alone ~3 min" for a managed OpenClaw server (HN post quoted in
# research/openclaw.md, ClawHosters). A server created from a snapshot copies the image back: the same post
# says ~40 s, so 15 s per GB of the stored image on top of `create_server`.
SNAPSHOT_SECONDS_PER_GB = 15.0
RESTORE_SECONDS_PER_GB = 15.0
# A snapshot's `image_size` is the compressed size in storage, what Hetzner bills per GB-month (the spec:
# "the value relevant for calculating costs"). We assume 0.4 of the used data: OS and app files compress about
# 2.5:1; real ratios vary with the data. A fresh system image uses about 1.8 GB of its disk.
SNAPSHOT_COMPRESSION = 0.4
SYSTEM_IMAGE_USED_GB = 1.8
BACKUP_SLOTS = 7  # "For every server, there are seven slots for backups" (docs.hetzner.com/cloud/general/faq)
# Traffic of a running server (Server.traffic): outgoing bytes per second, and incoming as a share of it.
TRAFFIC_OUT_BYTES_PER_SECOND = 40_000
TRAFFIC_IN_SHARE = 0.25
# An ACPI shutdown only *sends* the signal (its action finishes at once); the guest takes this long to halt.
GUEST_SHUTDOWN_SECONDS = 6.0

Effect = Callable[[float], None]


@dataclass
class Action:
    id: int
    command: str
    started: float
    finish_at: float
    resources: list[tuple[int, str]]
    status: str = "running"
    finished: float | None = None
    error: tuple[str, str] | None = None

    def render(self, clock: SimClock) -> dict[str, Any]:
        if self.finished is not None:
            progress = 100
        else:
            span = self.finish_at - self.started
            progress = int(min(99.0, max(0.0, (clock.now() - self.started) / span * 100))) if span > 0 else 0
        return {
            "id": self.id,
            "command": self.command,
            "status": self.status,
            "progress": progress,
            "started": clock.iso(self.started),
            "finished": clock.iso(self.finished) if self.finished is not None else None,
            "resources": [{"id": rid, "type": kind} for rid, kind in self.resources],
            "error": {"code": self.error[0], "message": self.error[1]} if self.error else None,
        }


@dataclass
class ProjectImage:
    """A snapshot or a backup: an image the project made from a server (system images are catalogue.Image)."""

    id: int
    type: str  # "snapshot" | "backup"
    description: str
    labels: dict[str, str]
    created: float
    disk_size: int  # the server's disk: a server needs at least this much to be created from it
    data_gb: float  # the used data copied; a server created from the image starts with this much used
    architecture: str
    os_flavor: str
    os_version: str | None
    created_from: tuple[int, str]  # (server id, server name at the time)
    bound_to: int | None  # backups: the server whose deletion deletes them
    status: str = "creating"
    image_size: float | None = None  # compressed GB in storage, known once the copy is done
    protection_delete: bool = False
    deleted: float | None = None
    name: None = None  # only system images have names


@dataclass
class PrimaryIP:
    id: int
    name: str
    labels: dict[str, str]
    type: str  # "ipv4" | "ipv6"
    ip: str  # an address, or for ipv6 a /64 network
    location: Location
    created: float
    dns_ptrs: dict[str, str]  # address -> reverse DNS name
    assignee_id: int | None = None
    auto_delete: bool = False
    protection_delete: bool = False


@dataclass
class Server:
    id: int
    name: str
    labels: dict[str, str]
    server_type: ServerType
    image: Image | ProjectImage
    location: Location
    created: float
    status: str
    ipv4_id: int | None  # the assigned primary IPs (World.primary_ips)
    ipv6_id: int | None
    ssh_keys: list[int]
    user_data: str | None
    primary_disk_size: int
    used_disk_gb: float = SYSTEM_IMAGE_USED_GB  # what a snapshot copies and bills
    protection_delete: bool = False
    protection_rebuild: bool = False
    backup_window: str | None = None
    running_since: float | None = None
    app_broken: bool = False
    boot_seconds: float | None = None  # running -> healthy app, from the boot model (None: the default)
    ran_seconds: float = 0.0  # running time before `running_since`: what the traffic counters grew in

    def stop_running(self, at: float) -> None:
        if self.running_since is not None:
            self.ran_seconds += max(0.0, at - self.running_since)
        self.running_since = None

    def traffic(self, now: float) -> tuple[int, int]:
        """(outgoing, ingoing) bytes: a running gateway serves its chats steadily, an off one sends nothing.
        The rates are plausible for a small OpenClaw server (tens of KB/s, some GB a day), and differ per
        server so that no two counters are equal by accident."""
        seconds = self.ran_seconds + (now - self.running_since if self.running_since is not None else 0.0)
        outgoing = TRAFFIC_OUT_BYTES_PER_SECOND + 1_000 * (self.id % 17)
        return int(seconds * outgoing), int(seconds * outgoing * TRAFFIC_IN_SHARE)


@dataclass
class SshKey:
    id: int
    name: str
    public_key: str
    fingerprint: str
    labels: dict[str, str]
    created: float


@dataclass
class Firewall:
    id: int
    name: str
    labels: dict[str, str]
    rules: list[dict[str, Any]]
    created: float
    server_ids: list[int] = field(default_factory=list)
    selectors: list[str] = field(default_factory=list)


class World:
    def __init__(
        self,
        clock: SimClock,
        faults: Faults,
        action_seconds: dict[str, float] | None = None,
        *,
        ids: Iterator[int] | None = None,
        action_ids: Iterator[int] | None = None,
    ) -> None:
        self.clock = clock
        self.faults = faults
        self.action_seconds = {**DEFAULT_ACTION_SECONDS, **(action_seconds or {})}
        self.servers: dict[int, Server] = {}
        self.actions: dict[int, Action] = {}
        self.ssh_keys: dict[int, SshKey] = {}
        self.firewalls: dict[int, Firewall] = {}
        self.images: dict[int, ProjectImage] = {}  # snapshots and backups; deleted ones leave
        self.primary_ips: dict[int, PrimaryIP] = {}
        self.snapshot_seconds_per_gb = SNAPSHOT_SECONDS_PER_GB
        self.restore_seconds_per_gb = RESTORE_SECONDS_PER_GB
        # Per-server boot times by kind of boot (hetzner/boot.py); None: every app boots in the
        # simulator's `app_boot_seconds`. A golden builder's install time comes from it in either case.
        self.boot_model: BootModel | None = None
        # Hetzner's ids are unique across projects: the projects of one simulator share these counters.
        self._ids = ids if ids is not None else itertools.count(1)
        self._action_ids = action_ids if action_ids is not None else itertools.count(1)
        self._events: list[tuple[float, int, Effect]] = []
        self._event_order = itertools.count()
        self._busy: dict[int, set[int]] = {}  # server id -> ids of its running actions
        self._rng = random.Random(f"{faults.seed}|world")

    def root_password(self) -> str:
        """A fresh root password; seeded, so a replayed scenario answers the same."""
        return "".join(self._rng.choices(string.ascii_letters + string.digits, k=20))

    def next_id(self) -> int:
        return next(self._ids)

    def schedule(self, at: float, effect: Effect) -> None:
        heapq.heappush(self._events, (at, next(self._event_order), effect))

    def settle(self) -> float:
        """Apply every event due by now; returns now."""
        now = self.clock.now()
        while self._events and self._events[0][0] <= now:
            at, _, effect = heapq.heappop(self._events)
            effect(at)
        return now

    def start_action(
        self,
        command: str,
        resources: list[tuple[int, str]],
        *,
        on_success: Effect | None = None,
        on_failure: Effect | None = None,
        after: Action | None = None,
        seconds: float | None = None,
    ) -> Action:
        """An asynchronous action. With `after`, it starts when that one finishes and fails if it failed.
        It takes `seconds`, by default the command's entry in `action_seconds`."""
        now = self.clock.now()
        begins = after.finish_at if after else now
        duration = self.action_seconds[command] if seconds is None else seconds
        action = Action(next(self._action_ids), command, now, begins + duration, resources)
        self.actions[action.id] = action
        injected = self.faults.take_action_failure(command)
        for rid, kind in resources:
            if kind == "server":
                self._busy.setdefault(rid, set()).add(action.id)

        def finish(at: float) -> None:
            action.finished = at
            for rid, kind in resources:
                if kind == "server":
                    self._busy.get(rid, set()).discard(action.id)
            if injected or (after is not None and after.status == "error"):
                action.status = "error"
                action.error = ("action_failed", f"Action {command} failed")
                if on_failure:
                    on_failure(at)
            else:
                action.status = "success"
                if on_success:
                    on_success(at)

        self.schedule(action.finish_at, finish)
        return action

    def is_busy(self, server_id: int) -> bool:
        return bool(self._busy.get(server_id))

    def firewalls_of(self, server: Server) -> list[Firewall]:
        return [
            fw
            for fw in self.firewalls.values()
            if server.id in fw.server_ids
            or any(parse_selector(s).matches(server.labels) for s in fw.selectors)
        ]

    def remove_server(self, server: Server) -> None:
        """The server is gone: it leaves its firewalls, its backups go with it (snapshots stay), and its
        primary IPs are deleted if `auto_delete`, else kept unassigned."""
        self.servers.pop(server.id, None)
        for firewall in self.firewalls.values():
            if server.id in firewall.server_ids:
                firewall.server_ids.remove(server.id)
        for image in [i for i in self.images.values() if i.bound_to == server.id]:
            image.deleted = self.clock.now()
            del self.images[image.id]
        for ip_id in (server.ipv4_id, server.ipv6_id):
            primary_ip = self.primary_ips.get(ip_id) if ip_id is not None else None
            if primary_ip is not None and primary_ip.auto_delete:
                del self.primary_ips[primary_ip.id]
            elif primary_ip is not None:
                primary_ip.assignee_id = None

    def app_healthy(self, server: Server, boot_seconds: float) -> bool:
        if server.app_broken or server.status != "running" or server.running_since is None:
            return False
        seconds = boot_seconds if server.boot_seconds is None else server.boot_seconds
        return self.clock.now() - server.running_since >= seconds

    def render_server(self, server: Server) -> dict[str, Any]:
        ipv4 = ipv6 = None
        if (v4 := self.primary_ips.get(server.ipv4_id or 0)) is not None:
            ipv4 = {"id": v4.id, "ip": v4.ip, "blocked": False, "dns_ptr": v4.dns_ptrs.get(v4.ip, "")}
        if (v6 := self.primary_ips.get(server.ipv6_id or 0)) is not None:
            ptrs = [{"ip": ip, "dns_ptr": ptr} for ip, ptr in v6.dns_ptrs.items()]
            ipv6 = {"id": v6.id, "ip": v6.ip, "blocked": False, "dns_ptr": ptrs}
        outgoing, ingoing = server.traffic(self.clock.now())
        return {
            "id": server.id,
            "name": server.name,
            "status": server.status,
            "created": self.clock.iso(server.created),
            "labels": dict(server.labels),
            "public_net": {
                "ipv4": ipv4,
                "ipv6": ipv6,
                "floating_ips": [],
                "firewalls": [{"id": fw.id, "status": "applied"} for fw in self.firewalls_of(server)],
            },
            "private_net": [],
            "server_type": server.server_type.render(),
            "datacenter": render_datacenter(server.location),
            "location": server.location.render(),
            "image": self.render_image(server.image),
            "iso": None,
            "rescue_enabled": False,
            "locked": False,
            "backup_window": server.backup_window,
            "outgoing_traffic": outgoing,
            "ingoing_traffic": ingoing,
            "included_traffic": server.location.included_traffic(),
            "protection": {"delete": server.protection_delete, "rebuild": server.protection_rebuild},
            "volumes": [],
            "load_balancers": [],
            "primary_disk_size": server.primary_disk_size,
            "placement_group": None,
        }

    def render_image(self, image: Image | ProjectImage) -> dict[str, Any]:
        if isinstance(image, Image):
            return image.render()
        server_id, server_name = image.created_from
        return {
            "id": image.id,
            "type": image.type,
            "status": image.status,
            "name": None,
            "description": image.description,
            "image_size": image.image_size,
            "disk_size": image.disk_size,
            "created": self.clock.iso(image.created),
            "created_from": {"id": server_id, "name": server_name},
            "bound_to": image.bound_to,
            "os_flavor": image.os_flavor,
            "os_version": image.os_version,
            "rapid_deploy": False,
            "protection": {"delete": image.protection_delete},
            "deprecated": None,
            "deleted": self.clock.iso(image.deleted) if image.deleted is not None else None,
            "labels": dict(image.labels),
            "architecture": image.architecture,
        }

    def render_primary_ip(self, primary_ip: PrimaryIP) -> dict[str, Any]:
        return {
            "id": primary_ip.id,
            "name": primary_ip.name,
            "labels": dict(primary_ip.labels),
            "type": primary_ip.type,
            "ip": primary_ip.ip,
            "blocked": False,
            "created": self.clock.iso(primary_ip.created),
            "location": primary_ip.location.render(),
            "datacenter": render_datacenter(primary_ip.location),  # deprecated, still required by the spec
            "dns_ptr": [{"ip": ip, "dns_ptr": ptr} for ip, ptr in primary_ip.dns_ptrs.items()],
            "assignee_id": primary_ip.assignee_id,
            "assignee_type": "server",
            "auto_delete": primary_ip.auto_delete,
            "protection": {"delete": primary_ip.protection_delete},
        }

    def render_ssh_key(self, key: SshKey) -> dict[str, Any]:
        return {
            "id": key.id,
            "name": key.name,
            "fingerprint": key.fingerprint,
            "public_key": key.public_key,
            "labels": dict(key.labels),
            "created": self.clock.iso(key.created),
        }

    def render_firewall(self, firewall: Firewall) -> dict[str, Any]:
        applied: list[dict[str, Any]] = [
            {"type": "server", "server": {"id": sid}} for sid in firewall.server_ids
        ]
        for selector in firewall.selectors:
            parsed = parse_selector(selector)
            matched = [s.id for s in self.servers.values() if parsed.matches(s.labels)]
            applied.append(
                {
                    "type": "label_selector",
                    "label_selector": {"selector": selector},
                    "applied_to_resources": [{"type": "server", "server": {"id": sid}} for sid in matched],
                }
            )
        return {
            "id": firewall.id,
            "name": firewall.name,
            "labels": dict(firewall.labels),
            "created": self.clock.iso(firewall.created),
            "rules": [dict(rule) for rule in firewall.rules],
            "applied_to": applied,
        }

"""Every answer the Hetzner simulator gives, success and error, validates against the OpenAPI description.

One row per situation. Each row runs against a fresh simulator holding the same small project (see
`project`); every response seen while building it and while running the row is validated by the same
hook, and the row's own answer must carry the expected status. `test_every_route_has_rows` fails when a
route of the simulator lacks a success row or an error row, so a new route cannot skip this check.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import SimClock
from jsonschema.exceptions import ValidationError

from tests.simulators.openapi_check import check_response, is_documented

TOKEN = "schema-token"
KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB test-a"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC test-b"
RULE = {"direction": "in", "protocol": "tcp", "port": "22", "source_ips": ["0.0.0.0/0", "::/0"]}


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # `{run}`, `{off}`, ... name objects of the project
    status: int
    body: Any = None
    prepare: Callable[[HetznerSimulator], None] | None = None
    token: str = TOKEN
    raw: bytes | None = None
    id: str = field(default="", compare=False)


def server(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "server_type": "cx23", "image": "ubuntu-24.04", **extra}


def primary_ip(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "ipv4", "assignee_type": "server", **extra}


def to_server(server_id: str) -> dict[str, Any]:
    return {"assignee_type": "server", "assignee_id": server_id}


def ptr(ip: str) -> dict[str, Any]:
    return {"ip": ip, "dns_ptr": "x.example.com"}


def limit_servers(sim: HetznerSimulator) -> None:
    sim.server_limit = 0


ROWS = [
    # servers
    Row("GET", "/servers", 200),
    Row("GET", "/servers?label_selector=role%3Dweb&sort=name:desc&status=running", 200),
    Row("GET", "/servers?label_selector=role%20in%20web", 400),
    Row("GET", "/servers?sort=colour", 400),
    Row("GET", "/servers?page=0", 400),
    Row("POST", "/servers", 201, server("fresh", labels={"a": "b"}, user_data="#cloud-config\n")),
    Row(
        "POST",
        "/servers",
        201,
        server("keyed", ssh_keys=["k1"], firewalls=[{"firewall": "{fw1}"}]),
        id="keyed",
    ),
    Row("POST", "/servers", 201, server("v6only", public_net={"enable_ipv4": False, "enable_ipv6": True})),
    Row("POST", "/servers", 409, server("run")),
    Row("POST", "/servers", 400, server("not_a_hostname")),
    Row("POST", "/servers", 400, server("big", user_data="x" * (32 * 1024 + 1))),
    Row("POST", "/servers", 400, server("typo", server_type="cx99")),
    Row("POST", "/servers", 400, server("badlabel", labels={"-x": "y"})),
    Row("POST", "/servers", 400, server("nokey", ssh_keys=["missing"])),
    Row("POST", "/servers", 422, server("arm-in-us", server_type="cax11", location="ash")),
    Row("POST", "/servers", 403, server("over"), prepare=limit_servers),
    Row("POST", "/servers", 400, raw=b"{not json"),
    Row("GET", "/servers/{run}", 200),
    Row("GET", "/servers/424242", 404),
    Row("PUT", "/servers/{run}", 200, {"name": "renamed", "labels": {"role": "db"}}),
    Row("PUT", "/servers/{run}", 409, {"name": "off"}),
    Row("PUT", "/servers/{run}", 400, {"labels": {"k": "-bad-"}}),
    Row("DELETE", "/servers/{off}", 200),
    Row("DELETE", "/servers/{prot}", 423),
    Row("DELETE", "/servers/424242", 404),
    Row("GET", "/servers/{run}/actions?sort=id:desc", 200),
    Row("GET", "/servers/424242/actions", 404),
    Row("GET", "/servers/{run}/actions/{run_action}", 200),
    Row("GET", "/servers/{run}/actions/424242", 404),
    Row("POST", "/servers/{off}/actions/poweron", 201),
    Row("POST", "/servers/424242/actions/poweron", 404),
    Row("POST", "/servers/{run}/actions/poweroff", 201),
    Row("POST", "/servers/{busy}/actions/poweroff", 423),
    Row("POST", "/servers/{run}/actions/shutdown", 201),
    Row("POST", "/servers/{busy}/actions/shutdown", 423),
    Row("POST", "/servers/{run}/actions/reboot", 201),
    Row("POST", "/servers/424242/actions/reboot", 404),
    Row("POST", "/servers/{run}/actions/reset", 201),
    Row("POST", "/servers/{busy}/actions/reset", 423),
    Row("POST", "/servers/{run}/actions/rebuild", 201, {"image": "debian-13"}),
    Row("POST", "/servers/{prot}/actions/rebuild", 423, {"image": "debian-13"}),
    Row("POST", "/servers/{run}/actions/rebuild", 400, {"image": "windows-11"}),
    Row("POST", "/servers/{off}/actions/change_type", 201, {"server_type": "cx33", "upgrade_disk": False}),
    Row("POST", "/servers/{run}/actions/change_type", 422, {"server_type": "cx33", "upgrade_disk": True}),
    Row(
        "POST", "/servers/{big_off}/actions/change_type", 422, {"server_type": "cx23", "upgrade_disk": False}
    ),
    Row("POST", "/servers/{off}/actions/change_type", 400, {"server_type": "cx99"}),
    Row("POST", "/servers/{run}/actions/enable_backup", 201),
    Row("POST", "/servers/{busy}/actions/enable_backup", 423),
    Row("POST", "/servers/{run}/actions/disable_backup", 201),
    Row("POST", "/servers/424242/actions/disable_backup", 404),
    Row("POST", "/servers/{run}/actions/change_protection", 201, {"delete": True, "rebuild": True}),
    Row("POST", "/servers/{run}/actions/change_protection", 400, {"delete": True, "rebuild": False}),
    Row(
        "POST", "/servers/{run}/actions/change_dns_ptr", 201, {"ip": "{run_ipv4}", "dns_ptr": "x.example.com"}
    ),
    Row(
        "POST", "/servers/{run}/actions/change_dns_ptr", 400, {"ip": "192.0.2.1", "dns_ptr": "x.example.com"}
    ),
    # actions
    Row("GET", "/actions?id={run_action}&id=1", 200),
    Row("GET", "/actions", 400),
    Row("GET", "/actions/{run_action}", 200),
    Row("GET", "/actions/424242", 404),
    # ssh keys
    Row("GET", "/ssh_keys?name=k1", 200),
    Row("GET", "/ssh_keys?sort=colour", 400),
    Row("POST", "/ssh_keys", 201, {"name": "k2", "public_key": KEY_B, "labels": {"team": "ops"}}),
    Row("POST", "/ssh_keys", 409, {"name": "k1", "public_key": KEY_B}),
    Row("POST", "/ssh_keys", 409, {"name": "k3", "public_key": KEY_A}),
    Row("POST", "/ssh_keys", 400, {"name": "k4", "public_key": "not a key"}),
    Row("GET", "/ssh_keys/{k1}", 200),
    Row("GET", "/ssh_keys/424242", 404),
    Row("PUT", "/ssh_keys/{k1}", 200, {"name": "k1-renamed", "labels": {"x": "y"}}),
    Row("PUT", "/ssh_keys/424242", 404, {"name": "nobody"}),
    Row("DELETE", "/ssh_keys/{k1}", 204),
    Row("DELETE", "/ssh_keys/424242", 404),
    # firewalls
    Row("GET", "/firewalls?label_selector=kind", 200),
    Row("GET", "/firewalls?page=x", 400),
    Row(
        "POST",
        "/firewalls",
        201,
        {
            "name": "fw3",
            "rules": [RULE],
            "apply_to": [{"type": "label_selector", "label_selector": {"selector": "role=web"}}],
        },
    ),
    Row("POST", "/firewalls", 409, {"name": "fw1"}),
    Row("POST", "/firewalls", 400, {"name": "fw4", "rules": [{**RULE, "protocol": "sctp"}]}),
    Row("GET", "/firewalls/{fw1}", 200),
    Row("GET", "/firewalls/{fwsel}", 200),
    Row("GET", "/firewalls/424242", 404),
    Row("PUT", "/firewalls/{fw1}", 200, {"labels": {"kind": "edge"}}),
    Row("PUT", "/firewalls/{fw1}", 409, {"name": "fwsel"}),
    Row("DELETE", "/firewalls/{fw1}", 204),
    Row("DELETE", "/firewalls/{fwsel}", 422),
    Row("POST", "/firewalls/{fwsel}/actions/set_rules", 201, {"rules": [RULE]}),
    Row("POST", "/firewalls/{fwsel}/actions/set_rules", 400, {"rules": [{**RULE, "port": "99999"}]}),
    Row(
        "POST",
        "/firewalls/{fw1}/actions/apply_to_resources",
        201,
        {"apply_to": [{"type": "server", "server": {"id": "{run}"}}]},
    ),
    Row(
        "POST",
        "/firewalls/{fwsel}/actions/apply_to_resources",
        422,
        {"apply_to": [{"type": "label_selector", "label_selector": {"selector": "role=web"}}]},
    ),
    Row(
        "POST",
        "/firewalls/{fwsel}/actions/remove_from_resources",
        201,
        {"remove_from": [{"type": "label_selector", "label_selector": {"selector": "role=web"}}]},
    ),
    Row(
        "POST",
        "/firewalls/{fw1}/actions/remove_from_resources",
        422,
        {"remove_from": [{"type": "server", "server": {"id": "{run}"}}]},
    ),
    # catalogue
    Row("GET", "/server_types?name=cx23", 200),
    Row("GET", "/server_types?per_page=0", 400),
    Row("GET", "/server_types/101", 200),
    Row("GET", "/server_types/9", 404),
    Row("GET", "/locations", 200),
    Row("GET", "/locations?page=-1", 400),
    Row("GET", "/locations/1", 200),
    Row("GET", "/locations/99", 404),
    Row("GET", "/datacenters?name=fsn1-dc14", 200),
    Row("GET", "/datacenters?sort=colour", 400),
    Row("GET", "/datacenters/1", 200),
    Row("GET", "/datacenters/99", 404),
    Row("GET", "/images?architecture=arm&type=system", 200),
    Row("GET", "/images?sort=size", 400),
    Row("GET", "/images/161001", 200),
    Row("GET", "/images/1", 404),
    # images: snapshots and backups (snap, snap_prot, backup of bak; see Project.build)
    Row("POST", "/servers/{img}/actions/create_image", 201, {"description": "x", "labels": {"a": "b"}}),
    Row("POST", "/servers/{img}/actions/create_image", 422, {"type": "backup"}),
    Row("POST", "/servers/{img}/actions/create_image", 400, {"type": "iso"}),
    Row("POST", "/servers", 201, server("from-snap", image="{snap}"), id="from-snap"),
    Row("POST", "/servers", 422, server("too-small", image="{backup}"), id="too-small"),
    Row("GET", "/images?type=snapshot&label_selector=tier%3Dgold&sort=created:desc", 200),
    Row("GET", "/images?type=backup&bound_to={bak}&status=available", 200),
    Row("GET", "/images?type=floppy", 400),
    Row("GET", "/images/{snap}", 200),
    Row("PUT", "/images/{snap}", 200, {"description": "renamed", "labels": {"tier": "silver"}}),
    Row("PUT", "/images/{backup}", 200, {"type": "snapshot"}),
    Row("PUT", "/images/{snap}", 400, {"type": "backup"}),
    Row("PUT", "/images/161001", 403, {"description": "mine now"}),
    Row("DELETE", "/images/{snap}", 204),
    Row("DELETE", "/images/{snap_prot}", 423),
    Row("DELETE", "/images/161001", 403),
    Row("POST", "/images/{snap}/actions/change_protection", 201, {"delete": True}),
    Row("POST", "/images/{backup}/actions/change_protection", 400, {"delete": True}),
    Row("GET", "/images/{snap_prot}/actions?sort=id:desc", 200),
    Row("GET", "/images/424242/actions", 404),
    Row("GET", "/images/{snap_prot}/actions/{snap_prot_action}", 200),
    Row("GET", "/images/{snap_prot}/actions/424242", 404),
    # primary IPs (ip_free, ip_v6free, ip_prot unassigned; ip_run, ip_off of those servers; see Project.build)
    Row("GET", "/primary_ips?sort=id:desc", 200),
    Row("GET", "/primary_ips?ip={ip_free_address}", 200),
    Row("GET", "/primary_ips?sort=name", 400),
    Row("POST", "/primary_ips", 201, primary_ip("new", location="fsn1")),
    Row("POST", "/primary_ips", 201, primary_ip("at-create", assignee_id="{noip4}"), id="assigned-at-create"),
    Row("POST", "/primary_ips", 422, primary_ip("dup4", assignee_id="{img}")),
    Row("POST", "/primary_ips", 409, primary_ip("free", location="fsn1")),
    Row("POST", "/primary_ips", 400, primary_ip("v5", type="ipv5", location="fsn1")),
    Row("POST", "/servers", 201, server("own-ip", public_net={"enable_ipv4": True, "ipv4": "{ip_free}"})),
    Row("POST", "/servers", 422, server("taken-ip", public_net={"enable_ipv4": True, "ipv4": "{ip_run}"})),
    Row("POST", "/servers", 412, server("wrong-ip", public_net={"enable_ipv4": True, "ipv4": "{ip_v6free}"})),
    Row("GET", "/primary_ips/{ip_free}", 200),
    Row("GET", "/primary_ips/424242", 404),
    Row("PUT", "/primary_ips/{ip_free}", 200, {"name": "kept", "labels": {"x": "y"}, "auto_delete": True}),
    Row("PUT", "/primary_ips/{ip_free}", 400, {"auto_delete": "yes"}),
    Row("DELETE", "/primary_ips/{ip_free}", 204),
    Row("DELETE", "/primary_ips/{ip_run}", 422),
    Row("DELETE", "/primary_ips/{ip_prot}", 423),
    Row("POST", "/primary_ips/{ip_free}/actions/assign", 201, to_server("{noip4}")),
    Row("POST", "/primary_ips/{ip_free}/actions/assign", 422, to_server("{run}")),
    Row("POST", "/primary_ips/{ip_off}/actions/unassign", 201),
    Row("POST", "/primary_ips/{ip_run}/actions/unassign", 422),
    Row("POST", "/primary_ips/{ip_free}/actions/change_protection", 201, {"delete": True}),
    Row("POST", "/primary_ips/{ip_off}/actions/change_protection", 400, {"delete": True}),
    Row("POST", "/primary_ips/{ip_free}/actions/change_dns_ptr", 201, ptr("{ip_free_address}")),
    Row("POST", "/primary_ips/{ip_free}/actions/change_dns_ptr", 400, ptr("192.0.2.1")),
    Row("GET", "/primary_ips/{ip_prot}/actions", 200),
    Row("GET", "/primary_ips/424242/actions", 404),
    Row("GET", "/primary_ips/{ip_prot}/actions/{ip_prot_action}", 200),
    Row("GET", "/primary_ips/{ip_prot}/actions/424242", 404),
    Row("GET", "/pricing", 200),
    Row("GET", "/pricing", 401, token="wrong"),
    # answers of the shared pipeline
    Row("GET", "/servers", 401, token="wrong"),
    Row("GET", "/servers/{run}", 429, prepare=lambda sim: sim.faults.rate_limit_storm(60)),
    Row("GET", "/servers", 503, prepare=lambda sim: sim.faults.outage(0, 60)),
    Row(
        "POST",
        "/servers/{run}/actions/reboot",
        502,
        prepare=lambda sim: sim.faults.error_rate(
            "POST", "/servers/{id}/actions/reboot", 1.0, 502, "bad_gateway"
        ),
    ),
]


def _fill(value: Any, names: dict[str, Any]) -> Any:
    """Put the project's ids into paths and bodies (`"{run}"` alone becomes an integer)."""
    if isinstance(value, str):
        if re.fullmatch(r"\{\w+\}", value):
            return names[value[1:-1]]
        return re.sub(r"\{(\w+)\}", lambda m: str(names[m.group(1)]), value)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def route_of(sim: HetznerSimulator, method: str, path: str) -> str:
    """The template a path resolves to, first match in table order (as aiohttp resolves it)."""
    bare = path.split("?")[0]
    for route in sim.route_table():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(route.template)) + "$"
        if route.method == method and re.match(pattern, bare):
            return route.template
    raise AssertionError(f"no route for {method} {path}")


class Project:
    def __init__(self, sim: HetznerSimulator, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session
        self.names: dict[str, Any] = {}
        self.seen: list[tuple[str, str, int, Any]] = []  # every answer: (method, template, status, body)
        sim.response_hooks.append(lambda *answer: self.seen.append(answer))

    async def call(
        self, method: str, path: str, body: Any = None, token: str = TOKEN, raw: bytes | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        json_body = body if raw is None else None
        async with self.session.request(
            method, self.sim.url + path, json=json_body, data=raw, headers=headers
        ) as response:
            raw_answer = await response.read()
            return response.status, json.loads(raw_answer) if raw_answer else None

    async def build(self) -> None:
        """A small project: SSH key k1, firewalls fw1 (unapplied) and fwsel (by selector role=web), and
        servers run (running, role=web), busy (running an action), off, big_off (cx33, disk upgraded),
        prot (protected); for images and primary IPs also img (off), bak (off, cx33, backups on), noip4
        (off, IPv6 only), snapshots snap (tier=gold) and snap_prot (protected) of img, a backup of bak,
        and unassigned primary IPs ip_free (IPv4), ip_v6free, ip_prot (protected)."""
        _, key = await self.call("POST", "/ssh_keys", {"name": "k1", "public_key": KEY_A})
        _, fw1 = await self.call("POST", "/firewalls", {"name": "fw1", "labels": {"kind": "edge"}})
        _, fwsel = await self.call(
            "POST",
            "/firewalls",
            {
                "name": "fwsel",
                "rules": [RULE],
                "apply_to": [{"type": "label_selector", "label_selector": {"selector": "role=web"}}],
            },
        )
        self.names.update(k1=key["ssh_key"]["id"], fw1=fw1["firewall"]["id"], fwsel=fwsel["firewall"]["id"])
        for name, extra in {
            "run": {"labels": {"role": "web"}},
            "busy": {},
            "off": {"start_after_create": False},
            "big_off": {"start_after_create": False, "server_type": "cx33"},
            "prot": {},
            "img": {"start_after_create": False},
            "bak": {"start_after_create": False, "server_type": "cx33"},
            "noip4": {"start_after_create": False, "public_net": {"enable_ipv4": False}},
        }.items():
            _, created = await self.call("POST", "/servers", {**server(name.replace("_", "-")), **extra})
            self.names[name] = created["server"]["id"]
            if name == "run":
                self.names["run_action"] = created["action"]["id"]
                self.names["run_ipv4"] = created["server"]["public_net"]["ipv4"]["ip"]
            if name in ("run", "off"):
                self.names[f"ip_{name}"] = created["server"]["public_net"]["ipv4"]["id"]
        self.sim.clock.advance(60)
        await self.call(
            "POST",
            f"/servers/{self.names['prot']}/actions/change_protection",
            {"delete": True, "rebuild": True},
        )
        await self.build_images_and_ips()
        self.sim.clock.advance(60)
        await self.call(
            "POST", f"/servers/{self.names['busy']}/actions/reboot"
        )  # stays busy: the clock waits

    async def build_images_and_ips(self) -> None:
        names = self.names
        _, snap = await self.call(
            "POST", f"/servers/{names['img']}/actions/create_image", {"labels": {"tier": "gold"}}
        )
        names["snap"] = snap["image"]["id"]
        await self.call("POST", f"/servers/{names['bak']}/actions/enable_backup")
        for name, ip_type in (("free", "ipv4"), ("v6free", "ipv6"), ("prot", "ipv4")):
            body = {"name": name, "type": ip_type, "assignee_type": "server", "location": "fsn1"}
            _, created = await self.call("POST", "/primary_ips", body)
            names[f"ip_{name}"] = created["primary_ip"]["id"]
            names[f"ip_{name}_address"] = created["primary_ip"]["ip"]
        self.sim.clock.advance(60)  # snap is copied, backups are on
        _, snap_prot = await self.call("POST", f"/servers/{names['img']}/actions/create_image")
        names["snap_prot"] = snap_prot["image"]["id"]
        _, backup = await self.call(
            "POST", f"/servers/{names['bak']}/actions/create_image", {"type": "backup"}
        )
        names["backup"] = backup["image"]["id"]
        _, protected = await self.call(
            "POST", f"/primary_ips/{names['ip_prot']}/actions/change_protection", {"delete": True}
        )
        names["ip_prot_action"] = protected["action"]["id"]
        self.sim.clock.advance(60)
        _, protected = await self.call(
            "POST", f"/images/{names['snap_prot']}/actions/change_protection", {"delete": True}
        )
        names["snap_prot_action"] = protected["action"]["id"]
        self.sim.clock.advance(60)


@pytest.fixture
async def project() -> AsyncIterator[Project]:
    # Time only moves by advance(); a fixed epoch makes answers repeat, so each is validated once.
    sim = HetznerSimulator(token=TOKEN, clock=SimClock(time_scale=0.001, epoch=1_750_000_000))
    await sim.start()
    async with aiohttp.ClientSession() as session:
        built = Project(sim, session)
        await built.build()
        yield built
    await sim.stop()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id or f"{r.method} {r.path} {r.status}")
async def test_response_matches_the_openapi_schema(project: Project, row: Row) -> None:
    if row.prepare:
        row.prepare(project.sim)
    path = _fill(row.path, project.names)
    status, _ = await project.call(row.method, path, _fill(row.body, project.names), row.token, row.raw)
    assert status == row.status
    assert project.sim.request_log[-1].template == route_of(project.sim, row.method, path)
    for method, template, answered, payload in project.seen:
        check_response(method, template, answered, payload)


def test_every_route_has_rows() -> None:
    sim = HetznerSimulator(token=TOKEN)
    covered: dict[str, set[bool]] = {}
    for row in ROWS:
        key = f"{row.method} {route_of(sim, row.method, row.path)}"
        covered.setdefault(key, set()).add(row.status < 400)
    routes = [f"{r.method} {r.template}" for r in sim.route_table()]
    assert [r for r in routes if covered.get(r) != {True, False}] == []
    assert all(is_documented(*r.split(" ", 1)) for r in routes)


async def test_a_malformed_response_is_caught(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    render = project.sim.world.render_server

    def without_public_net(server: Any) -> dict[str, Any]:
        rendered = render(server)
        del rendered["public_net"]
        return rendered

    monkeypatch.setattr(project.sim.world, "render_server", without_public_net)
    status, _ = await project.call("GET", f"/servers/{project.names['run']}")
    method, template, answered, payload = project.seen[-1]
    assert (status, template) == (200, "/servers/{id}")
    with pytest.raises(ValidationError, match="public_net"):
        check_response(method, template, answered, payload)


@pytest.mark.parametrize(
    ("template", "status", "payload"),
    [
        ("/servers/{id}", 404, {"error": {"code": "not_found"}}),  # message missing
        (
            "/actions/{id}",
            200,
            {
                "action": {
                    "id": 1,
                    "command": "x",
                    "status": "queued",
                    "progress": 0,
                    "started": "2024-01-01T00:00:00Z",
                    "finished": None,
                    "resources": [],
                    "error": None,
                }
            },
        ),
        ("/ssh_keys/{id}", 204, {"ssh_key": {}}),  # DELETE answers have no body
    ],
)
def test_the_check_rejects_off_spec_answers(template: str, status: int, payload: Any) -> None:
    method = "DELETE" if status == 204 else "GET"
    with pytest.raises(ValidationError):
        check_response(method, template, status, payload)

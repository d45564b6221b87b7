"""Server lifecycle through the unmodified hcloud SDK: create, wait, list, update, act, delete."""

from __future__ import annotations

import time

import hcloud
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer


def create(client: hcloud.Client, name: str, **kwargs: object) -> BoundServer:
    response = client.servers.create(
        name=name, server_type=ServerType(name="cx23"), image=Image(name="ubuntu-24.04"), **kwargs
    )
    response.action.wait_until_finished()
    for action in response.next_actions:
        action.wait_until_finished()
    return client.servers.get_by_id(response.server.id)


def test_create_reports_initializing_then_runs(hclient: hcloud.Client) -> None:
    response = hclient.servers.create(
        name="web-1", server_type=ServerType(name="cx23"), image=Image(name="ubuntu-24.04"), labels={"a": "b"}
    )
    assert response.server.status == "initializing"
    assert response.action.command == "create_server"
    assert [a.command for a in response.next_actions] == ["start_server"]
    assert response.root_password  # no SSH key given
    for action in [response.action, *response.next_actions]:
        action.wait_until_finished()
    server = hclient.servers.get_by_id(response.server.id)
    assert server.status == "running"
    assert server.labels == {"a": "b"}
    assert server.public_net.ipv4.ip
    assert server.public_net.ipv6.ip.endswith("/64")
    assert server.server_type.name == "cx23"
    assert server.image.name == "ubuntu-24.04"
    assert server.image.architecture == "x86"


def test_arm_server_type_gets_the_arm_image(hclient: hcloud.Client) -> None:
    response = hclient.servers.create(
        name="arm-1", server_type=ServerType(name="cax11"), image=Image(name="debian-13")
    )
    assert response.server.image.architecture == "arm"
    assert response.server.image.name == "debian-13"


def test_list_by_label_selector_name_and_status(hclient: hcloud.Client) -> None:
    create(hclient, "a-1", labels={"team": "a", "tier": "web"})
    create(hclient, "b-1", labels={"team": "b"})
    off = create(hclient, "c-1", labels={"team": "c", "tier": "db"})
    off.power_off().wait_until_finished()

    def names(**kwargs: object) -> list[str]:
        return sorted(s.name for s in hclient.servers.get_all(**kwargs))

    assert names(label_selector="team=a") == ["a-1"]
    assert names(label_selector="team==b") == ["b-1"]
    assert names(label_selector="team!=a") == ["b-1", "c-1"]
    assert names(label_selector="team in (a,c)") == ["a-1", "c-1"]
    assert names(label_selector="team notin (a,c)") == ["b-1"]
    assert names(label_selector="tier") == ["a-1", "c-1"]
    assert names(label_selector="!tier") == ["b-1"]
    assert names(label_selector="team in (a,b),tier") == ["a-1"]
    assert names(name="b-1") == ["b-1"]
    assert names(status=["off"]) == ["c-1"]
    assert hclient.servers.get_by_name("a-1").labels == {"team": "a", "tier": "web"}
    assert hclient.servers.get_by_name("nope") is None


def test_get_all_follows_pagination(hclient: hcloud.Client, hetzner: HetznerSimulator) -> None:
    for i in range(60):
        hclient.servers.create(
            name=f"p-{i}", server_type=ServerType(name="cx23"), image=Image(name="debian-12")
        )
    assert len(hclient.servers.get_all()) == 60  # the SDK asks for pages of 50
    page = hclient.servers.get_list(page=2, per_page=25)
    assert [s.name for s in page.servers] == [f"p-{i}" for i in range(25, 50)]
    assert page.meta.pagination.total_entries == 60
    assert page.meta.pagination.next_page == 3
    assert page.meta.pagination.previous_page == 1
    assert page.meta.pagination.last_page == 3
    pages = [r for r in hetzner.request_log if r.template == "/servers" and r.method == "GET"]
    assert [r.query for r in pages[:2]] == ["page=1&per_page=50", "page=2&per_page=50"]


def test_sort(hclient: hcloud.Client) -> None:
    for name in ("m", "z", "a"):
        hclient.servers.create(name=name, server_type=ServerType(name="cx23"), image=Image(name="debian-12"))
    # The SDK has no sort argument for servers; its raw request helper sends the query as the API takes it.
    by_name = hclient.request("GET", "/servers", params={"sort": ["name:desc"]})["servers"]
    assert [s["name"] for s in by_name] == ["z", "m", "a"]
    by_id = hclient.request("GET", "/servers", params={"sort": ["id:asc"]})["servers"]
    assert [s["name"] for s in by_id] == ["m", "z", "a"]


def test_update_replaces_labels_and_renames(hclient: hcloud.Client) -> None:
    server = create(hclient, "old", labels={"a": "1", "b": "2"})
    updated = server.update(name="new", labels={"c": "3"})
    assert updated.name == "new"
    assert updated.labels == {"c": "3"}


def test_delete_removes_the_server(hclient: hcloud.Client) -> None:
    server = create(hclient, "doomed")
    action = server.delete()
    assert action.command == "delete_server"
    action.wait_until_finished()
    with pytest.raises(hcloud.APIException) as caught:
        hclient.servers.get_by_id(server.id)
    assert caught.value.code == "not_found"


def test_traffic_counters_grow_while_running_and_stand_still_while_off(hclient: hcloud.Client) -> None:
    """What status.usage reports (reconcile/usage.py): Hetzner's per-period traffic counters."""
    server = create(hclient, "busy-1")
    assert server.included_traffic == 20 * 2**40  # fsn1 is in eu-central
    first = server.outgoing_traffic
    time.sleep(0.1)  # 20 simulated seconds
    running = hclient.servers.get_by_id(server.id)
    assert running.outgoing_traffic > first
    assert 0 < running.ingoing_traffic < running.outgoing_traffic
    running.power_off().wait_until_finished()
    stopped = hclient.servers.get_by_id(server.id).outgoing_traffic
    time.sleep(0.1)
    assert hclient.servers.get_by_id(server.id).outgoing_traffic == stopped  # an off server sends nothing
    hclient.servers.get_by_id(server.id).power_on().wait_until_finished()
    time.sleep(0.1)
    assert hclient.servers.get_by_id(server.id).outgoing_traffic > stopped  # what ran before is kept

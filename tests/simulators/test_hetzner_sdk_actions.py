"""Server actions through the hcloud SDK: power, reboot, rebuild, change_type, backups, protection, rDNS,
locks while an action runs, status progressions over simulated time, and actions that fail."""

from __future__ import annotations

import hcloud
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from hcloud.actions import ActionFailedException
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer


def started(client: hcloud.Client, name: str, server_type: str = "cx23", **kwargs: object) -> BoundServer:
    response = client.servers.create(
        name=name, server_type=ServerType(name=server_type), image=Image(name="ubuntu-24.04"), **kwargs
    )
    for action in [response.action, *response.next_actions]:
        action.wait_until_finished()
    return client.servers.get_by_id(response.server.id)


def finish(action: hcloud.actions.BoundAction, client: hcloud.Client, server: BoundServer) -> BoundServer:
    action.wait_until_finished()
    return client.servers.get_by_id(server.id)


def test_statuses_move_with_simulated_time(hetzner: HetznerSimulator) -> None:
    client = hcloud.Client("hetzner-test-token", api_endpoint=hetzner.url)
    hetzner.clock.time_scale = 1e-6  # effectively frozen: only advance() moves time
    response = client.servers.create(
        name="slow", server_type=ServerType(name="cx23"), image=Image(name="debian-12")
    )
    server_id = response.server.id

    def status() -> str:
        return str(client.servers.get_by_id(server_id).status)

    assert status() == "initializing"
    hetzner.clock.advance(8.5)  # create_server takes 8 simulated seconds, start_server 6 more
    assert status() == "starting"
    assert client.actions.get_by_id(response.action.id).status == "success"
    assert client.actions.get_by_id(response.next_actions[0].id).status == "running"
    hetzner.clock.advance(6)
    assert status() == "running"
    client.servers.get_by_id(server_id).power_off()
    assert status() == "stopping"
    hetzner.clock.advance(3)
    assert status() == "off"


def test_power_cycle(hclient: hcloud.Client) -> None:
    server = started(hclient, "power")
    assert finish(server.power_off(), hclient, server).status == "off"
    assert finish(server.power_on(), hclient, server).status == "running"
    assert finish(server.shutdown(), hclient, server).status in ("stopping", "off")
    assert finish(server.power_on(), hclient, server).status in ("running", "starting")


def test_reboot_and_reset_keep_it_running(hclient: hcloud.Client) -> None:
    server = started(hclient, "boots")
    action = server.reboot()
    assert action.command == "reboot_server"
    assert finish(action, hclient, server).status == "running"
    action = server.reset()
    assert action.command == "reset_server"
    assert finish(action, hclient, server).status == "running"


def test_rebuild_changes_the_image(hclient: hcloud.Client) -> None:
    server = started(hclient, "rebuilt")
    response = server.rebuild(Image(name="debian-13"))
    assert response.root_password
    assert finish(response.action, hclient, server).image.name == "debian-13"


def test_change_type_needs_a_stopped_server_and_never_shrinks_the_disk(hclient: hcloud.Client) -> None:
    server = started(hclient, "resize", server_type="cx23")
    with pytest.raises(hcloud.APIException) as caught:
        server.change_type(ServerType(name="cx33"), upgrade_disk=True)
    assert caught.value.code == "server_not_stopped"
    finish(server.power_off(), hclient, server)
    # upgrade_disk=False keeps the 40 GB disk, so the way back down stays open
    resized = finish(server.change_type(ServerType(name="cx33"), upgrade_disk=False), hclient, server)
    assert (resized.server_type.name, resized.primary_disk_size) == ("cx33", 40)
    back = finish(server.change_type(ServerType(name="cx23"), upgrade_disk=False), hclient, server)
    assert back.server_type.name == "cx23"
    # upgrade_disk=True grows the disk to 80 GB: cx23's 40 GB disk can no longer hold it
    grown = finish(server.change_type(ServerType(name="cx33"), upgrade_disk=True), hclient, server)
    assert grown.primary_disk_size == 80
    with pytest.raises(hcloud.APIException) as caught:
        server.change_type(ServerType(name="cx23"), upgrade_disk=False)
    assert caught.value.code == "invalid_server_type"
    with pytest.raises(hcloud.APIException) as caught:
        server.change_type(ServerType(name="cax21"), upgrade_disk=True)  # arm: another architecture
    assert caught.value.code == "invalid_server_type"


def test_backups_protection_and_reverse_dns(hclient: hcloud.Client) -> None:
    server = started(hclient, "guarded")
    assert finish(server.enable_backup(), hclient, server).backup_window == "22-02"
    assert finish(server.disable_backup(), hclient, server).backup_window is None
    protected = finish(server.change_protection(delete=True, rebuild=True), hclient, server)
    assert protected.protection == {"delete": True, "rebuild": True}
    for refused in (server.delete, lambda: server.rebuild(Image(name="debian-12"))):
        with pytest.raises(hcloud.APIException) as caught:
            refused()
        assert caught.value.code == "protected"
    finish(server.change_protection(delete=False, rebuild=False), hclient, server)
    ipv4 = server.public_net.ipv4.ip
    assert finish(
        server.change_dns_ptr(ipv4, "claw.example.com"), hclient, server
    ).public_net.ipv4.dns_ptr == ("claw.example.com")
    ipv6 = server.public_net.ipv6.ip.split("/")[0] + "1"
    rdns = finish(server.change_dns_ptr(ipv6, "v6.example.com"), hclient, server).public_net.ipv6.dns_ptr
    assert rdns == [{"ip": ipv6, "dns_ptr": "v6.example.com"}]
    server.delete().wait_until_finished()
    assert hclient.servers.get_by_name("guarded") is None


def test_a_running_action_locks_the_server(hclient: hcloud.Client, hetzner: HetznerSimulator) -> None:
    server = started(hclient, "busy")
    hetzner.clock.time_scale = 1e-6
    server.reboot()
    with pytest.raises(hcloud.APIException) as caught:
        server.power_off()
    assert caught.value.code == "locked"
    hetzner.clock.advance(10)
    assert server.power_off().command == "stop_server"  # the reboot is over: the lock is gone


def test_injected_action_failure_surfaces_as_action_failed(
    hclient: hcloud.Client, hetzner: HetznerSimulator
) -> None:
    hetzner.faults.fail_actions("start_server", 1)
    response = hclient.servers.create(
        name="flaky", server_type=ServerType(name="cx23"), image=Image(name="debian-12")
    )
    response.action.wait_until_finished()  # the server itself is created...
    with pytest.raises(ActionFailedException):
        response.next_actions[0].wait_until_finished()  # ...but does not start
    assert hclient.servers.get_by_id(response.server.id).status == "off"
    assert [a["status"] for a in hetzner.actions()] == ["success", "error"]


def test_actions_listed_by_id_and_per_server(hclient: hcloud.Client) -> None:
    server = started(hclient, "history")
    server.reboot().wait_until_finished()
    commands = sorted(a.command for a in server.get_actions())
    assert commands == ["create_server", "reboot_server", "start_server"]
    ids = [a.id for a in server.get_actions()]
    listed = hclient.request("GET", "/actions", params={"id": ids[:2]})["actions"]
    assert sorted(a["id"] for a in listed) == sorted(ids[:2])


def test_out_of_band_drift_is_visible(hclient: hcloud.Client, hetzner: HetznerSimulator) -> None:
    one, two = started(hclient, "one"), started(hclient, "two")
    hetzner.power_off_out_of_band(one.id)
    hetzner.delete_server_out_of_band(two.id)
    assert hclient.servers.get_by_id(one.id).status == "off"
    assert [s.name for s in hclient.servers.get_all()] == ["one"]
    assert [s["name"] for s in hetzner.servers()] == ["one"]

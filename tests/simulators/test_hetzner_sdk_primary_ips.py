"""Primary IPs through the unmodified hcloud SDK: the addresses servers get, IPs created on their own and
given to a server at create (`public_net`), assign/unassign rules, `auto_delete`, protection and rDNS."""

from __future__ import annotations

import hcloud
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.primary_ips import BoundPrimaryIP, PrimaryIP
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer, ServerCreatePublicNetwork


@pytest.fixture
def frozen(hetzner: HetznerSimulator) -> HetznerSimulator:
    hetzner.clock.time_scale = 1e-6  # only advance() moves time
    return hetzner


def server(
    client: hcloud.Client, sim: HetznerSimulator, name: str, *, start: bool = True, **kwargs: object
) -> BoundServer:
    response = client.servers.create(
        name=name, server_type=ServerType(name="cx23"), image=Image(name="ubuntu-24.04"),
        start_after_create=start, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    sim.clock.advance(8 + 6 + 1)
    return client.servers.get_by_id(response.server.id)


def free_ip(
    client: hcloud.Client, name: str, ip_type: str = "ipv4", location: str = "fsn1"
) -> BoundPrimaryIP:
    return client.primary_ips.create(
        type=ip_type, name=name, location=Location(name=location), assignee_type="server"
    ).primary_ip


def refused(call: object, code: str) -> hcloud.APIException:
    assert callable(call)
    with pytest.raises(hcloud.APIException) as caught:
        call()
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_every_server_address_is_a_primary_ip_deleted_with_it(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    web = server(hclient, frozen, "web")
    v4, v6 = web.public_net.primary_ipv4, web.public_net.primary_ipv6
    assert v4 is not None and v6 is not None
    ipv4 = hclient.primary_ips.get_by_id(v4.id)
    ipv6 = hclient.primary_ips.get_by_id(v6.id)
    assert (ipv4.type, ipv4.ip, ipv4.assignee_id, ipv4.assignee_type) == (
        "ipv4",
        web.public_net.ipv4.ip,
        web.id,
        "server",
    )
    assert (ipv6.type, ipv6.ip) == ("ipv6", web.public_net.ipv6.ip) and ipv6.ip.endswith("/64")
    assert ipv4.auto_delete and ipv6.auto_delete  # made for the server, so they go with it
    assert ipv4.location.name == "fsn1"
    assert {ip.id for ip in hclient.primary_ips.get_all()} == {v4.id, v6.id}
    assert hclient.primary_ips.get_by_name(ipv4.name).id == v4.id

    web.delete()
    frozen.clock.advance(3)
    assert hclient.primary_ips.get_all() == []


def test_an_ip_given_at_create_outlives_its_server_unless_auto_delete(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    kept = free_ip(hclient, "kept")
    assert (kept.assignee_id, kept.auto_delete, kept.location.name) == (None, False, "fsn1")
    first = server(hclient, frozen, "first", public_net=ServerCreatePublicNetwork(ipv4=PrimaryIP(id=kept.id)))
    assert first.public_net.ipv4.ip == kept.ip and first.public_net.primary_ipv4.id == kept.id
    assert hclient.primary_ips.get_by_id(kept.id).assignee_id == first.id
    v6_id = first.public_net.primary_ipv6.id  # made for the server

    first.delete()
    frozen.clock.advance(3)
    assert hclient.primary_ips.get_by_id(kept.id).assignee_id is None
    refused(lambda: hclient.primary_ips.get_by_id(v6_id), "not_found")

    second = server(
        hclient, frozen, "second", public_net=ServerCreatePublicNetwork(ipv4=PrimaryIP(id=kept.id))
    )
    assert second.public_net.ipv4.ip == kept.ip  # the same address, the next server
    hclient.primary_ips.update(kept, auto_delete=True)
    second.delete()
    frozen.clock.advance(3)
    refused(lambda: hclient.primary_ips.get_by_id(kept.id), "not_found")


def test_public_net_without_ipv4(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    quiet = server(hclient, frozen, "v6-only", public_net=ServerCreatePublicNetwork(enable_ipv4=False))
    assert quiet.public_net.ipv4 is None and quiet.public_net.primary_ipv4 is None
    assert quiet.public_net.ipv6 is not None
    assert [ip.type for ip in hclient.primary_ips.get_all()] == ["ipv6"]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda client: free_ip(client, "v6", ip_type="ipv6"), "primary_ip_version_mismatch"),
        (lambda client: free_ip(client, "far", location="nbg1"), "primary_ip_datacenter_mismatch"),
        (lambda client: client.servers.get_by_name("holder").public_net.primary_ipv4, "primary_ip_assigned"),
    ],
)
def test_public_net_refuses_an_ip_that_does_not_fit(
    hclient: hcloud.Client, frozen: HetznerSimulator, make: object, code: str
) -> None:
    server(hclient, frozen, "holder")
    assert callable(make)
    ip = make(hclient)
    before = len(hclient.servers.get_all())
    refused(
        lambda: hclient.servers.create(
            name="misfit", server_type=ServerType(name="cx23"), image=Image(name="ubuntu-24.04"),
            public_net=ServerCreatePublicNetwork(ipv4=PrimaryIP(id=ip.id)),
        ),
        code,
    )  # fmt: skip
    assert len(hclient.servers.get_all()) == before  # refused before anything was made


def test_assign_and_unassign_need_the_server_off(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    web = server(hclient, frozen, "web")
    own = hclient.primary_ips.get_by_id(web.public_net.primary_ipv4.id)
    refused(own.unassign, "server_not_stopped")
    refused(own.delete, "must_be_unassigned")
    web.power_off()
    frozen.clock.advance(4)
    assert own.unassign().command == "unassign_primary_ip"
    frozen.clock.advance(2)
    assert hclient.servers.get_by_id(web.id).public_net.ipv4 is None
    assert hclient.primary_ips.get_by_id(own.id).assignee_id is None

    spare = free_ip(hclient, "spare")
    assert spare.assign(assignee_id=web.id, assignee_type="server").command == "assign_primary_ip"
    frozen.clock.advance(2)
    assert hclient.servers.get_by_id(web.id).public_net.ipv4.ip == spare.ip
    refused(lambda: own.assign(assignee_id=web.id, assignee_type="server"), "server_has_ipv4")
    other = server(
        hclient, frozen, "other", start=False, public_net=ServerCreatePublicNetwork(enable_ipv4=False)
    )
    refused(lambda: spare.assign(assignee_id=other.id, assignee_type="server"), "primary_ip_already_assigned")
    running = server(hclient, frozen, "running", public_net=ServerCreatePublicNetwork(enable_ipv4=False))
    refused(lambda: own.assign(assignee_id=running.id, assignee_type="server"), "server_not_stopped")
    assert own.delete() is True


def test_create_assigned_to_a_server(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    off = server(hclient, frozen, "off", start=False, public_net=ServerCreatePublicNetwork(enable_ipv4=False))
    response = hclient.primary_ips.create(
        type="ipv4", name="direct", assignee_id=off.id, assignee_type="server"
    )
    assert response.action is not None and response.action.command == "assign_primary_ip"
    assert response.primary_ip.assignee_id == off.id
    assert hclient.servers.get_by_id(off.id).public_net.ipv4.ip == response.primary_ip.ip
    refused(
        lambda: hclient.primary_ips.create(
            type="ipv4", name="twice", assignee_id=off.id, assignee_type="server"
        ),
        "server_has_ipv4",
    )


def test_protection_needs_auto_delete_off(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    web = server(hclient, frozen, "web")
    made_for_server = hclient.primary_ips.get_by_id(web.public_net.primary_ipv4.id)
    refused(lambda: made_for_server.change_protection(delete=True), "invalid_input")

    kept = free_ip(hclient, "kept")
    kept.change_protection(delete=True)
    frozen.clock.advance(2)
    assert hclient.primary_ips.get_by_id(kept.id).protection == {"delete": True}
    refused(kept.delete, "protected")


def test_update_and_list(hclient: hcloud.Client) -> None:
    a, b = free_ip(hclient, "a"), free_ip(hclient, "b", ip_type="ipv6")
    updated = a.update(name="a-renamed", labels={"role": "ingress"}, auto_delete=True)
    assert (updated.name, updated.labels, updated.auto_delete) == ("a-renamed", {"role": "ingress"}, True)
    refused(lambda: b.update(name="a-renamed"), "uniqueness_error")
    assert [ip.id for ip in hclient.primary_ips.get_all(label_selector="role=ingress")] == [a.id]
    assert [ip.id for ip in hclient.primary_ips.get_list(ip=b.ip).primary_ips] == [b.id]


def test_reverse_dns_is_the_ips_and_shows_on_the_server(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    web = server(hclient, frozen, "web")
    ipv4 = hclient.primary_ips.get_by_id(web.public_net.primary_ipv4.id)
    assert ipv4.dns_ptr[0]["dns_ptr"].endswith(".clients.your-server.de")
    ipv4.change_dns_ptr(ip=ipv4.ip, dns_ptr="web.example.com")
    frozen.clock.advance(2)
    assert hclient.servers.get_by_id(web.id).public_net.ipv4.dns_ptr == "web.example.com"

    v6 = web.public_net.ipv6.ip.split("/")[0] + "1"
    web.change_dns_ptr(ip=v6, dns_ptr="six.example.com")
    frozen.clock.advance(2)
    ipv6 = hclient.primary_ips.get_by_id(web.public_net.primary_ipv6.id)
    assert ipv6.dns_ptr == [{"ip": v6, "dns_ptr": "six.example.com"}]
    refused(lambda: ipv4.change_dns_ptr(ip="192.0.2.1", dns_ptr="x.example.com"), "invalid_input")


def test_out_of_band_deletion_keeps_ips_without_auto_delete(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    kept = free_ip(hclient, "kept")
    web = server(hclient, frozen, "web", public_net=ServerCreatePublicNetwork(ipv4=PrimaryIP(id=kept.id)))
    frozen.delete_server_out_of_band(web.id)
    assert [(ip["id"], ip["assignee_id"]) for ip in frozen.primary_ips()] == [(kept.id, None)]

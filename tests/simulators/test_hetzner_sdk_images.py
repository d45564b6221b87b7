"""Snapshots and backups through the unmodified hcloud SDK: `servers.create_image`, the images collection
(filters, update, protection, delete) and servers created or rebuilt from a snapshot.

The simulated clock is frozen (only `advance()` moves it), so durations are exact: a snapshot takes
20 s + 15 s per GB of used disk, a create from a snapshot `create_server` + 15 s per GB of the image.
"""

from __future__ import annotations

from decimal import Decimal

import hcloud
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from hcloud.actions import ActionFailedException, BoundAction
from hcloud.images import BoundImage, Image
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer

BOOT = 8 + 6 + 1  # create_server + start_server, plus a second


@pytest.fixture
def frozen(hetzner: HetznerSimulator) -> HetznerSimulator:
    hetzner.clock.time_scale = 1e-6
    return hetzner


def running(
    client: hcloud.Client, sim: HetznerSimulator, name: str, server_type: str = "cx23"
) -> BoundServer:
    response = client.servers.create(
        name=name, server_type=ServerType(name=server_type), image=Image(name="ubuntu-24.04")
    )
    sim.clock.advance(BOOT)
    return client.servers.get_by_id(response.server.id)


def snapshot(
    client: hcloud.Client, sim: HetznerSimulator, server: BoundServer, **kwargs: object
) -> BoundImage:
    """Take an image of the server and let the copy finish."""
    response = server.create_image(**kwargs)  # type: ignore[arg-type]
    sim.clock.advance(20 + 15 * server.primary_disk_size)  # more than any used disk needs
    return client.images.get_by_id(response.image.id)


def seconds(sim: HetznerSimulator, action: BoundAction) -> float:
    """The action's simulated duration. Its API timestamps are wall-clock instants (an `advance()` takes no
    wall time), so the simulator's own record is what measures the modelled copy time."""
    recorded = sim.world.actions[action.id]
    assert recorded.finished is not None
    return recorded.finished - recorded.started


def test_a_snapshot_is_creating_until_its_action_has_copied_the_used_disk(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    server = running(hclient, frozen, "snap-me")
    frozen.set_disk_usage(server.id, 12.5)
    response = server.create_image(description="before upgrade", labels={"kind": "pre-upgrade"})
    image = response.image
    assert response.action.command == "create_image"
    assert {(r["id"], r["type"]) for r in response.action.resources} == {
        (server.id, "server"),
        (image.id, "image"),
    }
    assert (image.type, image.status, image.image_size) == ("snapshot", "creating", None)
    assert (image.disk_size, image.description, image.labels) == (
        40,
        "before upgrade",
        {"kind": "pre-upgrade"},
    )
    assert image.created_from.id == server.id and image.created_from.name == "snap-me"
    assert image.bound_to is None and image.name is None
    assert (image.architecture, image.os_flavor, image.os_version) == ("x86", "ubuntu", "24.04")
    with pytest.raises(hcloud.APIException) as caught:  # the server is locked while its disk is copied
        server.power_off()
    assert caught.value.code == "locked"

    frozen.clock.advance(20 + 15 * 12.5 - 1)
    assert hclient.images.get_by_id(image.id).status == "creating"
    frozen.clock.advance(1.5)
    done = hclient.images.get_by_id(image.id)
    assert (done.status, done.image_size) == ("available", 5.0)  # 0.4 of the 12.5 GB used
    action = hclient.actions.get_by_id(response.action.id)
    assert action.status == "success"
    assert seconds(frozen, action) == pytest.approx(207.5, abs=1)
    assert [a.id for a in done.get_actions()] == [response.action.id]


def test_images_are_listed_with_the_system_images_and_filtered(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    web = running(hclient, frozen, "web")
    arm = running(hclient, frozen, "arm", server_type="cax11")
    gold = snapshot(hclient, frozen, web, labels={"tier": "gold"})
    plain = snapshot(hclient, frozen, arm)

    def ids(**kwargs: object) -> list[int]:
        return sorted(image.id for image in hclient.images.get_all(**kwargs))  # type: ignore[arg-type]

    assert ids(type=["snapshot"]) == sorted([gold.id, plain.id])
    assert ids(type=["snapshot"], label_selector="tier=gold") == [gold.id]
    assert ids(type=["snapshot"], architecture=["arm"]) == [plain.id]
    assert ids(type=["backup"]) == []
    everything = hclient.images.get_all()
    assert {image.type for image in everything} == {"system", "snapshot"}
    assert hclient.images.get_by_name_and_architecture("ubuntu-24.04", "arm").type == "system"
    by_newest = hclient.images.get_all(type=["snapshot"], sort=["created:desc"])
    assert [image.id for image in by_newest] == [plain.id, gold.id]


def test_update_protect_and_delete_a_snapshot(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    image = snapshot(hclient, frozen, running(hclient, frozen, "keep"))
    updated = image.update(description="golden", labels={"a": "b"})
    assert (updated.description, updated.labels) == ("golden", {"a": "b"})

    image.change_protection(delete=True)
    frozen.clock.advance(2)
    assert hclient.images.get_by_id(image.id).protection == {"delete": True}
    with pytest.raises(hcloud.APIException) as caught:
        image.delete()
    assert caught.value.code == "protected"

    image.change_protection(delete=False)
    frozen.clock.advance(2)
    assert image.delete() is True
    with pytest.raises(hcloud.APIException) as caught:
        hclient.images.get_by_id(image.id)
    assert caught.value.code == "not_found"


def test_system_images_cannot_be_changed(hclient: hcloud.Client) -> None:
    system = hclient.images.get_by_name_and_architecture("debian-13", "x86")
    for attempt in (system.delete, lambda: system.update(description="mine")):
        with pytest.raises(hcloud.APIException) as caught:
            attempt()
        assert caught.value.code == "forbidden"


def test_a_snapshot_being_created_cannot_be_deleted_or_used(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    image = running(hclient, frozen, "busy").create_image().image
    with pytest.raises(hcloud.APIException) as caught:
        image.delete()
    assert caught.value.code == "locked"
    with pytest.raises(hcloud.APIException) as caught:
        hclient.servers.create(
            name="too-early", server_type=ServerType(name="cx23"), image=Image(id=image.id)
        )
    assert caught.value.code == "invalid_input"
    assert "not available" in caught.value.message


def test_backups_are_bound_to_their_server_and_go_with_it(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    server = running(hclient, frozen, "backed")
    with pytest.raises(hcloud.APIException) as caught:
        server.create_image(type="backup")
    assert caught.value.code == "invalid_input" and "backups are not enabled" in caught.value.message

    server.enable_backup()
    frozen.clock.advance(2)
    backups = [snapshot(hclient, frozen, server, type="backup") for _ in range(8)]
    assert all(b.type == "backup" and b.bound_to.id == server.id for b in backups)
    kept = hclient.images.get_all(type=["backup"], bound_to=[str(server.id)])
    assert [b.id for b in kept] == [b.id for b in backups[1:]]  # seven slots: the oldest made room

    converted = backups[-1].update(type="snapshot")
    assert (converted.type, converted.bound_to) == ("snapshot", None)
    own = snapshot(hclient, frozen, server)
    server.delete()
    frozen.clock.advance(3)
    assert hclient.images.get_all(type=["backup"]) == []
    assert sorted(i.id for i in hclient.images.get_all(type=["snapshot"])) == sorted([converted.id, own.id])


def test_a_server_created_from_a_snapshot_carries_its_data(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    source = running(hclient, frozen, "source")
    frozen.set_disk_usage(source.id, 10)
    image = snapshot(hclient, frozen, source)
    assert image.image_size == 4.0

    response = hclient.servers.create(
        name="clone", server_type=ServerType(name="cpx22"), image=Image(id=image.id)
    )
    assert response.server.image.id == image.id and response.server.image.type == "snapshot"
    frozen.clock.advance(8 + 15 * 4.0 + 6 + 1)
    assert seconds(frozen, hclient.actions.get_by_id(response.action.id)) == pytest.approx(
        8 + 15 * 4.0, abs=1
    )
    clone = hclient.servers.get_by_id(response.server.id)
    assert clone.status == "running"
    again = snapshot(hclient, frozen, clone)  # the copied data is the clone's used disk
    assert (again.image_size, again.disk_size) == (4.0, 80)


@pytest.mark.parametrize(
    ("server_type", "why"),
    [
        ("cx23", "image disk is bigger than server type disk"),  # 40 GB < the 80 GB the image holds
        ("cax21", "is for x86, not arm"),
    ],
)
def test_a_snapshot_needs_a_server_it_fits(
    hclient: hcloud.Client, frozen: HetznerSimulator, server_type: str, why: str
) -> None:
    image = snapshot(hclient, frozen, running(hclient, frozen, "big", server_type="cx33"))
    assert image.disk_size == 80
    with pytest.raises(hcloud.APIException) as caught:
        hclient.servers.create(
            name="small", server_type=ServerType(name=server_type), image=Image(id=image.id)
        )
    assert caught.value.code == "invalid_input"
    assert why in caught.value.message
    assert caught.value.details["fields"][0]["name"] == "image"


def test_rebuild_from_a_snapshot(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    donor = running(hclient, frozen, "donor")
    frozen.set_disk_usage(donor.id, 5)
    image = snapshot(hclient, frozen, donor)
    target = running(hclient, frozen, "target")
    target.rebuild(Image(id=image.id))
    frozen.clock.advance(15 + 15 * image.image_size + 1)
    rebuilt = hclient.servers.get_by_id(target.id)
    assert (rebuilt.status, rebuilt.image.id) == ("running", image.id)
    assert snapshot(hclient, frozen, rebuilt).image_size == image.image_size


def test_a_deleted_snapshot_stays_named_by_its_servers(
    hclient: hcloud.Client, frozen: HetznerSimulator
) -> None:
    image = snapshot(hclient, frozen, running(hclient, frozen, "origin"))
    clone = hclient.servers.create(
        name="clone", server_type=ServerType(name="cx23"), image=Image(id=image.id)
    )
    image.delete()
    rendered = hclient.request("GET", f"/servers/{clone.server.id}")["server"]["image"]
    assert rendered["id"] == image.id and rendered["deleted"] is not None


def test_pricing_says_what_a_snapshot_costs(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    source = running(hclient, frozen, "billed")
    frozen.set_disk_usage(source.id, 25)
    image = snapshot(hclient, frozen, source)
    # hcloud-python has no pricing client; its raw request helper reads the document as the API sends it.
    pricing = hclient.request("GET", "/pricing")["pricing"]
    per_gb = Decimal(pricing["image"]["price_per_gb_month"]["net"])
    assert (pricing["currency"], per_gb) == ("EUR", Decimal("0.0119"))
    assert Decimal(str(image.image_size)) * per_gb == Decimal("0.1190")  # 10 GB stored of the 25 used
    cx23 = next(t for t in pricing["server_types"] if t["name"] == "cx23")
    fsn1 = next(p for p in cx23["prices"] if p["location"] == "fsn1")
    listed = next(p for p in hclient.server_types.get_by_name("cx23").prices if p["location"] == "fsn1")
    assert fsn1["price_monthly"] == listed["price_monthly"]  # one price list: the catalogue's
    assert pricing["server_backup"]["percentage"] == "20.00"


def test_a_failed_copy_leaves_no_image(hclient: hcloud.Client, frozen: HetznerSimulator) -> None:
    server = running(hclient, frozen, "flaky")
    frozen.faults.fail_actions("create_image")
    response = server.create_image()
    frozen.clock.advance(20 + 15 * 2)
    with pytest.raises(ActionFailedException):
        response.action.wait_until_finished()
    assert hclient.images.get_all(type=["snapshot"]) == []
    assert hclient.servers.get_by_id(server.id).status == "running"  # the server is unharmed

"""SSH keys, firewalls and the catalogue through the hcloud SDK; the API's errors as the SDK raises them."""

from __future__ import annotations

import hcloud
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from hcloud.firewalls import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from hcloud.images import Image
from hcloud.server_types import ServerType
from hcloud.ssh_keys import SSHKey

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB ops@example"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC dev@example"
SSH_IN = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0", "::/0"])
MANAGED = "clawhost.dev/managed-by=openclaw-operator"


def test_ssh_keys_crud_and_uniqueness(hclient: hcloud.Client) -> None:
    key = hclient.ssh_keys.create(name="ops", public_key=KEY, labels={"team": "ops"})
    assert key.fingerprint.count(":") == 15
    assert hclient.ssh_keys.get_by_name("ops").id == key.id
    assert hclient.ssh_keys.get_by_fingerprint(key.fingerprint).name == "ops"
    for name, public_key, field in (("ops", OTHER_KEY, "name"), ("dup", KEY, "public_key")):
        with pytest.raises(hcloud.APIException) as caught:
            hclient.ssh_keys.create(name=name, public_key=public_key)
        assert caught.value.code == "uniqueness_error"
        assert caught.value.details == {"fields": [{"name": field}]}
    assert key.update(name="ops-2", labels={}).name == "ops-2"
    response = hclient.servers.create(
        name="keyed",
        server_type=ServerType(name="cx23"),
        image=Image(name="debian-12"),
        ssh_keys=[SSHKey(name="ops-2")],
    )
    assert response.root_password is None  # a key was given
    assert key.delete() is True
    assert hclient.ssh_keys.get_all() == []


def test_firewall_applied_by_label_selector_shows_on_matching_servers(hclient: hcloud.Client) -> None:
    ours = hclient.servers.create(
        name="ours", server_type=ServerType(name="cx23"), image=Image(name="debian-12"),
        labels={"clawhost.dev/managed-by": "openclaw-operator"},
    ).server  # fmt: skip
    foreign = hclient.servers.create(
        name="foreign", server_type=ServerType(name="cx23"), image=Image(name="debian-12")
    )
    selector = FirewallResource(
        type="label_selector", label_selector=FirewallResourceLabelSelector(selector=MANAGED)
    )
    created = hclient.firewalls.create(
        name="clawhost-managed", rules=[SSH_IN], labels={"clawhost.dev/managed-by": "openclaw-operator"},
        resources=[selector],
    )  # fmt: skip
    for action in created.actions:
        action.wait_until_finished()
    firewall = hclient.firewalls.get_by_name("clawhost-managed")
    assert [r.type for r in firewall.applied_to] == ["label_selector"]
    assert [r.server.id for r in firewall.applied_to[0].applied_to_resources] == [ours.id]
    assert [f.firewall.id for f in hclient.servers.get_by_id(ours.id).public_net.firewalls] == [firewall.id]
    assert hclient.servers.get_by_id(foreign.server.id).public_net.firewalls == []
    # a server labelled later is covered too: the selector is evaluated, not a snapshot
    hclient.servers.get_by_id(foreign.server.id).update(
        labels={"clawhost.dev/managed-by": "openclaw-operator"}
    )
    assert len(hclient.servers.get_by_id(foreign.server.id).public_net.firewalls) == 1


def test_firewall_rules_apply_remove_delete(hclient: hcloud.Client) -> None:
    server = hclient.servers.create(
        name="direct", server_type=ServerType(name="cx23"), image=Image(name="debian-12")
    )
    firewall = hclient.firewalls.create(name="edge", rules=[SSH_IN]).firewall
    https = FirewallRule(direction="in", protocol="tcp", port="443", source_ips=["0.0.0.0/0"])
    for action in firewall.set_rules([SSH_IN, https]):
        action.wait_until_finished()
    assert [r.port for r in hclient.firewalls.get_by_id(firewall.id).rules] == ["22", "443"]
    target = FirewallResource(type="server", server=server.server)
    firewall.apply_to_resources([target])
    with pytest.raises(hcloud.APIException) as caught:
        firewall.apply_to_resources([target])
    assert caught.value.code == "firewall_already_applied"
    with pytest.raises(hcloud.APIException) as caught:
        firewall.delete()
    assert caught.value.code == "resource_in_use"
    firewall.remove_from_resources([target])
    assert firewall.delete() is True
    with pytest.raises(hcloud.APIException) as caught:
        hclient.firewalls.create(name="bad", rules=[FirewallRule(direction="in", protocol="tcp", port="22")])
    assert caught.value.code == "invalid_input"  # inbound rules need source_ips


def test_catalogue(hclient: hcloud.Client) -> None:
    names = {t.name for t in hclient.server_types.get_all()}
    wanted = "cx22 cx23 cx32 cx33 cx42 cx43 cx52 cx53 cpx11 cpx21 cpx31 cpx41 cpx51 cax11 cax21 cax31 cax41"
    assert set(f"{wanted} ccx13 ccx23 ccx33".split()) <= names
    cx23 = hclient.server_types.get_by_name("cx23")
    assert (cx23.cores, cx23.memory, cx23.disk, cx23.architecture) == (2, 4, 40, "x86")
    assert cx23.prices[0]["price_monthly"]["net"]
    assert hclient.server_types.get_by_name("cax11").architecture == "arm"
    assert {loc.name for loc in hclient.locations.get_all()} == {"fsn1", "nbg1", "hel1", "ash", "hil", "sin"}
    assert hclient.locations.get_by_name("hel1").country == "FI"
    arm = hclient.images.get_by_name_and_architecture("ubuntu-24.04", "arm")
    x86 = hclient.images.get_by_name_and_architecture("ubuntu-24.04", "x86")
    assert arm.id != x86.id
    assert {i.name for i in hclient.images.get_all(architecture=["x86"])} >= {
        "ubuntu-24.04",
        "debian-12",
        "debian-13",
    }
    with pytest.warns(DeprecationWarning):  # the SDK marks datacenters deprecated; the API still answers
        assert hclient.datacenters.get_by_name("fsn1-dc14").location.name == "fsn1"


def test_errors_as_the_sdk_raises_them(hclient: hcloud.Client, hetzner: HetznerSimulator) -> None:
    def code_of(call: object) -> tuple[object, object]:
        with pytest.raises(hcloud.APIException) as caught:
            call()  # type: ignore[operator]
        return caught.value.code, caught.value.correlation_id

    create = hclient.servers.create
    base = {"server_type": ServerType(name="cx23"), "image": Image(name="debian-12")}
    create(name="taken", **base)
    assert code_of(lambda: create(name="taken", **base))[0] == "uniqueness_error"
    assert code_of(lambda: create(name="no_underscores", **base))[0] == "invalid_input"
    assert code_of(lambda: create(name="big", user_data="x" * 40_000, **base))[0] == "invalid_input"
    assert code_of(lambda: create(name="lbl", labels={"hetzner.cloud/x": "y"}, **base))[0] == "invalid_input"
    assert code_of(lambda: hclient.servers.get_by_id(999))[0] == "not_found"
    hetzner.server_limit = 1
    assert code_of(lambda: create(name="over", **base))[0] == "resource_limit_exceeded"
    code, correlation = code_of(lambda: hcloud.Client("wrong", api_endpoint=hetzner.url).servers.get_all())
    assert code == "unauthorized"
    assert correlation  # X-Correlation-Id reaches the exception


def test_firewalls_listed_by_label_and_name_and_deleted_out_of_band(
    hclient: hcloud.Client, hetzner: HetznerSimulator
) -> None:
    selector = FirewallResource(
        type="label_selector", label_selector=FirewallResourceLabelSelector(selector=MANAGED)
    )
    ours = hclient.firewalls.create(
        name="clawhost-managed", rules=[SSH_IN], labels={"clawhost.dev/managed-by": "openclaw-operator"},
        resources=[selector],
    ).firewall  # fmt: skip
    hclient.firewalls.create(name="edge", rules=[SSH_IN], labels={"team": "net"})
    assert [f.name for f in hclient.firewalls.get_all(label_selector=MANAGED)] == ["clawhost-managed"]
    assert [f.name for f in hclient.firewalls.get_all(name="edge")] == ["edge"]
    with pytest.raises(hcloud.APIException) as caught:
        ours.delete()  # the API alone refuses while it is applied
    assert caught.value.code == "resource_in_use"
    hetzner.delete_firewall_out_of_band(ours.id)  # the console detaches and deletes in one go
    assert hclient.firewalls.get_by_name("clawhost-managed") is None
    assert [f.name for f in hclient.firewalls.get_all()] == ["edge"]

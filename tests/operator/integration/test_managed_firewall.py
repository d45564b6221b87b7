"""The managed firewall's edge against the Hetzner simulator, in process: the observer lists it with one
request per listing, each listing's plan is carried out by the actuator through the hcloud adapter, out of
band changes are put back after the next listing, and a foreign firewall holding the name is never
written to (creates stall instead)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import hcloud
import pytest
from hcloud.firewalls import FirewallResource, FirewallResourceLabelSelector, FirewallRule
from pydantic import SecretStr

from openclaw_operator.actuator import Actuator
from openclaw_operator.config import Config
from openclaw_operator.managed_firewall import ManagedFirewall
from openclaw_operator.metrics import DRIFT_REPAIRS
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile import naming
from tests.operator.integration import test_provider_adapters as adapters
from tests.operator.integration.test_provider_adapters import C_TOKEN, H_TOKEN, Rig

rig = adapters.rig  # the adapters' fixture: both simulators in process, the providers and an observer

SSH = ("198.51.100.0/24",)
SELECTOR = FirewallResource(
    type="label_selector", label_selector=FirewallResourceLabelSelector(selector=naming.MANAGED_SELECTOR)
)


def managed(rig: Rig) -> ManagedFirewall:
    config = Config(
        hcloud_token=SecretStr(H_TOKEN),
        cloudflare_api_token=SecretStr(C_TOKEN),
        managed_zones=("example.com",),
        ssh_source_ranges=SSH,
    )

    def no_kube() -> Any:
        raise AssertionError("the firewall needs no Kubernetes")

    actuator = Actuator(config, rig.observer, rig.hetzner, rig.cloudflare, no_kube, lambda i, n: None)
    return actuator.firewall


T = TypeVar("T")


async def by_hand(rig: Rig, change: Callable[[hcloud.Client], T]) -> T:
    """Someone else's change through the SDK, off the loop the simulator answers on."""
    return await asyncio.to_thread(change, hcloud.Client(H_TOKEN, api_endpoint=rig.hetzner_sim.url))


def firewall_requests(rig: Rig, since: int) -> list[str]:
    return [
        f"{r.method} {r.template}"
        for r in rig.hetzner_sim.request_log[since:]
        if r.template.startswith("/firewalls")
    ]


def the_firewall(rig: Rig) -> dict[str, Any]:
    (found,) = [f for f in rig.hetzner_sim.firewalls() if f["name"] == naming.FIREWALL_NAME]
    return found


def repairs(step: str) -> float:
    return DRIFT_REPAIRS.labels(step)._value.get()  # type: ignore[no-any-return]


async def listed_and_repaired(rig: Rig, firewall: ManagedFirewall) -> list[str]:
    """One listing and its plan carried out; the firewall requests both made."""
    mark = len(rig.hetzner_sim.request_log)
    await rig.observer.refresh()
    await firewall.repair()
    return firewall_requests(rig, mark)


async def test_created_once_then_one_request_per_listing_and_creates_wait_for_it(rig: Rig) -> None:
    firewall = managed(rig)
    with pytest.raises(Failure) as waiting:
        await firewall.ensure_in_place()  # nothing listed yet: nothing known, nothing created
    assert waiting.value.kind == FailureKind.WAITING
    assert rig.hetzner_sim.request_log == []

    # A label-selected list, the name looked up (none has it), the create.
    assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"] * 2 + ["POST /firewalls"]
    created = the_firewall(rig)
    assert created["labels"] == {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}
    assert [a["label_selector"]["selector"] for a in created["applied_to"]] == [naming.MANAGED_SELECTOR]
    assert [r["port"] for r in created["rules"]] == ["22", "80", "443", None]
    assert created["rules"][0]["source_ips"] == list(SSH)
    mark = len(rig.hetzner_sim.request_log)
    for _ in range(3):
        await firewall.ensure_in_place()  # what every create asks: no request
    assert await firewall.repair() is None  # planned from this listing already
    assert firewall_requests(rig, mark) == []
    for _ in range(2):  # as desired: one request per listing, whatever the fleet's size
        assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"]


async def test_out_of_band_changes_are_put_back_after_the_next_listing(rig: Rig) -> None:
    firewall = managed(rig)
    await listed_and_repaired(rig, firewall)
    bound = await by_hand(rig, lambda c: c.firewalls.get_by_name(naming.FIREWALL_NAME))
    assert bound is not None
    wanted_rules = the_firewall(rig)["rules"]

    ssh_anywhere = FirewallRule(direction="in", protocol="tcp", port="22", source_ips=["0.0.0.0/0"])
    await by_hand(rig, lambda c: c.firewalls.set_rules(bound, [ssh_anywhere]))
    before = repairs("set_firewall_rules")
    assert await listed_and_repaired(rig, firewall) == [
        "GET /firewalls",
        "POST /firewalls/{id}/actions/set_rules",
    ]
    assert the_firewall(rig)["rules"] == wanted_rules
    assert repairs("set_firewall_rules") == before + 1

    await by_hand(rig, lambda c: c.firewalls.remove_from_resources(bound, [SELECTOR]))
    assert await listed_and_repaired(rig, firewall) == [
        "GET /firewalls",
        "POST /firewalls/{id}/actions/apply_to_resources",
    ]
    assert [a["type"] for a in the_firewall(rig)["applied_to"]] == ["label_selector"]

    await by_hand(rig, lambda c: c.firewalls.remove_from_resources(bound, [SELECTOR]))
    await by_hand(rig, lambda c: c.firewalls.delete(bound))
    before = repairs("create_firewall")
    assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"] * 2 + ["POST /firewalls"]
    assert the_firewall(rig)["id"] != bound.id and the_firewall(rig)["rules"] == wanted_rules
    assert repairs("create_firewall") == before + 1
    assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"]  # and settled again


async def test_a_foreign_firewall_with_our_name_is_never_written_and_creates_stall(rig: Rig) -> None:
    foreign_rules = [FirewallRule(direction="in", protocol="tcp", port="3389", source_ips=["0.0.0.0/0"])]
    await by_hand(
        rig,
        lambda c: c.firewalls.create(name=naming.FIREWALL_NAME, rules=foreign_rules, labels={"team": "net"}),
    )
    before = the_firewall(rig)
    firewall = managed(rig)
    for _ in range(2):
        assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"] * 2  # reads only
        with pytest.raises(Failure) as stalled:
            await firewall.ensure_in_place()
        assert (stalled.value.kind, stalled.value.reason) == (FailureKind.STALLED, "FirewallNameConflict")
        assert f"(id {before['id']})" in stalled.value.message
    assert rig.hetzner_sim.firewalls() == [before]

    # Its owner renames it: the name is free, ours is created next to it, and creates go ahead.
    await by_hand(rig, lambda c: c.firewalls.update(c.firewalls.get_by_id(before["id"]), name="net-team"))
    assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"] * 2 + ["POST /firewalls"]
    await firewall.ensure_in_place()
    (theirs,) = [f for f in rig.hetzner_sim.firewalls() if f["id"] == before["id"]]
    assert theirs == {**before, "name": "net-team"}


async def test_a_failed_write_is_retried_after_the_next_listing_not_by_each_create(rig: Rig) -> None:
    firewall = managed(rig)
    rig.hetzner_sim.faults.error_rate("POST", "/firewalls", 1.0, status=503, code="service_error")
    await rig.observer.refresh()
    with pytest.raises(Failure):
        await firewall.repair()
    mark = len(rig.hetzner_sim.request_log)
    for _ in range(3):
        with pytest.raises(Failure) as waiting:
            await firewall.ensure_in_place()
        assert (waiting.value.kind, waiting.value.reason) == (FailureKind.WAITING, "FirewallNotReady")
    assert firewall_requests(rig, mark) == []
    rig.hetzner_sim.faults.clear()
    assert await listed_and_repaired(rig, firewall) == ["GET /firewalls"] * 2 + ["POST /firewalls"]
    await firewall.ensure_in_place()

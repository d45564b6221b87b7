"""A seeded fleet is what the operator would have left behind, and its planner agrees."""

from __future__ import annotations

from typing import Any

import pytest

from bench.fleet import ZONE, Clouds
from bench.seed import SeededInstance, SeedingError, ready_statuses
from bench.steady import rendered_servers
from openclaw_operator import api
from openclaw_operator.config import Config
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import Zone


def statuses(clouds: Clouds, fleet: list[SeededInstance], config: Config) -> dict[str, dict[str, Any]]:
    zone = Zone(clouds.cloudflare.zone_id(ZONE), ZONE)
    return ready_statuses(fleet, rendered_servers(clouds), zone, clouds.cloudflare.records(), config)


def test_servers_and_records_carry_our_marks(clouds: Clouds, fleet: list[SeededInstance]) -> None:
    servers = rendered_servers(clouds)
    records = clouds.cloudflare.records()
    for seeded in fleet:
        meta = seeded.instance.metadata
        server = servers[seeded.server_id]
        assert server["name"] == naming.server_name(meta.name, meta.uid)
        assert naming.owned_by(server["labels"], meta.uid)
        assert server["status"] == "running"
        assert server["protection"] == {"delete": True, "rebuild": True}
        ours = [r for r in records if naming.record_owner(r["comment"]) == meta.uid]
        assert sorted(r["type"] for r in ours) == ["A", "AAAA"]
        assert {r["name"] for r in ours} == {seeded.instance.spec.hostname}
    firewalls = clouds.hetzner.firewalls()
    assert [f["name"] for f in firewalls] == [naming.FIREWALL_NAME]


def test_statuses_are_ready_and_name_the_seeded_server(
    clouds: Clouds, fleet: list[SeededInstance], config: Config
) -> None:
    found = statuses(clouds, fleet, config)
    assert set(found) == {s.instance.metadata.name for s in fleet}
    for seeded in fleet:
        status = api.InstanceStatus.model_validate(found[seeded.instance.metadata.name])
        assert status.server_id == seeded.server_id
        assert status.phase == api.Phase.RUNNING
        ready = status.condition(api.ConditionType.READY)
        assert ready is not None and ready.status == "True"
        assert status.dns_record_ids is not None and status.dns_record_ids.a and status.dns_record_ids.aaaa


def test_seeding_fails_loudly_when_the_planner_would_still_act(
    clouds: Clouds, fleet: list[SeededInstance], config: Config
) -> None:
    victim = fleet[2]

    def unprotect() -> None:
        server = clouds.hetzner.world.servers[victim.server_id]
        server.protection_delete = server.protection_rebuild = False

    clouds.hetzner.call_in_loop(unprotect)
    with pytest.raises(SeedingError, match=f"{victim.instance.metadata.name}: the planner would still act"):
        statuses(clouds, fleet, config)


def test_handled_marks_leave_kopf_nothing_to_handle_at_a_restart() -> None:
    """The diff-base Kopf reads back from a seeded instance is the essence it builds from it: no change,
    so a restart resumes it without writing the annotation again (a first adoption writes it)."""
    import kopf

    from bench.seed import handled_marks, instance_body
    from openclaw_operator import handlers

    created = instance_body(3, ZONE)
    created["metadata"] |= {"uid": "u-3", "resourceVersion": "7", "generation": 1}
    created["spec"]["dns"] = {"proxied": False, "ttl": 300}  # as the CRD's defaults fill it in
    storage = handlers.diffbase_storage()
    assert storage.fetch(body=kopf.Body(created)) is None  # unmarked: Kopf would call it a creation
    (mark,) = handled_marks([created]).values()
    marked = {**created, "metadata": {**created["metadata"], **mark["metadata"]}}
    assert storage.fetch(body=kopf.Body(marked)) == storage.build(body=kopf.Body(marked))

"""Crash safety of hibernate and unsuspend: SIGKILLs and deterministic crashes right after each
hibernation write (create_image, the server's delete, the create from the snapshot, the snapshot's
delete), for a few instances at once, over several suspend/unsuspend cycles.

Each round flips every instance (hibernate or unsuspend), runs an operator that dies mid-way (a seeded
random SIGKILL while it writes, or `crashing_operator --after <write>`), then a fresh operator that must
finish the transition. After every round the books are checked at the simulators:
- a hibernated instance has no server and exactly one snapshot of its own, available;
- a running one has exactly one server and no snapshot, and that server holds the data its last snapshot
  held (the disk usage set just before that hibernation: a stale snapshot would bring an older value);
- every server and snapshot ever created is accounted for: creates per instance = 1 + restores, snapshot
  creates = hibernations (a second create after a crash counts even if it was cleaned up later);
- nothing else carries our marks (no leaked snapshot or server) and the records are the instance's own.
At the end every instance is deleted mid-hibernation, right after a crash that followed a snapshot create
(a snapshot still being made): nothing at all may be left.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator

from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import ZONE, OperatorProcess, Stage
from tests.reliability.support.drive import converge, log_marks, ready_now, sigkill, wait_until_talking
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Expectation, ServerBirths, SnapshotBirths, audit
from tests.reliability.support.variants import variants

pytestmark = pytest.mark.controlplane

HIBERNATE_CRASHES = ("create_snapshot", "delete_server", "server_action")  # server_action: the shutdown
UNSUSPEND_CRASHES = ("create_server", "delete_snapshot")


@dataclass(frozen=True)
class CyclePlan:
    instances: int
    cycles: int  # one hibernate round and one unsuspend round each
    seed: int
    settle_seconds: float


QUICK = CyclePlan(instances=3, cycles=3, seed=15, settle_seconds=120)
FULL = CyclePlan(instances=8, cycles=10, seed=150, settle_seconds=300)


def crash_points(plan: CyclePlan) -> list[str | None]:
    """Per round (hibernate, unsuspend, hibernate, ...): a write to die after, or None for a random
    SIGKILL. Every write point comes up at least once."""
    rng = random.Random(plan.seed)
    points: list[str | None] = []
    for cycle in range(plan.cycles):
        for choices in (HIBERNATE_CRASHES, UNSUSPEND_CRASHES):
            fixed = choices[cycle % len(choices)] if cycle < len(choices) else rng.choice(choices)
            points.append(None if cycle >= len(choices) and rng.random() < 0.4 else fixed)
    return points


def hibernated(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    return ready_now(body) and status.get("phase") == "Suspended" and not status.get("serverId")


def running(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    return ready_now(body) and status.get("phase") == "Running" and not status.get("hibernation")


def ours(item: dict[str, Any]) -> str | None:
    labels = item["labels"]
    if labels.get(naming.MANAGED_BY_LABEL) != naming.MANAGED_BY_VALUE:
        return None
    return labels.get(naming.INSTANCE_UID_LABEL)


def used_disk(hetzner: HetznerSimulator, server_id: int) -> float:
    return float(hetzner.call_in_loop(lambda: hetzner.world.servers[server_id].used_disk_gb))


@pytest.mark.parametrize("plan", variants(QUICK, FULL))
def test_crashes_during_hibernate_and_unsuspend_leak_nothing_and_lose_nothing(
    stage: Stage, figures: Figures, plan: CyclePlan
) -> None:
    rng = random.Random(plan.seed)
    names = [f"h{i}" for i in range(plan.instances)]
    uids = {name: stage.create_instance(name, suspendMode="Hibernate")["metadata"]["uid"] for name in names}
    operator = stage.start_operator()
    converge(stage, names, timeout=plan.settle_seconds)
    server_births, snapshot_births = ServerBirths.watch(stage.hetzner), SnapshotBirths.watch(stage.hetzner)
    data: dict[str, float] = {}  # the disk usage each instance's last snapshot must carry
    retired: list[OperatorProcess] = []  # stopped, killed or crashed: their logs are scanned at the end
    restores = hibernations = crashes = kills = 0
    for index, point in enumerate(crash_points(plan)):
        hibernate = index % 2 == 0
        if hibernate:
            for name in names:  # the customer wrote something since the last restore
                (server,) = [s for s in stage.servers() if ours(s) == uids[name]]
                data[name] = round(rng.uniform(2.0, 9.0), 1)
                stage.hetzner.set_disk_usage(server["id"], data[name])
        for process in list(stage.operators):
            process.stop()
            stage.operators.remove(process)
            retired.append(process)
        for name in names:
            stage.patch_spec(name, suspended=hibernate)
        marks = log_marks(stage)
        dying = stage.start_operator(crash_after=point)
        if point is not None:
            assert dying.proc.wait(timeout=90) == 137, dying.logs()[-4000:]
            stage.operators.remove(dying)
            crashes += 1
            retired.append(dying)
        else:
            wait_until_talking(stage, dying, marks, writing=True)
            time.sleep(rng.uniform(0.05, 2.0))
            assert sigkill(stage, dying) == -9
            kills += 1
            retired.append(dying)
        operator = stage.start_operator()
        converge(stage, names, timeout=plan.settle_seconds, check=hibernated if hibernate else running)
        hibernations += len(names) if hibernate else 0
        restores += 0 if hibernate else len(names)
        check_books(stage, uids, data, hibernate)
        assert counted(snapshot_births.by_uid, uids) == {
            uid: hibernations // len(names) for uid in uids.values()
        }
        assert counted(server_births.by_uid, uids) == {uid: restores // len(names) for uid in uids.values()}

    # The last round unsuspended everything: the usual books hold too (records on the new addresses).
    books = audit(
        stage.hetzner,
        stage.cloudflare,
        Expectation(live={uid: f"{name}.{ZONE}" for name, uid in uids.items()}, gone={}),
        ServerBirths(),  # restores create a server per cycle by design; counted exactly above
    )
    assert operator.alive()
    figures.update(
        {
            "instances": len(names),
            "hibernations": hibernations,
            "restores": restores,
            "crashes right after a hibernation write": crashes,
            "random SIGKILLs": kills,
            "snapshots left": len(stage.hetzner.images()),
            **books.figures,
        }
    )
    assert books.problems == {}, books.findings
    assert stage.hetzner.images() == []

    # Deleted mid-hibernation: suspended, the operator dies right after the first snapshot create, and
    # every instance is deleted (one has a snapshot being made, the others are shutting down or not yet
    # started); a fresh operator must leave nothing at all.
    for process in list(stage.operators):
        process.stop()
        stage.operators.remove(process)
        retired.append(process)
    for name in names:
        stage.patch_spec(name, suspended=True)
    dying = stage.start_operator(crash_after="create_snapshot")
    assert dying.proc.wait(timeout=90) == 137, dying.logs()[-4000:]
    stage.operators.remove(dying)
    retired.append(dying)
    # Being made (for a few wall seconds), nobody knows its id; creates in flight at once all landed.
    owners = [ours(image) for image in stage.hetzner.images()]
    assert 1 <= len(owners) == len(set(owners)) <= len(names), owners
    for name in names:
        stage.delete(name)
    stage.start_operator()
    converge(stage, [], names, timeout=plan.settle_seconds)
    assert stage.servers() == [] and stage.hetzner.images() == [] and stage.records() == []
    figures["deleted mid-hibernation"] = len(names)
    stage.operators.extend(retired)  # dead, but their logs must hold no token either
    stage.assert_no_secrets_leaked()


def counted(births: Counter[str], uids: dict[str, str]) -> dict[str, int]:
    """Creates per instance, a create with no uid of ours (or someone else's) included as such."""
    found = {uid: births[uid] for uid in uids.values()}
    found.update({uid: count for uid, count in births.items() if uid not in found})
    return found


def check_books(stage: Stage, uids: dict[str, str], data: dict[str, float], hibernate: bool) -> None:
    servers = stage.servers()
    snapshots = stage.hetzner.images()
    by_owner_servers = Counter(ours(s) for s in servers)
    by_owner_snapshots = Counter(ours(s) for s in snapshots)
    owners = set(uids.values())
    assert set(by_owner_servers) <= owners and set(by_owner_snapshots) <= owners, "something leaked"
    for name, uid in uids.items():
        if hibernate:
            assert by_owner_servers[uid] == 0, f"{name} still has a server"
            (snapshot,) = [s for s in snapshots if ours(s) == uid]
            assert snapshot["status"] == "available"
            assert snapshot["image_size"] == round(data[name] * 0.4, 2), f"{name}'s snapshot is stale"
        else:
            assert by_owner_snapshots[uid] == 0, f"{name}'s snapshot was not deleted"
            (server,) = [s for s in servers if ours(s) == uid]
            assert used_disk(stage.hetzner, server["id"]) == data[name], f"{name} lost data"
        records = {r["type"] for r in stage.records() if r["name"] == f"{name}.{ZONE}"}
        assert records == {"A", "AAAA"}, f"{name}'s records: {records}"

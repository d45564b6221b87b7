"""Churn: create/delete cycles interleaved with resizes and suspends, without waiting for anything to
settle in between. Each cycle creates one instance (sometimes reusing the name and hostname of one that
is gone), changes a few live ones, and deletes one once the pool is full, often mid-provision or
mid-resize. Afterwards: every survivor Ready with the server its spec asks for, nothing left of the
deleted ones, and no server ever created twice for one instance.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

import pytest

from tests.operator.integration.harness import Stage
from tests.reliability.support.drive import converge, ready_now
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Expectation, ServerBirths, audit, server_owner
from tests.reliability.support.variants import variants

pytestmark = pytest.mark.controlplane

# Types with the same 40 GB x86 disk: any can follow any other. (A resize that lands before the server is
# created makes the server with the bigger disk, and Hetzner never shrinks one: a way back down would
# rightly stall with DiskDowngrade, which is not what this suite is about.)
TYPES = ("cx23", "cx22", "cpx11")


@dataclass(frozen=True)
class ChurnPlan:
    cycles: int
    pool: int  # live instances kept; each cycle past it deletes one
    seed: int
    pause: float  # longest pause between operations, seconds
    settle_seconds: float


QUICK = ChurnPlan(cycles=20, pool=5, seed=20, pause=0.3, settle_seconds=120)
FULL = ChurnPlan(cycles=200, pool=12, seed=200, pause=0.4, settle_seconds=600)


@dataclass
class Fleet:
    """What the test asked for: live instances with their spec, every uid and hostname ever used."""

    stage: Stage
    live: dict[str, dict[str, Any]]  # name -> spec changes so far
    uids: dict[str, str]  # name -> uid of its current incarnation
    gone: dict[str, str]  # uid -> hostname, every deleted incarnation
    counts: dict[str, int]

    def create(self, name: str) -> None:
        # The harness's token Secret has no owner reference, so a reused name inherits it: replace it.
        self.stage.kube.delete_secret(self.stage.namespace, f"{name}-token")
        self.uids[name] = self.stage.create_instance(name)["metadata"]["uid"]
        self.live[name] = {"serverType": "cx23", "suspended": False}
        self.counts["creates"] += 1

    def delete(self, name: str) -> None:
        self.stage.delete(name)
        self.gone[self.uids[name]] = f"{name}.example.com"
        del self.live[name]
        self.counts["deletes"] += 1

    def change(self, name: str, rng: random.Random) -> None:
        spec = self.live[name]
        if rng.random() < 0.5:
            spec["serverType"] = rng.choice([t for t in TYPES if t != spec["serverType"]])
            self.counts["resizes"] += 1
            self.stage.patch_spec(name, serverType=spec["serverType"])
        else:
            spec["suspended"] = not spec["suspended"]
            self.counts["suspends" if spec["suspended"] else "resumes"] += 1
            self.stage.patch_spec(name, suspended=spec["suspended"])


def reusable_name(fleet: Fleet, retired: list[tuple[int, str]], cycle: int, rng: random.Random) -> str | None:
    """The name of an instance deleted at least three cycles ago, once its object is gone (the apiserver
    refuses a name still in use); which one is the seed's choice, not the timing's."""
    eligible = [entry for entry in retired if entry[0] <= cycle - 3]
    if not eligible:
        return None
    entry = rng.choice(eligible)
    retired.remove(entry)
    fleet.stage.wait_gone(entry[1], timeout=60)
    return entry[1]


def run_cycles(fleet: Fleet, plan: ChurnPlan) -> None:
    rng = random.Random(plan.seed)
    retired: list[tuple[int, str]] = []  # (cycle deleted in, name)
    for cycle in range(plan.cycles):
        reused = reusable_name(fleet, retired, cycle, rng) if rng.random() < 0.25 else None
        fleet.counts["names reused"] += reused is not None
        fleet.create(reused or f"n{cycle:03d}")
        for name in rng.sample(sorted(fleet.live), min(len(fleet.live), rng.randint(0, 2))):
            fleet.change(name, rng)
            time.sleep(rng.uniform(0, plan.pause))
        if len(fleet.live) > plan.pool:
            victim = rng.choice(sorted(fleet.live))
            fleet.delete(victim)
            retired.append((cycle, victim))
        time.sleep(rng.uniform(0, plan.pause))


def settled_as_asked(fleet: Fleet) -> Any:
    def check(body: dict[str, Any]) -> bool:
        wanted = "Suspended" if fleet.live[body["metadata"]["name"]]["suspended"] else "Running"
        return ready_now(body) and (body.get("status") or {}).get("phase") == wanted

    return check


@pytest.mark.parametrize("plan", variants(QUICK, FULL))
def test_churn_leaves_no_leak_and_no_duplicate(stage: Stage, figures: Figures, plan: ChurnPlan) -> None:
    births = ServerBirths.watch(stage.hetzner)
    stage.start_operator()
    fleet = Fleet(
        stage,
        {},
        {},
        {},
        dict.fromkeys(("creates", "deletes", "resizes", "suspends", "resumes", "names reused"), 0),
    )
    started = time.monotonic()
    run_cycles(fleet, plan)
    submitted = time.monotonic() - started
    deleted_names = {hostname.split(".")[0] for hostname in fleet.gone.values()} - set(fleet.live)
    converge(stage, fleet.live, deleted_names, timeout=plan.settle_seconds, check=settled_as_asked(fleet))

    expected = Expectation(
        live={fleet.uids[name]: f"{name}.example.com" for name in fleet.live}, gone=fleet.gone
    )
    books = audit(stage.hetzner, stage.cloudflare, expected, births)
    servers = {server_owner(s): s for s in stage.servers()}
    wrong_state = [
        name
        for name, spec in fleet.live.items()
        if servers[fleet.uids[name]]["server_type"]["name"] != spec["serverType"]
        or (servers[fleet.uids[name]]["status"] == "off") != spec["suspended"]
    ]
    figures.update(
        {
            "cycles": plan.cycles,
            **fleet.counts,
            "seconds submitting": submitted,
            "seconds to settle": time.monotonic() - started - submitted,
            "servers ever created": births.total,
            "servers in the wrong state": len(wrong_state),
            **books.figures,
        }
    )
    assert fleet.counts["creates"] == plan.cycles and fleet.counts["deletes"] == plan.cycles - plan.pool
    assert min(fleet.counts.values()) > 0, fleet.counts  # every kind of change happened
    assert wrong_state == []
    assert books.problems == {}, books.findings
    assert books.figures["servers"] == plan.pool
    stage.assert_no_secrets_leaked()

"""Crash consistency: SIGKILL the operator at seeded random points while instances are being provisioned
and deleted, restart it after every kill, and check the books at the providers afterwards.

Every round starts a fresh operator, submits a few creations and deletions (before or after the start),
waits until the operator talks to a provider, sleeps a seeded random delay and SIGKILLs it. Some rounds
instead run the operator through clawhost_sandbox.crashing_operator --after create_server, which dies at
the worst point there is: right after Hetzner created a server, before its id reaches status. A last
operator then runs to the end.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import pytest

from tests.operator.integration.harness import Stage
from tests.reliability.support.drive import (
    converge,
    listing,
    log_marks,
    ready_now,
    sigkill,
    wait_until_talking,
    writes_since,
)
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Expectation, ServerBirths, audit
from tests.reliability.support.variants import variants

pytestmark = pytest.mark.controlplane


@dataclass(frozen=True)
class CrashPlan:
    provisions: int
    deletions: int
    kills: int  # SIGKILLs at random points
    crashes_after_create: int  # extra rounds that die right after a server create (the test hook)
    seed: int
    settle_seconds: float


@dataclass(frozen=True)
class Round:
    creates: tuple[str, ...]
    deletes: tuple[str, ...]
    submit_before_start: bool  # the operator finds them on startup instead of through its watch
    crash_after_create: bool
    kill_after: float  # seconds after the operator's first provider request (or first write)
    after_first_write: bool  # kill while it is changing things, not while it may still be starting


QUICK = CrashPlan(provisions=8, deletions=4, kills=5, crashes_after_create=1, seed=8, settle_seconds=120)
FULL = CrashPlan(provisions=50, deletions=20, kills=20, crashes_after_create=4, seed=50, settle_seconds=400)


def schedule(plan: CrashPlan) -> list[Round]:
    """Every round creates at least one instance (so a kill always lands on work in flight). A deletion
    mostly comes in a later round than its victim's creation (its server exists by then), sometimes in
    the same round (deleted mid-provision)."""
    rng = random.Random(plan.seed)
    count = plan.kills + plan.crashes_after_create
    assert plan.provisions >= count, "each round needs a creation"
    names = [f"c{i:02d}" for i in range(plan.provisions)]
    extra = [rng.randrange(count) for _ in range(plan.provisions - count)]
    sizes = [1 + extra.count(index) for index in range(count)]
    created_in: dict[str, int] = {}
    creates: list[list[str]] = []
    for index, size in enumerate(sizes):
        batch, names = names[:size], names[size:]
        creates.append(batch)
        created_in.update(dict.fromkeys(batch, index))
    crash_rounds = set(rng.sample(range(count), plan.crashes_after_create))
    # A crash round must still have a server to create, so none of its creations is deleted in it.
    deletable = sorted(
        name for name, first in created_in.items() if first < count - 1 or first not in crash_rounds
    )
    deletes: list[list[str]] = [[] for _ in range(count)]
    for victim in rng.sample(deletable, plan.deletions):
        first = created_in[victim]
        later = first < count - 1 and (first in crash_rounds or rng.random() < 0.75)
        deletes[rng.randint(first + 1, count - 1) if later else first].append(victim)
    return [
        Round(
            tuple(creates[index]),
            tuple(deletes[index]),
            submit_before_start=rng.random() < 0.3,
            crash_after_create=index in crash_rounds,
            kill_after=rng.uniform(0.05, 1.5),
            # Only a round with a creation that survives it surely writes something.
            after_first_write=bool(set(creates[index]) - set(deletes[index])) and rng.random() < 0.5,
        )
        for index in range(count)
    ]


def submit(stage: Stage, round_: Round, uids: dict[str, str]) -> None:
    for name in round_.creates:
        uids[name] = stage.create_instance(name)["metadata"]["uid"]
    for name in round_.deletes:
        stage.delete(name)


def work_outstanding(stage: Stage, deleted: set[str]) -> int:
    """Instances not Ready for their generation, plus deletions not finished."""
    items = listing(stage)
    return sum(1 for name, body in items.items() if name in deleted or not ready_now(body))


@pytest.mark.parametrize("plan", variants(QUICK, FULL))
def test_sigkill_at_random_points_leaves_one_server_per_instance_and_nothing_else(
    stage: Stage, figures: Figures, plan: CrashPlan
) -> None:
    births = ServerBirths.watch(stage.hetzner)
    uids: dict[str, str] = {}
    deleted: set[str] = set()
    kills = crashes = kills_on_work = writes_by_killed = kills_while_writing = 0
    for round_ in schedule(plan):
        if round_.submit_before_start:
            submit(stage, round_, uids)
        marks = log_marks(stage)
        born = births.total
        process = stage.start_operator(crash_after="create_server" if round_.crash_after_create else None)
        if not round_.submit_before_start:
            submit(stage, round_, uids)
        deleted.update(round_.deletes)
        if round_.crash_after_create:
            assert process.proc.wait(timeout=60) == 137, process.logs()[-4000:]
            assert births.total > born, "the crash must follow a server create that Hetzner answered"
            stage.operators.remove(process)
            crashes += 1
            continue
        wait_until_talking(stage, process, marks, writing=round_.after_first_write)
        time.sleep(round_.kill_after)
        assert sigkill(stage, process) == -9
        kills += 1
        kills_on_work += work_outstanding(stage, deleted) > 0
        writes_by_killed += writes_since(stage, marks)
        kills_while_writing += round_.after_first_write

    stage.start_operator()
    live = sorted(set(uids) - deleted)
    converge(stage, live, deleted, timeout=plan.settle_seconds)
    books = audit(
        stage.hetzner,
        stage.cloudflare,
        Expectation(
            live={uids[name]: f"{name}.example.com" for name in live},
            gone={uids[name]: f"{name}.example.com" for name in deleted},
        ),
        births,
    )
    figures.update(
        {
            "provisions": len(uids),
            "deletions": len(deleted),
            "kills survived": kills,
            "crashes right after a server create": crashes,
            "kills with work outstanding": kills_on_work,
            "kills after the operator began writing": kills_while_writing,
            "provider writes by killed operators": writes_by_killed,
            "servers ever created": births.total,
            **books.figures,
        }
    )
    assert kills == plan.kills and crashes == plan.crashes_after_create
    assert kills_on_work == kills, "a kill landed when nothing was in flight: it tested nothing"
    assert kills_while_writing > 0 and writes_by_killed >= kills_while_writing
    assert books.problems == {}, books.findings
    assert books.figures["servers"] == len(live)
    stage.assert_no_secrets_leaked()

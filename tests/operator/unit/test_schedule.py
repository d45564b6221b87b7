"""PassSchedule: when an instance's next pass is due, and waiting for it without polling."""

from __future__ import annotations

import asyncio

import pytest

from openclaw_operator.schedule import PassSchedule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_pass_sets_the_next_one_to_its_requeue_or_an_interval() -> None:
    clock = Clock()
    schedule = PassSchedule(300.0, clock)
    schedule.after_pass("a", started=clock.now, requeue=2.0)
    schedule.after_pass("b", started=clock.now, requeue=None)
    assert schedule.due_in("a") == 2.0
    assert schedule.due_in("b") == 300.0
    assert schedule.due_in("never-seen") == 300.0


def test_a_wake_makes_the_pass_due_at_once_and_cuts_a_backoff_short() -> None:
    clock = Clock()
    schedule = PassSchedule(300.0, clock)
    schedule.after_pass("a", started=clock.now, requeue=120.0)  # backing off
    clock.now += 1
    schedule.wake("a")  # the observer saw its server deleted
    assert schedule.due_in("a") == 0.0


def test_a_wake_during_a_pass_is_not_lost() -> None:
    clock = Clock()
    schedule = PassSchedule(300.0, clock)
    started = clock.now
    clock.now += 0.5
    schedule.wake("a")  # the listing finished while the pass was running on older data
    clock.now += 0.5
    schedule.after_pass("a", started=started, requeue=None)
    assert schedule.due_in("a") == 0.0
    later = clock.now
    clock.now += 0.1
    schedule.after_pass("a", started=later, requeue=None)  # that wake is now consumed
    assert schedule.due_in("a") == pytest.approx(300.0)


def never() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


async def test_wait_returns_when_due_woken_or_stopped() -> None:
    schedule = PassSchedule(300.0)
    schedule.after_pass("a", started=0.0, requeue=0.05)
    assert await asyncio.wait_for(schedule.wait("a", never()), 2) is True

    schedule.after_pass("b", started=0.0, requeue=None)  # an interval away
    waiting = asyncio.ensure_future(schedule.wait("b", never()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    schedule.wake("b")
    assert await asyncio.wait_for(waiting, 2) is True

    schedule.after_pass("c", started=0.0, requeue=None)
    stop = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(schedule.wait("c", stop))
    await asyncio.sleep(0.05)
    stop.set_result(None)
    assert await asyncio.wait_for(waiting, 2) is False


async def test_a_requeue_set_while_waiting_brings_the_wait_forward() -> None:
    schedule = PassSchedule(300.0)
    waiting = asyncio.ensure_future(schedule.wait("a", never()))
    await asyncio.sleep(0.05)
    schedule.after_pass("a", started=0.0, requeue=0.05)  # e.g. the change handler's pass asked for it
    assert await asyncio.wait_for(waiting, 2) is True


async def test_thousands_of_waiting_instances_cost_no_wakeups() -> None:
    """Idle timers sleep on their deadline: nothing runs while 5,000 wait their interval."""
    reads = 0

    def counting_clock() -> float:
        nonlocal reads
        reads += 1
        return asyncio.get_running_loop().time()

    schedule = PassSchedule(300.0, counting_clock)
    waiters = [asyncio.ensure_future(schedule.wait(f"u{i}", never())) for i in range(5000)]
    await asyncio.sleep(0.05)  # all parked now
    parked = reads
    await asyncio.sleep(1.2)  # longer than any polling period a loop like this would use
    assert reads == parked  # no waiter looked at the clock again: nobody polls
    assert not any(waiter.done() for waiter in waiters)
    for waiter in waiters:
        waiter.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)


async def test_a_waiting_instance_holds_no_task_of_its_own_and_nothing_after_its_wait() -> None:
    """Each parked instance costs its one timer task (here: the wait itself) and a bare future; at 5,000
    instances a task per wait was a measurable part of the footprint (docs/benchmarks.md, "Memory")."""
    schedule = PassSchedule(300.0)
    before = len(asyncio.all_tasks())
    waiters = [asyncio.ensure_future(schedule.wait(f"u{i}", never())) for i in range(200)]
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) - before == 200
    assert schedule.waiting() == 200
    for i in range(200):
        schedule.wake(f"u{i}")
    assert all(await asyncio.wait_for(asyncio.gather(*waiters), 2))
    assert schedule.waiting() == 0

"""The test fault that kills the operator right after a provider write: clawhost_sandbox.crashing_operator."""

from __future__ import annotations

import argparse
import asyncio

import pytest
from clawhost_sandbox.crashing_operator import EXIT_CODE, crash_after, crash_point

from openclaw_operator.providers.hetzner import HetznerProvider


class Exited(Exception):
    pass


def test_the_process_exits_only_after_the_nth_write_has_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[str] = []

    async def create_server(self: object, *, name: str) -> str:
        writes.append(name)
        return name

    def exit_(code: int) -> None:
        raise Exited(code, list(writes))

    monkeypatch.setattr(HetznerProvider, "create_server", create_server)  # restored after the test
    crash_after("create_server", 2, exit=exit_)
    provider = object.__new__(HetznerProvider)
    assert asyncio.run(provider.create_server(name="a")) == "a"  # type: ignore[call-arg]
    with pytest.raises(Exited) as exited:
        asyncio.run(provider.create_server(name="b"))  # type: ignore[call-arg]
    assert exited.value.args == (EXIT_CODE, ["a", "b"])  # the second write happened, then the exit


@pytest.mark.parametrize(
    ("value", "point"),
    [("create_server", ("create_server", 1)), ("delete_record:3", ("delete_record", 3))],
)
def test_crash_points(value: str, point: tuple[str, int]) -> None:
    assert crash_point(value) == point


@pytest.mark.parametrize("value", ["get_server", "create_server:0", "create_server:x"])
def test_a_bad_crash_point_is_named(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as error:
        crash_point(value)
    assert value.split(":")[0] in str(error.value) or value in str(error.value)

"""OpenClaw updates through the channel, between two real releases (2026.9.5 and 2026.9.6): OpenClaw's own
verified backup first, one gateway at a time, and a failed update rolled back to the old version with the
state from that backup. The forced failure is the one real life offers: 2026.9.5 refuses the state 2026.9.6
wrote ("database schema newer than this build", exit 78), so a downgrade cannot come up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_operator.providers.errors import Failure, FailureKind
from tests.channel.conftest import OLD_TOKEN, Operator, start_server
from tests.channel.server import ChannelServer

OLDER, NEWER = "2026.9.5", "2026.9.6"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, realapp: Path, operator_key_file: Path
) -> Iterator[ChannelServer]:
    running = start_server(tmp_path_factory.mktemp("update"), realapp, operator_key_file, OLDER)
    try:
        yield running
    finally:
        running.stop()


def test_an_update_backs_up_then_runs_the_new_release(server: ChannelServer, operator: Operator) -> None:
    assert operator.call({"op": "state"}).answer["openclawVersion"] == OLDER
    seen: list[int] = []
    with server.watch_gateways(seen):
        answered = operator.apply(version=NEWER, desired_hash="h-newer")
    assert answered.answer["updated"] is True
    assert operator.call({"op": "state"}).answer["openclawVersion"] == NEWER
    assert server.http("GET", "/readyz")[0] == 200
    assert server.token_accepted(OLD_TOKEN)
    assert list(
        server.path("/var/backups/openclaw").glob("*-openclaw-backup.tar.gz")
    )  # OpenClaw's own archive
    assert max(seen) == 1, f"gateways running at once: {seen}"


def test_a_failed_update_rolls_back_to_the_old_release_and_its_state(
    server: ChannelServer, operator: Operator
) -> None:
    seen: list[int] = []
    with server.watch_gateways(seen), pytest.raises(Failure) as refused:
        operator.apply(version=OLDER, desired_hash="h-older")
    failure = refused.value
    assert (failure.kind, failure.reason, failure.frozen) == (FailureKind.STALLED, "UpdateFailed", True)
    assert f"update to {OLDER} failed" in failure.message and f"rolled back to {NEWER}" in failure.message
    assert "newer" in failure.message.lower()  # the app's own reason, from its log
    assert operator.call({"op": "state"}).answer == {
        "ok": True,
        "appliedHash": "h-newer",
        "openclawVersion": NEWER,
    }
    assert server.http("GET", "/readyz")[0] == 200
    assert server.token_accepted(OLD_TOKEN)
    assert max(seen) == 1, f"gateways running at once: {seen}"

"""Stop, restart and the operator's AppReady probe, against the real gateway run from the rendered unit."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clawhost_sandbox import realapp

from openclaw_operator.config import Config
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.reconcile.model import ServerObservation
from tests.realapp.conftest import HOSTNAME, rendered_files
from tests.support.instances import instance_with_infrastructure_ready

# The process title the gateway gives itself (comm keeps 15 characters).
GATEWAY_TITLE = "openclaw-gatewa"


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


async def app_ready(server: realapp.RealServer) -> tuple[bool, str]:
    """One AppReady check as the operator makes it: its default URL template, through Caddy."""
    template = Config.model_fields["app_health_url"].default
    health = AppHealth(template, 300.0, 2.0, connector=server.connector)
    try:
        seen = await health.observe(
            instance_with_infrastructure_ready("alice", "u-alice", HOSTNAME),
            ServerObservation(1, "alice", "running", "cx23", ipv4="203.0.113.7"),
        )
    finally:
        await health.close()
    assert seen is not None
    return seen.healthy, seen.message


def shutdown_budget(server: realapp.RealServer) -> dict[str, int]:
    """The gateway's own stop budget as it logs it at startup (milliseconds)."""
    (line,) = [
        entry["message"]
        for entry in server.startup_log
        if entry["message"].startswith("shutdown budget at startup")
    ]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)ms", line)}


async def test_the_operators_app_probe_sees_the_real_gateway_through_caddy(
    server: realapp.RealServer,
) -> None:
    healthy, message = await app_ready(server)
    assert healthy, message
    assert message == f"the gateway answers at https://{HOSTNAME}/readyz"


def test_the_unit_runs_the_gateway_as_its_main_process(server: realapp.RealServer) -> None:
    # With NODE_COMPILE_CACHE in the unit, openclaw.mjs re-spawns the gateway as a child, and that
    # launcher SIGKILLs it about 2 s after systemd's SIGTERM instead of letting it drain.
    assert comm(server.gateway_pid) == GATEWAY_TITLE
    others = [pid for pid in server.gateway_processes() if pid != server.gateway_pid]
    assert [pid for pid in others if comm(pid) == GATEWAY_TITLE] == []


def test_the_units_stop_timeout_covers_the_gateways_drain(server: realapp.RealServer) -> None:
    budget = shutdown_budget(server)
    assert server.files.kill_mode == "mixed"  # SIGTERM to the gateway alone; its helpers are its to stop
    assert budget["drain"] < budget["shutdown"] <= server.files.stop_timeout * 1000


async def test_stop_is_clean_and_the_probe_notices_it(server: realapp.RealServer) -> None:
    stopped = server.stop()
    assert stopped.result == "success", stopped
    assert stopped.returncode == 0  # the gateway exited by itself, not by a signal
    assert not stopped.killed_after_timeout
    assert stopped.leftover_pids == ()  # it stopped its own helpers
    assert stopped.seconds < server.files.stop_timeout
    assert "[shutdown] completed cleanly" in server.gateway_log()
    healthy, message = await app_ready(server)
    assert not healthy
    assert message == f"the gateway health check at https://{HOSTNAME}/readyz answered HTTP 502"


async def test_restart_is_clean_and_the_gateway_answers_again(server: realapp.RealServer) -> None:
    if not server.gateway_processes():  # after the stop above
        server.start()
    restarted = server.restart()
    assert restarted.result == "success", restarted
    assert restarted.returncode == 0
    assert comm(server.gateway_pid) == GATEWAY_TITLE
    healthy, message = await app_ready(server)
    assert healthy, message
    print(f"restart: stop {restarted.seconds:.1f} s, start {server.started_seconds:.1f} s")


# --- the stop semantics themselves, on small processes ---------------------------------------------------
@pytest.fixture
def unit() -> Iterator[realapp.ControlGroup]:
    try:
        group = realapp.ControlGroup.create(f"clawhost-realapp-test-{time.monotonic_ns()}")
    except realapp.RealAppUnavailable as exc:
        pytest.skip(str(exc))
    yield group
    group.remove()


def unit_files(kill_mode: str, stop_seconds: int) -> realapp.ServerFiles:
    files = rendered_files()
    service = tuple(
        (key, {"KillMode": kill_mode, "TimeoutStopSec": str(stop_seconds)}.get(key, value))
        for key, value in files.unit["Service"]
    )
    return dataclasses.replace(files, unit={**files.unit, "Service": service})


def spawn(unit: realapp.ControlGroup, program: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(program)], start_new_session=True,
        preexec_fn=unit.join_and_die_with_parent, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    return process


# A main process that starts a helper in a session of its own (as OpenClaw's spawn broker is).
WITH_HELPER = """
    import signal, subprocess, sys, time
    helper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit({exit}))
    print("ready", flush=True)
    time.sleep(60)
"""


IGNORES_SIGTERM = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(60)
"""


def test_mixed_sends_sigterm_to_the_main_process_only_and_kills_what_it_leaves(
    unit: realapp.ControlGroup,
) -> None:
    main = spawn(unit, WITH_HELPER.format(exit=0))
    (helper,) = [pid for pid in unit.pids() if pid != main.pid]
    stopped = realapp.stop_unit(main, unit, unit_files("mixed", 10))
    assert (stopped.result, stopped.returncode, stopped.leftover_pids) == ("success", 0, (helper,))
    assert unit.pids() == []  # the final SIGKILL found the helper, although it left the session


def test_a_main_process_that_outlives_timeout_stop_sec_is_killed(unit: realapp.ControlGroup) -> None:
    main = spawn(unit, IGNORES_SIGTERM)
    stopped = realapp.stop_unit(main, unit, unit_files("mixed", 1))
    assert (stopped.result, stopped.returncode, stopped.killed_after_timeout) == ("timeout", -9, True)
    assert 1 <= stopped.seconds < 5


def test_an_unclean_exit_is_not_success(unit: realapp.ControlGroup) -> None:
    main = spawn(unit, WITH_HELPER.format(exit=1))
    assert realapp.stop_unit(main, unit, unit_files("control-group", 10)).result == "exit-code"


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("SOAK"),
    reason="a gateway start only to show the main-process test catches the launcher: SOAK=1 runs it",
)
def test_with_a_compile_cache_in_the_unit_the_main_process_is_a_launcher(
    installation: realapp.Installation,
) -> None:
    """The finding the main-process test above pins, brought back: that test would fail."""
    files = rendered_files()
    service = (*files.unit["Service"], ("Environment", "NODE_COMPILE_CACHE=/tmp/compile-cache"))
    with_cache = dataclasses.replace(files, unit={**files.unit, "Service": service})
    with realapp.RealServer(installation, with_cache) as server:
        assert comm(server.gateway_pid) != GATEWAY_TITLE
        assert GATEWAY_TITLE in [comm(pid) for pid in server.gateway_processes()]

"""The fleet rollout of OpenClaw versions through the whole operator (docs/channel.md, "Fleet rollout"):
the `openclaw-operator run` subprocess, the real kube-apiserver, both simulators, and a real sshd on
every simulated server's loopback address whose forced command is a stand-in agent (fleet_agents.py says
why a stand-in). What the policy did is judged from the agents' own log of the updates they ran, never
from the operator's counters.

1. A new default version (the operator restarted with it) reaches every instance with at most
   CLAWHOST_UPDATE_MAX_PARALLEL updates running at once, the canary wave first; an operator SIGKILLed
   while two updates run counts them from status before its first pass: nothing starts beside them,
   even while their own instances' passes are held back.
2. A default whose updates fail: once the budget is spent the rollout pauses (RolloutPaused, an Event,
   no further update asked of any agent); pinning the failed ones back fixes them and it resumes.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.channel.fleet_agents import FleetAgents, most_at_once
from tests.channel.server import NSS_WRAPPER
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import OperatorProcess, Stage, condition, free_port

__all__ = ["stage"]
pytestmark = pytest.mark.controlplane

OLD, NEW, BAD = "2026.9.5", "2026.9.6", "2026.10.1"
FLEET = [f"fleet-{index}" for index in range(8)]
MAX_PARALLEL = 2
UPDATE_SECONDS = 1.5
RETIRED: list[OperatorProcess] = []  # the operators restarted away, their logs still scanned for secrets
POLICY = {
    "CLAWHOST_UPDATE_MAX_PARALLEL": str(MAX_PARALLEL),
    "CLAWHOST_UPDATE_FAILURE_BUDGET": "1",
    "CLAWHOST_UPDATE_CANARY_PERCENT": "25",  # 2 of the 8
}


def test_a_new_default_rolls_out_in_waves_under_the_cap_and_a_failure_budget_pauses_it(
    stage: Stage, operator_key_file: Path, tmp_path: Path
) -> None:
    for needed in ("/usr/sbin/sshd", NSS_WRAPPER):
        if not Path(needed).exists():
            pytest.skip(f"{needed} is missing (scripts/install-system-deps.sh installs it)")
    stage.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")  # before any server exists
    agents = FleetAgents(tmp_path / "agents", operator_key_file, free_port(), UPDATE_SECONDS)
    health = HealthEndpoint()
    channel = {
        "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(operator_key_file),
        "CLAWHOST_CHANNEL_PORT": str(agents.port),
        "CLAWHOST_CHANNEL_SOURCE_RANGES": "127.0.0.0/8",
        **POLICY,
    }
    operator = stage.start_operator(CLAWHOST_DEFAULT_OPENCLAW_VERSION=OLD, **channel)
    try:
        for name in FLEET:
            stage.create_instance(name)
        agents.start(wait_for_addresses(stage))
        wait_all(stage, lambda body: running(body) == OLD, "first contact")
        assert agents.updates() == []  # a first contact installs nothing

        operator = restart(stage, operator, CLAWHOST_DEFAULT_OPENCLAW_VERSION=NEW, **channel)
        # The canaries done, the next two updates are held: the operator is SIGKILLed while they run.
        # The new one must count them from status before any pass: their own passes are held back (their
        # health checks hang) so that the waiting instances decide first, and nothing may start.
        wait_until(lambda: sum(u.end is not None for u in agents.updates()) >= 2, "the canaries")
        agents.hold(True)
        wait_until(lambda: len(agents.updates()) >= 4, "two updates after the canaries")
        in_flight = {u.address for u in agents.updates() if u.end is None}
        health.hang = {s["id"] for s in stage.servers() if s["public_net"]["ipv4"]["ip"] in in_flight}
        operator = restart(
            stage, operator, kill=True, CLAWHOST_DEFAULT_OPENCLAW_VERSION=NEW, **channel, **health.env()
        )
        wait_until(lambda: health.asked >= {s["id"] for s in stage.servers()}, "every instance's first pass")
        time.sleep(8)  # an update admitted by mistake would be pushed by now
        assert len(agents.updates()) == 4, "an update started beside the two the killed operator left"
        health.hang = set()
        agents.hold(False)
        wait_all(stage, lambda body: update_state(body) == ("Updated", NEW), "all on the new default")
        a_new_default_went_out_in_waves_under_the_cap(agents)

        agents.fail({BAD})
        operator = restart(stage, operator, CLAWHOST_DEFAULT_OPENCLAW_VERSION=BAD, **channel)
        failed = a_spent_budget_pauses_the_rollout(stage, agents)
        pinning_the_failed_ones_back_resumes_it(stage, agents, failed)
        stage.assert_no_secrets_leaked()
        for retired in RETIRED:
            assert not any(secret in retired.logs() for secret in stage.secrets_in_play())
    finally:
        stage.stop_operators()
        agents.stop()
        health.stop()


def a_new_default_went_out_in_waves_under_the_cap(agents: FleetAgents) -> None:
    updates = agents.updates()
    addresses = [u.address for u in updates]
    assert len(addresses) == len(set(addresses)), "a server was updated twice"
    assert len(updates) == len(FLEET)
    assert all((u.source, u.target, u.ok) == (OLD, NEW, True) for u in updates)
    # Never more than the cap at once, across the SIGKILL too (the restarted operator counted the
    # updates in flight from status); and the cap was used, or this would prove nothing.
    assert most_at_once(updates, time.time()) == MAX_PARALLEL
    canaries, rest = updates[:2], updates[2:]
    canaries_done = max(u.end or 0.0 for u in canaries)
    assert all(u.start >= canaries_done for u in rest), "an update started before the canary wave was done"


def a_spent_budget_pauses_the_rollout(stage: Stage, agents: FleetAgents) -> list[str]:
    wait_until(lambda: len(bad_updates(agents)) >= 1 and all(u.end for u in bad_updates(agents)), "a failure")

    def paused_or_failed(body: dict[str, Any]) -> bool:
        if update_state(body) == ("Failed", BAD):
            return condition(body, "Stalled", "reason") == "UpdateFailed"
        return condition(body, "ConfigApplied", "reason") == "RolloutPaused"

    wait_all(stage, paused_or_failed, "the rollout paused")
    time.sleep(6)  # three resync intervals: nothing more may be asked of any agent
    tried = bad_updates(agents)
    assert 1 <= len(tried) <= MAX_PARALLEL  # the canaries in flight when the first failed, no more
    failed = [name for name in FLEET if update_state(stage.get(name)) == ("Failed", BAD)]
    assert len(failed) == len(tried)
    for name in FLEET:
        body = stage.get(name)
        assert running(body) == NEW  # rolled back, or never touched
        if name in failed:
            assert "did not become ready" in (condition(body, "Stalled", "message") or "")
    paused = [e for e in stage.events() if e.get("reason") == "RolloutPaused"]
    # One Event per paused instance, however many passes it waited through.
    assert sorted(e["involvedObject"]["name"] for e in paused) == sorted(set(FLEET) - set(failed))
    assert all(e.get("count", 1) == 1 for e in paused), "a waiting instance posted its Event more than once"
    return failed


def pinning_the_failed_ones_back_resumes_it(stage: Stage, agents: FleetAgents, failed: list[str]) -> None:
    before = len(bad_updates(agents))
    for name in failed:
        stage.patch_spec(name, openclawVersion=NEW)
    wait_until(lambda: len(bad_updates(agents)) > before, "the rollout resumed", timeout=60)
    resumed = {u.address for u in bad_updates(agents)[before:]}
    failed_addresses = {stage.get(name)["status"]["ipv4"] for name in failed}
    assert not resumed & failed_addresses  # the pinned ones stay where they were put
    for name in failed:
        stage.wait_for(name, lambda body: update_state(body) is None, what=f"{name}'s failed record gone")


# --- helpers -------------------------------------------------------------------------------------
class HealthEndpoint:
    """The app health URL of a restarted operator: healthy at once, except for the servers in `hang`,
    whose checks get no answer (the probe gives up after its timeout): their instances' passes start late."""

    def __init__(self) -> None:
        self.hang: set[int] = set()
        self.asked: set[int] = set()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server_id = int(self.path.strip("/").split("/")[0])
                endpoint.asked.add(server_id)
                while server_id in endpoint.hang:
                    time.sleep(0.1)
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self) -> dict[str, str]:
        return {"CLAWHOST_APP_HEALTH_URL": f"http://127.0.0.1:{self.server.server_address[1]}/{{server_id}}"}

    def stop(self) -> None:
        self.hang = set()
        self.server.shutdown()


def bad_updates(agents: FleetAgents) -> list[Any]:
    return [u for u in agents.updates() if u.target == BAD]


def running(body: dict[str, Any]) -> str | None:
    version: str | None = (body.get("status") or {}).get("openclawVersion")
    return version


def update_state(body: dict[str, Any]) -> tuple[str, str] | None:
    record = (body.get("status") or {}).get("versionUpdate")
    return None if record is None else (record["state"], record["toVersion"])


def restart(stage: Stage, operator: OperatorProcess, kill: bool = False, **env: str) -> OperatorProcess:
    """Another operator process with `env` (a setting changed); `kill`: SIGKILL, no shutdown at all."""
    if kill:
        operator.proc.kill()
        operator.proc.wait(10)
    else:
        operator.stop()
    stage.operators.remove(operator)  # its exit is the test's doing (wait_for checks the live ones)
    RETIRED.append(operator)
    return stage.start_operator(**env)


def wait_for_addresses(stage: Stage, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        addresses = [s["public_net"]["ipv4"]["ip"] for s in stage.servers() if s["public_net"]["ipv4"]]
        if len(addresses) == len(FLEET):
            return addresses
        time.sleep(0.2)
    raise AssertionError(f"not every instance got a server; logs:\n{stage.all_logs()[-4000:]}")


def wait_all(stage: Stage, check: Any, what: str, timeout: float = 120) -> None:
    for name in FLEET:
        stage.wait_for(name, check, timeout=timeout, what=f"{name}: {what}")


def wait_until(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")

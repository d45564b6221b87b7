"""Many simulated servers' channel ends at once: real OpenSSH sshds (one per 16 addresses) listening on
every simulated server's loopback address, logging the operator in as the production clawhost-agent
account (a uid-0 entry of a passwd file only these sshds see, nss_wrapper), whose forced command is a
stand-in agent that records each version update it is asked for (address, from, to, start and end time)
in a JSON-lines log.

A stand-in, not bootstrap/server_agent.py, because what the fleet tests judge is the operator's
schedule across many servers, which only the agents' own log can show; a real update per server (a real
gateway, npm, a backup) is proven once in test_channel_update.py and would make a fleet of them take an
hour on this machine. The stand-in keeps what the schedule depends on: one request at a time per
server (the real agent's lock), an update that takes a while (`take`, `hold`), and `UpdateFailed`
(rolled back) for the versions listed in `failing`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openclaw_operator.bootstrap.app_files import AGENT_USER, agent_authorized_key, agent_sshd_block
from tests.channel.echo_sshd import keygen
from tests.channel.server import NSS_WRAPPER

STAND_IN_AGENT = r"""import fcntl, json, os, signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_IGN)  # an operator killed mid-update: the update still ends
root = sys.argv[1]
address = os.environ["SSH_CONNECTION"].split()[2]
request = json.loads(sys.stdin.read())

def log(**entry):
    with open(os.path.join(root, "updates.jsonl"), "a") as out:
        fcntl.flock(out, fcntl.LOCK_EX)
        out.write(json.dumps({"address": address, "t": time.time(), **entry}) + "\n")

with open(os.path.join(root, address + ".lock"), "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    path = os.path.join(root, address + ".json")
    state = json.load(open(path)) if os.path.exists(path) else {}
    answer = {"ok": True}
    if request.get("op") == "apply":
        wanted, installed = request["openclawVersion"], state.get("version")
        if installed not in (None, wanted):
            log(event="start", source=installed, target=wanted)
            time.sleep(float(open(os.path.join(root, "seconds")).read()))
            while os.path.exists(os.path.join(root, "hold")):  # until the test lets it finish
                time.sleep(0.2)
            failing = open(os.path.join(root, "failing")).read().split()
            log(event="end", source=installed, target=wanted, ok=wanted not in failing)
            if wanted in failing:
                answer = {"ok": False, "reason": "UpdateFailed",
                          "message": f"openclaw {wanted} did not become ready; {installed} restored"}
                wanted = installed
        state.update(version=wanted, hash=request.get("hash"))
        json.dump(state, open(path, "w"))
        answer.setdefault("openclawVersion", wanted)
    try:
        print(json.dumps(answer), flush=True)
    except BrokenPipeError:
        pass
"""


@dataclass(frozen=True)
class Update:
    address: str
    source: str
    target: str
    start: float
    end: float | None
    ok: bool | None


# OpenSSH's MAX_LISTEN_SOCKS: one sshd listens on at most 16 addresses, so more servers take more sshds.
ADDRESSES_PER_SSHD = 16


class FleetAgents:
    """`agent`: the forced command's Python source (argv[1] is `root`); the update stand-in by default."""

    def __init__(
        self, root: Path, operator_key: Path, port: int, update_seconds: float, agent: str = STAND_IN_AGENT
    ) -> None:
        self.root = root
        self.port = port
        self.operator_key = operator_key
        self.agent_source = agent
        self.sshds: list[subprocess.Popen[bytes]] = []
        root.mkdir(parents=True, exist_ok=True)
        self.fail(set())
        self.take(update_seconds)

    def take(self, seconds: float) -> None:
        """Updates that start from now on take this long."""
        (self.root / "seconds").write_text(str(seconds))

    def hold(self, held: bool) -> None:
        """While held, no update finishes."""
        if held:
            (self.root / "hold").touch()
        else:
            (self.root / "hold").unlink(missing_ok=True)

    def fail(self, versions: set[str]) -> None:
        """Updates to these versions answer UpdateFailed from now on."""
        (self.root / "failing").write_text("\n".join(sorted(versions)) + "\n")

    def start(self, addresses: list[str]) -> None:
        """One sshd per 16 of `addresses`, all on `port`, each logging the operator in to the agent."""
        host_key = keygen(self.root / "host_ed25519", "host")
        agent = self.root / "agent.py"
        agent.write_text(self.agent_source)
        keys = self.root / "authorized_keys"
        public_key = self.operator_key.with_suffix(".pub").read_text()
        keys.write_text(agent_authorized_key(public_key, ["127.0.0.0/8"]))
        passwd = self.root / "passwd"
        entry = f"{AGENT_USER}:x:0:0:the agent's login, uid 0 for the test:/root:/bin/sh\n"
        passwd.write_text(Path("/etc/passwd").read_text() + entry)
        command = f"{sys.executable} {agent} {self.root}"
        Path("/run/sshd").mkdir(exist_ok=True)
        environment = {
            **os.environ,
            "LD_PRELOAD": NSS_WRAPPER,
            "NSS_WRAPPER_PASSWD": str(passwd),
            "NSS_WRAPPER_GROUP": "/etc/group",
        }
        for first in range(0, len(addresses), ADDRESSES_PER_SSHD):
            chunk = addresses[first : first + ADDRESSES_PER_SSHD]
            index = first // ADDRESSES_PER_SSHD
            listen = "".join(f"ListenAddress {address}\n" for address in chunk)
            config = self.root / f"sshd_config.{index}"
            config.write_text(
                f"Port {self.port}\n{listen}HostKey {host_key}\nPidFile {self.root / f'sshd.{index}.pid'}\n"
                "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                f"PermitRootLogin prohibit-password\nAllowUsers {AGENT_USER}\nAuthorizedKeysFile none\n"
                "MaxStartups 100\n"
                + agent_sshd_block(agent_user=AGENT_USER, command=command, keys_file=str(keys))
            )
            self.sshds.append(
                subprocess.Popen(
                    ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                    stderr=(self.root / f"sshd.{index}.log").open("wb"),
                    env=environment,
                )
            )
            _wait_for_port(self.port, chunk[0])

    def stop(self) -> None:
        for sshd in self.sshds:
            if sshd.poll() is None:
                sshd.send_signal(signal.SIGTERM)
                sshd.wait(10)

    def updates(self) -> list[Update]:
        """Every update the agents were asked for, in the order they started (an unfinished one: end None)."""
        log = self.root / "updates.jsonl"
        entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        started: dict[str, dict[str, Any]] = {}
        done: list[Update] = []
        for entry in entries:
            if entry["event"] == "start":
                started[entry["address"]] = entry
                continue
            begun = started.pop(entry["address"])
            source, target = begun["source"], begun["target"]
            done.append(Update(entry["address"], source, target, begun["t"], entry["t"], entry["ok"]))
        done += [Update(e["address"], e["source"], e["target"], e["t"], None, None) for e in started.values()]
        return sorted(done, key=lambda update: update.start)


def _wait_for_port(port: int, address: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((address, port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {address}:{port}")


def most_at_once(updates: list[Update], now: float) -> int:
    """The largest number of updates running at the same moment, from the agents' own log."""
    edges = sorted(
        [(u.start, 1) for u in updates] + [(u.end if u.end is not None else now, -1) for u in updates],
        key=lambda edge: (edge[0], edge[1]),  # an end before a start at the same instant
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak

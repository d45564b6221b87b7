"""A real OpenSSH sshd on loopback whose forced command answers the request it was sent as the agent's
one JSON line: the channel's transport alone, without a gateway behind it (the image test, the channel
bench). The account and forced command are set up by the production `agent_sshd_block` and
`agent_authorized_key`."""

from __future__ import annotations

import getpass
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openclaw_operator.bootstrap.app_files import agent_authorized_key, agent_sshd_block

ECHO_AGENT = """import json, sys
request = json.loads(sys.stdin.read())
print(json.dumps({"ok": True, "echo": request}))
"""


@dataclass(frozen=True)
class EchoSshd:
    port: int
    user: str
    host_key: str  # "<type> <base64>"
    log: Path


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )
    return path


@contextmanager
def echo_sshd(directory: Path, public_key: str) -> Iterator[EchoSshd]:
    host_key = keygen(directory / "host_ed25519", "host")
    agent = directory / "agent.py"
    agent.write_text(ECHO_AGENT)
    keys = directory / "authorized_keys"
    keys.write_text(agent_authorized_key(public_key, ["127.0.0.1/32"]))
    user, port = getpass.getuser(), _free_port()
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {directory / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        f"PermitRootLogin prohibit-password\nAllowUsers {user}\nAuthorizedKeysFile none\nMaxStartups 64\n"
        + agent_sshd_block(agent_user=user, command=f"{sys.executable} {agent}", keys_file=str(keys))
    )
    log = directory / "sshd.log"
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=log.open("wb"))
    try:
        _wait_for_port(port)
        yield EchoSshd(port, user, " ".join(host_key.with_suffix(".pub").read_text().split()[:2]), log)
    finally:
        sshd.terminate()
        sshd.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")

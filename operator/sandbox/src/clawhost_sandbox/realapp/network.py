"""A server's network: a namespace linked to this host by a veth pair."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from clawhost_sandbox.controlplane import die_with_parent
from clawhost_sandbox.realapp.errors import RealAppUnavailable
from clawhost_sandbox.realapp.unit import stop_process

# Servers' links to this host: /30 blocks of the benchmarking range (RFC 2544), never routed anywhere.
LINK_NETWORK = ipaddress.ip_network("198.18.0.0/15")


@dataclass
class Network:
    """A network namespace (held by a sleeping process) linked to this host by a veth pair."""

    holder: subprocess.Popen[bytes]
    host_address: str
    server_address: str

    @property
    def namespace(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    @classmethod
    def create(cls, lock_file: Path) -> Network:
        for tool in ("ip", "nsenter", "unshare", "setpriv", "curl"):
            if shutil.which(tool) is None:
                raise RealAppUnavailable(f"{tool} is not installed")
        holder = subprocess.Popen(
            ["unshare", "--net", "--", "sleep", "infinity"],
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            own = os.readlink("/proc/self/ns/net")
            while os.readlink(f"/proc/{holder.pid}/ns/net") == own:
                if holder.poll() is not None:
                    raise RealAppUnavailable("cannot create a network namespace (unshare --net failed)")
                time.sleep(0.01)
            # Parallel sessions on this machine pick their links under one lock.
            with open(lock_file, "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                block = _free_link_block()
                host_if, server_if = f"clawh{block:05x}", f"claws{block:05x}"
                host, server = (str(address) for address in list(block_network(block).hosts()))
                _ip(
                    "link",
                    "add",
                    host_if,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    server_if,
                    "netns",
                    str(holder.pid),
                )
                _ip("addr", "add", f"{host}/30", "dev", host_if)
                _ip("link", "set", host_if, "up")
            namespace = f"--net=/proc/{holder.pid}/ns/net"
            for args in (("link", "set", "lo", "up"), ("addr", "add", f"{server}/30", "dev", server_if),
                         ("link", "set", server_if, "up")):  # fmt: skip
                _ip(*args, prefix=["nsenter", namespace, "--"])
            return cls(holder, host, server)
        except BaseException:
            stop_process(holder, 1)
            raise

    def remove(self) -> None:
        # The namespace goes with its last process, and the veth pair with it.
        stop_process(self.holder, 1)


def block_network(block: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((int(LINK_NETWORK.network_address) + 4 * block, 30))


def _free_link_block() -> int:
    used = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    taken = {ipaddress.ip_address(address) for address in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", used)}
    for block in range(LINK_NETWORK.num_addresses // 4):
        if not taken.intersection(block_network(block).hosts()):
            return block
    raise RealAppUnavailable("no free link network left in 198.18.0.0/15")


def _ip(*args: str, prefix: list[str] | None = None) -> None:
    result = subprocess.run([*(prefix or []), "ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RealAppUnavailable(f"ip {' '.join(args)} failed: {result.stderr.strip()}")

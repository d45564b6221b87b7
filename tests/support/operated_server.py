"""The operator process as the product runs it with a channel key and the backup store, and the
tests/channel ChannelServer (real sshd, the real agent, the real gateway) standing in for the simulated
server the operator creates, installed from the very user-data the operator sent to Hetzner.

The simulated servers get loopback addresses (the Hetzner simulator's IPv4 pool at 127.0.0.0, set before
any server exists), the ChannelServer's sshd listens on the one a server got, and the operator reaches
every server on the ChannelServer's ports (CLAWHOST_CHANNEL_PORT, the health URL), as in
tests/channel/test_operator_e2e.py.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator.bootstrap.app_files import AGENT_USER
from tests.channel.server import NSS_WRAPPER, ChannelServer, instance
from tests.operator.integration.harness import Stage
from tests.support.s3 import S3Server


def require_agent_login() -> None:
    """sshd lets the operator in as the production account only through nss_wrapper."""
    if not Path(NSS_WRAPPER).exists():
        pytest.skip(
            f"{NSS_WRAPPER} is missing (apt-get install libnss-wrapper): sshd needs the agent's login"
        )


def loopback_servers(stage: Stage) -> None:
    """Simulated servers get 127.0.0.x addresses, where a ChannelServer can listen (before any exists)."""
    stage.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")


def stand_in(root: Path, realapp: Path, key: Path) -> ChannelServer:
    """A server as production has it: the agent's own login, the gateway restarted when it exits."""
    return ChannelServer(root, realapp, key, login=AGENT_USER, restart_always=True)


def operator_environment(
    server: ChannelServer, key: Path, s3: S3Server | None = None, prefix: str = "e2e"
) -> dict[str, str]:
    """The channel settings for `server`'s ports and, with `s3`, the backup store (key and secret in
    files, as the chart mounts them from a Secret)."""
    env = {
        "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(key),
        "CLAWHOST_CHANNEL_PORT": str(server.ports["ssh"]),
        "CLAWHOST_CHANNEL_SOURCE_RANGES": "127.0.0.0/8",
        "CLAWHOST_APP_HEALTH_URL": f"http://127.0.0.1:{server.ports['gateway']}/readyz",
    }
    if s3 is not None:
        access, secret = server.root.parent / "s3-access-key", server.root.parent / "s3-secret-key"
        access.write_text(s3.access_key)
        secret.write_text(s3.secret_key)
        env |= {
            "CLAWHOST_BACKUP_S3_ENDPOINT": s3.endpoint,
            "CLAWHOST_BACKUP_S3_BUCKET": s3.bucket,
            "CLAWHOST_BACKUP_S3_PREFIX": prefix,
            "CLAWHOST_BACKUP_S3_ACCESS_KEY_FILE": str(access),
            "CLAWHOST_BACKUP_S3_SECRET_KEY_FILE": str(secret),
        }
    return env


def running_server(stage: Stage, name: str, timeout: float = 120) -> dict[str, Any]:
    """The running simulated server of instance `name` (its deterministic name starts with it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [
            s
            for s in stage.servers()
            if s["name"].startswith(f"{name}-") and s["status"] == "running" and s["public_net"]["ipv4"]
        ]
        if running:
            (created,) = running
            return created
        time.sleep(0.2)
    raise AssertionError(f"no running server for {name}; logs:\n{stage.all_logs()[-4000:]}")


def bring_up(
    stage: Stage, server: ChannelServer, name: str, hostname: str, version: str, **spec: Any
) -> dict[str, Any]:
    """Install `server` from the user-data the operator sent for instance `name`, as cloud-init would,
    at the simulated server's loopback address, and start it; the simulated server."""
    created = running_server(stage, name)
    server.address = created["public_net"]["ipv4"]["ip"]
    assert ipaddress.ip_address(server.address) in ipaddress.ip_network("127.0.0.0/8")
    user_data = stage.hetzner.user_data(created["id"])
    assert user_data, "the operator created the server without user-data"
    server.install_user_data(user_data, instance(hostname, version, **spec))
    server.start()
    return created

"""What the backup tests do to a channel test server and the S3 server, in one place."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from openclaw_operator.bootstrap.app_files import GATEWAY_CONFIG_FILE
from openclaw_operator.providers.backup_store import BackupStore
from openclaw_operator.providers.channel import MASK
from tests.channel import server as channel_server
from tests.channel.conftest import OLD_TOKEN
from tests.channel.server import ChannelServer
from tests.support.s3 import S3Server

NAMESPACE, NAME, UID = "t", "alice", "0123abcd-0000-0000-0000-000000000000"
ORIGIN = "https://alice.example.com"


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def head(s3_server: S3Server, key: str) -> Any:
    async with s3_server.store() as store:
        return await store.head(key)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
        return bytes(response.read())


def put(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="PUT")  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (loopback)
        pass


def gateway(server: ChannelServer, command: str) -> None:
    service = Path(channel_server.__file__).with_name("service.py")
    subprocess.run([sys.executable, str(service), str(server.root), command], check=True)


def state_dir(server: ChannelServer) -> Path:
    return server.path(GATEWAY_CONFIG_FILE).parent


def start_from_a_fresh_state(server: ChannelServer) -> None:
    """What a replacement server for the instance starts from: the rendered config, nothing else."""
    state = state_dir(server)
    config = server.path(GATEWAY_CONFIG_FILE).read_text()
    gateway(server, "stop")
    shutil.rmtree(state)
    state.mkdir(mode=0o700)
    server.path(GATEWAY_CONFIG_FILE).write_text(config)
    server.path(GATEWAY_CONFIG_FILE).chmod(0o600)
    gateway(server, "start")
    server.wait_ready()


def paired(server: ChannelServer, device: Path) -> bool:
    seen = server.device_connect(OLD_TOKEN, device, ORIGIN)
    assert seen["outcome"] == "hello-ok" or seen.get("code") == "PAIRING_REQUIRED", seen
    return bool(seen["outcome"] == "hello-ok")


def assert_no_url_leaks(url: str, *texts: str) -> None:
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    for text in texts:
        assert url not in text and signature not in text
        assert MASK not in text  # nothing needed masking: the agent never repeated the URL


def logs(server: ChannelServer) -> str:
    return "".join((server.root / name).read_text(errors="replace") for name in ("sshd.log", "gateway.log"))


def store_for(s3_server: S3Server) -> BackupStore:
    return s3_server.store()

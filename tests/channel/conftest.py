"""Fixtures for the channel tests against the real gateway: skipped, with the reason printed, where the
real app, OpenSSH's sshd or Caddy cannot run."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator.bootstrap.app_files import server_files
from openclaw_operator.providers.channel import ChannelAnswer, ChannelClient
from tests.channel.server import ChannelServer, instance, operator_key, realapp_dir

OLD_TOKEN = "old-token-5c0e0b1f6a2d4e8b9c7a"
NEW_TOKEN = "new-token-9f8e7d6c5b4a39281706"
ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDqyIFLdcC2kC9Rxm4Nf4jG4x4rb5Ih0j3T9m3wqjZ2v alice@laptop"
OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9Kb9uOv6bqjQk0s9pd3OqgEo7c1WvM7wWmZf0l4mXn alice@phone"


def _missing() -> str | None:
    for tool in ("/usr/sbin/sshd", "ssh-keygen", "caddy"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install openssh-server openssh-client caddy)"
    return None


@pytest.fixture(scope="session")
def realapp() -> Path:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    found = realapp_dir()
    if found is None:
        pytest.skip(
            "tests/realapp/install.sh could not install Node and OpenClaw (npm registry unreachable?)"
        )
    return found


@pytest.fixture(scope="session")
def operator_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return operator_key(tmp_path_factory.mktemp("operator"))


def start_server(root: Path, realapp: Path, key: Path, version: str, **spec: Any) -> ChannelServer:
    server = ChannelServer(root, realapp, key)
    server.install(instance("alice.example.com", version, sshKeys=[ADMIN_KEY], **spec), OLD_TOKEN)
    server.start()
    return server


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, realapp: Path, operator_key_file: Path
) -> Iterator[ChannelServer]:
    running = start_server(tmp_path_factory.mktemp("server"), realapp, operator_key_file, "2026.9.6")
    try:
        yield running
    finally:
        running.stop()


class Operator:
    """The operator's end of the channel as the actuator drives it: files rendered by server_files, sent
    by the real adapter, host key pinned after the first answer."""

    def __init__(self, server: ChannelServer, key: Path) -> None:
        self.server = server
        self.client = ChannelClient(str(key), port=server.ports["ssh"], user="root", timeout=600)
        self.host_key: str | None = None

    def call(self, request: dict[str, Any], secrets: tuple[str, ...] = ()) -> ChannelAnswer:
        answered = asyncio.run(self.client.call("127.0.0.1", self.host_key, request, secrets))
        self.host_key = answered.host_key
        return answered

    def apply(
        self,
        *,
        hostname: str = "alice.example.com",
        ssh_keys: tuple[str, ...] = (ADMIN_KEY,),
        config: dict[str, Any] | None = None,
        token: str = OLD_TOKEN,
        env: dict[str, str] | None = None,
        version: str = "2026.9.6",
        desired_hash: str = "h",
        skills: list[str] | None = None,
    ) -> ChannelAnswer:
        files = server_files(hostname, ssh_keys, config, token, env or {}, skills)
        request: dict[str, Any] = {
            "op": "apply",
            "hash": desired_hash,
            "files": files,
            "openclawVersion": version,
        }
        if skills is not None:  # as the actuator sends it
            request["skills"] = skills
        return self.call(request, (token, *(env or {}).values()))


@pytest.fixture(scope="module")
def operator(server: ChannelServer, operator_key_file: Path) -> Operator:
    return Operator(server, operator_key_file)

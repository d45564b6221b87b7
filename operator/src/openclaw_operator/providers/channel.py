"""The channel's operator end: the OpenSSH client talking to one server's clawhost-agent (docs/channel.md).

A thin adapter: one `ssh` process per request, the request on its stdin, the agent's one-line JSON
answer on its stdout, translated into the operator's `Failure` kinds. The server's host key is pinned:
the first connection accepts and reports it (status.channelHostKey), every later one requires it.
At most `concurrency` sessions run at once, operator-wide. Every secret the caller sent is masked in
every message this module produces, so a log line, an event or status can never quote one.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from openclaw_operator.api import ConditionType
from openclaw_operator.bootstrap.app_files import AGENT_USER
from openclaw_operator.providers.errors import Failure, FailureKind

MASK = "***"
# How the agent's refusal reasons continue: the spec has to change (frozen), or trying again can help.
STALLING_REASONS = frozenset({"ConfigRejected", "ProxyConfigRejected", "UpdateFailed", "GatewayDown"})
OUTPUT_LIMIT = 1 << 20


@dataclass(frozen=True)
class ChannelAnswer:
    answer: dict[str, Any]
    host_key: str  # "<type> <base64>" of the server


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


class ChannelClient:
    def __init__(
        self,
        key_file: str,
        *,
        port: int = 22,
        user: str = AGENT_USER,
        timeout: float = 900.0,
        connect_timeout: float = 15.0,
        concurrency: int = 8,
        ssh: str = "ssh",
    ) -> None:
        self.key_file = key_file
        self.port = port
        self.user = user
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.ssh = ssh
        self._slots = asyncio.Semaphore(concurrency)

    async def call(
        self, address: str, host_key: str | None, request: Mapping[str, Any], secrets: Iterable[str] = ()
    ) -> ChannelAnswer:
        """One request to the agent at `address`; raises `Failure` unless the agent answered ok."""
        secrets = list(secrets)
        with tempfile.TemporaryDirectory(prefix="clawhost-channel-") as scratch:
            known_hosts = os.path.join(scratch, "known_hosts")
            host = address if self.port == 22 else f"[{address}]:{self.port}"
            _write_known_hosts(known_hosts, f"{host} {host_key}\n" if host_key else "")
            argv = [
                self.ssh,
                "-T",
                "-p",
                str(self.port),
                "-i",
                self.key_file,
                "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes",
                "-o", f"UserKnownHostsFile={known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=" + ("yes" if host_key else "accept-new"),
                "-o", "HashKnownHosts=no",
                "-o", f"ConnectTimeout={int(self.connect_timeout)}",
                "-o", "ServerAliveInterval=15",
                "-o", "LogLevel=ERROR",
                "-F", "/dev/null",
                f"{self.user}@{address}",
            ]  # fmt: skip
            stdout, stderr, code = await self._run(argv, json.dumps(request).encode())
            seen_key = host_key or _accepted_key(known_hosts)
        if code == 255 or not stdout.strip():
            raise _connection_failure(address, mask(stderr.strip(), secrets))
        try:
            answer = json.loads(stdout.strip().splitlines()[-1])
        except ValueError:
            raise Failure(
                FailureKind.RETRYING, "ChannelError", f"the agent on {address} answered no JSON"
            ) from None
        if not answer.get("ok"):
            raise _refusal(answer, secrets)
        return ChannelAnswer(answer=answer, host_key=seen_key or "")

    async def _run(self, argv: list[str], stdin: bytes) -> tuple[str, str, int]:
        async with self._slots:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=OUTPUT_LIMIT,
            )
            try:
                out, err = await asyncio.wait_for(process.communicate(stdin), self.timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
                return "", f"no answer within {self.timeout:.0f} s", 255
        return out.decode(errors="replace"), err.decode(errors="replace"), process.returncode or 0


def _write_known_hosts(path: str, content: str) -> None:
    # A few bytes into a fresh scratch directory: not worth a thread.
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(content)


def _accepted_key(known_hosts: str) -> str | None:
    try:
        with open(known_hosts, encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 3:
                    return f"{parts[1]} {parts[2]}"
    except OSError:
        pass
    return None


def _connection_failure(address: str, stderr: str) -> Failure:
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "Host key verification failed" in stderr:
        message = (
            f"the SSH host key of {address} is not the one pinned in status.channelHostKey: the server was "
            "replaced behind the operator's back, or someone is in between; request a reinstall to trust "
            "a new key"
        )
        return Failure(FailureKind.STALLED, "ChannelHostKeyChanged", message)
    detail = stderr.splitlines()[-1] if stderr else "no answer"
    return Failure(FailureKind.RETRYING, "ChannelUnreachable", f"the channel to {address} failed: {detail}")


def _refusal(answer: Mapping[str, Any], secrets: list[str]) -> Failure:
    reason = str(answer.get("reason") or "ChannelError")
    message = mask(str(answer.get("message") or "the agent refused"), secrets)
    if reason in STALLING_REASONS:
        return Failure(
            FailureKind.STALLED, reason, message, frozen=True, about=ConditionType.CONFIG_APPLIED.value
        )
    return Failure(FailureKind.RETRYING, reason, message)

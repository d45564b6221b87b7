"""The channel's operator end: an SSH client talking to one server's clawhost-agent (docs/channel.md).

A thin adapter over asyncssh (pure Python on `cryptography`, so the image needs no OpenSSH client): one
SSH connection per request, the request on the session's stdin, the agent's one-line JSON answer on its
stdout, translated into the operator's `Failure` kinds. The server's host key is pinned in memory: the
first connection accepts and reports it (status.channelHostKey), every later one trusts only that key.
At most `concurrency` sessions run at once, operator-wide. Every secret the caller sent is masked in
every message this module produces, so a log line, an event or status can never quote one.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncssh

from openclaw_operator.api import ConditionType
from openclaw_operator.bootstrap.app_files import AGENT_USER
from openclaw_operator.providers.errors import Failure, FailureKind

MASK = "***"
# How the agent's refusal reasons continue: the spec has to change (frozen), or trying again can help.
STALLING_REASONS = frozenset(
    {"ConfigRejected", "ProxyConfigRejected", "SkillRejected", "UpdateFailed", "GatewayDown"}
)
OUTPUT_LIMIT = 1 << 20
KEEPALIVE_SECONDS = 15.0  # an update runs for minutes with the session silent: keep NATs from dropping it

# asyncssh logs every connection and login at INFO: one line each per push, none of them news.
logging.getLogger("asyncssh").setLevel(logging.WARNING)


@dataclass(frozen=True)
class ChannelAnswer:
    answer: dict[str, Any]
    host_key: str  # "<type> <base64>" of the server


def mask(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text


def channel_public_key(key_file: str) -> str:
    """The OpenSSH public key line of the operator's channel key, derived from the private key file, so
    one Secret (kubernetes.io/ssh-auth: `ssh-privatekey` only) is all the operator needs."""
    key = asyncssh.read_private_key(key_file)
    return key.export_public_key("openssh").decode().strip()


class ChannelClient:
    def __init__(
        self,
        key_file: str,
        *,
        port: int = 22,
        user: str = AGENT_USER,
        timeout: float = 900.0,
        connect_timeout: float = 15.0,
        concurrency: int = 64,
    ) -> None:
        # Read once: the servers trust the public half rendered at their bootstrap, so a new key would
        # need new servers anyway. A missing or unreadable key fails the operator's start, not a push.
        self.key = asyncssh.read_private_key(key_file)
        self.port = port
        self.user = user
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._slots = asyncio.Semaphore(concurrency)

    async def call(
        self, address: str, host_key: str | None, request: Mapping[str, Any], secrets: Iterable[str] = ()
    ) -> ChannelAnswer:
        """One request to the agent at `address`; raises `Failure` unless the agent answered ok."""
        secrets = list(secrets)
        payload = json.dumps(request).encode()
        async with self._slots:
            try:
                stdout, stderr, seen_key = await asyncio.wait_for(
                    self._exchange(address, host_key, payload), self.timeout
                )
            except TimeoutError:
                raise _unreachable(address, f"no answer within {self.timeout:.0f} s") from None
            except asyncssh.HostKeyNotVerifiable:
                raise _host_key_changed(address) from None
            except (OSError, asyncssh.Error) as exc:  # refused, reset, key refused (from=), closed
                raise _unreachable(address, mask(_describe(exc), secrets)) from None
        if not stdout.strip():
            detail = mask(stderr.strip(), secrets).splitlines()
            raise _unreachable(address, detail[-1] if detail else "the agent answered nothing")
        try:
            answer = json.loads(stdout.strip().splitlines()[-1])
        except ValueError:
            raise Failure(
                FailureKind.RETRYING, "ChannelError", f"the agent on {address} answered no JSON"
            ) from None
        if not answer.get("ok"):
            raise _refusal(answer, secrets)
        return ChannelAnswer(answer=answer, host_key=seen_key)

    async def _exchange(self, address: str, host_key: str | None, payload: bytes) -> tuple[str, str, str]:
        async with asyncssh.connect(
            address,
            self.port,
            username=self.user,
            client_keys=[self.key],
            known_hosts=_trusting(address, host_key),
            config=None,  # no ~/.ssh/config, no ssh-agent: only what is said here
            agent_path=None,
            preferred_auth="publickey",
            connect_timeout=self.connect_timeout,
            keepalive_interval=KEEPALIVE_SECONDS,
        ) as connection:
            seen = connection.get_server_host_key()
            # No command: the server's ForceCommand (the agent) runs whatever is asked.
            process = await connection.create_process(encoding=None)
            process.stdin.write(payload)
            process.stdin.write_eof()
            stdout, stderr = await asyncio.gather(
                _read_bounded(process.stdout, address), _read_bounded(process.stderr, address)
            )
        key = host_key or (_openssh_line(seen) if seen is not None else "")
        return stdout.decode(errors="replace"), stderr.decode(errors="replace"), key


def _trusting(
    address: str, host_key: str | None
) -> tuple[list[asyncssh.SSHKey], list[Any], list[Any]] | None:
    """asyncssh's known_hosts as lists: the pinned key only, or (first contact) any key."""
    if host_key is None:
        return None
    try:
        return [asyncssh.import_public_key(host_key)], [], []
    except (asyncssh.KeyImportError, ValueError):
        raise _host_key_changed(address) from None


def _openssh_line(key: asyncssh.SSHKey) -> str:
    return " ".join(key.export_public_key("openssh").decode().split()[:2])


async def _read_bounded(stream: asyncssh.SSHReader[bytes], address: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(1 << 16):
        size += len(chunk)
        if size > OUTPUT_LIMIT:
            raise Failure(FailureKind.RETRYING, "ChannelError", f"the agent on {address} answered over 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, asyncssh.PermissionDenied):
        return "the server refused the operator's key (not authorised from this address?)"
    return str(exc) or type(exc).__name__


def _host_key_changed(address: str) -> Failure:
    message = (
        f"the SSH host key of {address} is not the one pinned in status.channelHostKey: the server was "
        "replaced behind the operator's back, or someone is in between; request a reinstall to trust "
        "a new key"
    )
    return Failure(FailureKind.STALLED, "ChannelHostKeyChanged", message)


def _unreachable(address: str, detail: str) -> Failure:
    return Failure(FailureKind.RETRYING, "ChannelUnreachable", f"the channel to {address} failed: {detail}")


def _refusal(answer: Mapping[str, Any], secrets: list[str]) -> Failure:
    reason = str(answer.get("reason") or "ChannelError")
    message = mask(str(answer.get("message") or "the agent refused"), secrets)
    if reason in STALLING_REASONS:
        return Failure(
            FailureKind.STALLED, reason, message, frozen=True, about=ConditionType.CONFIG_APPLIED.value
        )
    return Failure(FailureKind.RETRYING, reason, message)

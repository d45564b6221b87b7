"""The one Kubernetes read Kopf does not make for us: the gateway token from the instance's Secret.

It reuses the credentials Kopf logged in with (see handlers.login), so there is one identity and one
RBAC rule (`get` on Secrets). Events go through Kopf's own poster (kopf.event).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import aiohttp
import kopf
from pydantic import SecretStr


class SecretUnavailable(Exception):
    """The Secret or its key is missing or unreadable; the message names them, never the value."""


class KubeClient:
    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self._info = info
        self._session: aiohttp.ClientSession | None = None

    async def _get(self, path: str) -> tuple[int, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                base_url=self._info.server.rstrip("/") + "/",
                headers=self._info.as_http_headers(),
                connector=aiohttp.TCPConnector(ssl=self._info.as_ssl_context()),
                timeout=aiohttp.ClientTimeout(total=30),
            )
        async with self._session.get(path.lstrip("/")) as response:
            return response.status, await response.json(content_type=None)

    async def secret_value(self, namespace: str, name: str, key: str) -> SecretStr:
        try:
            status, body = await self._get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SecretUnavailable(f"cannot read Secret {namespace}/{name}: {type(exc).__name__}") from None
        if status == 404:
            raise SecretUnavailable(f"Secret {namespace}/{name} does not exist")
        if status != 200:
            raise SecretUnavailable(f"cannot read Secret {namespace}/{name}: HTTP {status}")
        encoded = (body.get("data") or {}).get(key)
        if not encoded:
            raise SecretUnavailable(f"Secret {namespace}/{name} has no key {key!r}")
        try:
            value = base64.b64decode(encoded, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretUnavailable(f"key {key!r} of Secret {namespace}/{name} is not UTF-8 text") from None
        if not value:
            raise SecretUnavailable(f"key {key!r} of Secret {namespace}/{name} is empty")
        return SecretStr(value)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

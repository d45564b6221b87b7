"""The Kubernetes reads Kopf does not make for us, through the official `kubernetes` client: the gateway
token from an instance's Secret, and the uids of every instance that exists (for the orphan sweep).

It reuses the credentials Kopf logged in with (see handlers.login), so there is one identity and the
chart's RBAC rules (`get` on Secrets, `list` on instances) cover it. The client is synchronous
(urllib3), so its calls run in a small pool of their own threads, as hcloud's do, never on the event
loop. Errors name the object and the HTTP status, never a value or a response body (a Secret's body is
the secret). Events go through Kopf's own poster (events.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import kopf
import urllib3
from kubernetes.client import ApiClient, ApiException, Configuration, CoreV1Api, CustomObjectsApi
from pydantic import SecretStr

from openclaw_operator import api

T = TypeVar("T")
THREADS = 4  # Secret reads happen once per server create or rebuild; the sweep lists once per interval
PAGE_SIZE = 500
TIMEOUT = 30.0


class KubeUnavailable(Exception):
    """A read failed; the message names the object and the status, never a value."""


class SecretUnavailable(KubeUnavailable):
    """The Secret or its key is missing or unreadable."""


class KubeClient:
    def __init__(self, info: kopf.ConnectionInfo) -> None:
        self._files = tempfile.mkdtemp(prefix="openclaw-kube-")  # client certificate data, mode 0700
        self._api = ApiClient(client_configuration(info, Path(self._files)))
        self._core = CoreV1Api(self._api)
        self._custom = CustomObjectsApi(self._api)
        self._threads = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="kube")

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, fn)
        except ApiException as exc:
            missing = exc.status == 404
            raise KubeUnavailable(
                f"{what} does not exist" if missing else f"cannot read {what}: HTTP {exc.status}"
            ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeUnavailable(f"cannot read {what}: {type(exc).__name__}") from None

    async def secret_value(self, namespace: str, name: str, key: str) -> SecretStr:
        what = f"Secret {namespace}/{name}"

        def read() -> dict[str, Any]:
            secret = self._core.read_namespaced_secret(name, namespace, _request_timeout=TIMEOUT)
            return dict(secret.data or {})

        try:
            data = await self._call(what, read)
        except KubeUnavailable as exc:
            raise SecretUnavailable(str(exc)) from None
        encoded = data.get(key)
        if not encoded:
            raise SecretUnavailable(f"{what} has no key {key!r}")
        try:
            value = base64.b64decode(encoded, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretUnavailable(f"key {key!r} of {what} is not UTF-8 text") from None
        if not value:
            raise SecretUnavailable(f"key {key!r} of {what} is empty")
        return SecretStr(value)

    async def instance_exists(self, namespace: str, name: str, uid: str) -> bool:
        """Whether the instance (that very uid) still exists: one LIST by name, which the `list` Kopf
        needs already covers (no `get` rule)."""
        what = f"{api.PLURAL} {namespace}/{name}"

        def read() -> bool:
            page: Any = self._custom.list_namespaced_custom_object(
                api.GROUP,
                api.VERSION,
                namespace,
                api.PLURAL,
                field_selector=f"metadata.name={name}",
                _request_timeout=TIMEOUT,
            )
            return any(item["metadata"]["uid"] == uid for item in page.get("items", []))

        return await self._call(what, read)

    async def instance_uids(self, namespaces: tuple[str, ...]) -> frozenset[str]:
        """The uid of every OpenClawInstance in `namespaces` (empty: all), from consistent LISTs read in
        pages. Any failure raises: a partial answer would make live instances look deleted."""
        uids: set[str] = set()
        for namespace in namespaces or (None,):
            what = f"{api.PLURAL} in {namespace or 'all namespaces'}"
            uids |= await self._call(what, functools.partial(self._list_uids, namespace))
        return frozenset(uids)

    def _list_uids(self, namespace: str | None) -> set[str]:
        uids: set[str] = set()
        token: str | None = None
        while True:
            page: dict[str, Any] = self._list_page(namespace, token)
            uids.update(item["metadata"]["uid"] for item in page.get("items", []))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return uids

    def _list_page(self, namespace: str | None, token: str | None) -> dict[str, Any]:
        options: dict[str, Any] = {"limit": PAGE_SIZE, "_request_timeout": TIMEOUT}
        if token:
            options["_continue"] = token
        custom = self._custom
        page: Any
        if namespace is None:
            page = custom.list_cluster_custom_object(api.GROUP, api.VERSION, api.PLURAL, **options)
        else:
            page = custom.list_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, api.PLURAL, **options
            )
        return dict(page)

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._api.close()  # type: ignore[no-untyped-call]
        shutil.rmtree(self._files, ignore_errors=True)


def client_configuration(info: kopf.ConnectionInfo, files: Path) -> Configuration:
    """The client's configuration from Kopf's ConnectionInfo: server, CA, token or basic auth or client
    certificate. Certificate and key data are written to `files` (the client takes only paths)."""
    config = Configuration(host=info.server.rstrip("/"))
    config.verify_ssl = not info.insecure
    if info.ca_path:
        config.ssl_ca_cert = os.fsdecode(info.ca_path)
    elif info.ca_data:
        # PEM text: urllib3 reads bytes as DER.
        data = info.ca_data
        config.ca_cert_data = data.decode("ascii") if isinstance(data, bytes) else data
    authorization = info.as_http_headers().get("Authorization")
    if authorization:
        config.api_key = {"BearerToken": authorization}
    config.cert_file = _path(info.certificate_path, info.certificate_data, files / "client.crt")
    config.key_file = _path(info.private_key_path, info.private_key_data, files / "client.key")
    config.retries = 1  # the pass that needed the read retries with its own backoff
    return config


def _path(path: str | bytes | os.PathLike[Any] | None, data: str | bytes | None, target: Path) -> str | None:
    if path:
        return os.fsdecode(path)
    if not data:
        return None
    target.touch(mode=0o600)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(target)

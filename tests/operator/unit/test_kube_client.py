"""The operator's own Kubernetes reads through the official client, against a small local stand-in for the
apiserver: credentials from Kopf's ConnectionInfo, Secret values decoded, errors that never carry a
response body, and instance listings that follow every page (the orphan sweep relies on them)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kopf
import pytest
from aiohttp import web

from openclaw_operator import api
from openclaw_operator.kube import KubeClient, KubeUnavailable, SecretUnavailable, client_configuration
from tests.support.http import serving

TOKEN = "kube-token-" + "x" * 20
SECRET_VALUE = "gateway-" + "y" * 30
SAMPLE_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
async def apiserver() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []
    uids = [f"uid-{n}" for n in range(7)]

    async def secret(request: web.Request) -> web.Response:
        seen.append(request)
        name = request.match_info["name"]
        if name == "forbidden":  # a body that must never reach a message
            return web.json_response({"message": f"nope {SECRET_VALUE}"}, status=403)
        if name == "missing":
            return web.json_response({"kind": "Status"}, status=404)
        data = {"token": encoded(SECRET_VALUE)} if name == "good" else {"token": "%%%"}
        return web.json_response(
            {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": name}, "data": data}
        )

    async def instances(request: web.Request) -> web.Response:
        seen.append(request)
        start = int(request.query.get("continue") or 0)
        limit = min(int(request.query["limit"]), 3)  # the server may return fewer than asked
        page = uids[start : start + limit]
        more = start + limit < len(uids)
        metadata: dict[str, Any] = {"continue": str(start + limit)} if more else {}
        items = [{"metadata": {"uid": uid, "name": uid}} for uid in page]
        return web.json_response({"items": items, "metadata": metadata})

    application = web.Application()
    application.router.add_get("/api/v1/namespaces/{ns}/secrets/{name}", secret)
    application.router.add_get(f"/apis/{api.GROUP}/{api.VERSION}/{api.PLURAL}", instances)
    application.router.add_get(f"/apis/{api.GROUP}/{api.VERSION}/namespaces/{{ns}}/{api.PLURAL}", instances)
    async with serving(application) as url:
        yield url, seen


async def test_secret_values_are_read_with_kopfs_credentials(
    apiserver: tuple[str, list[web.Request]],
) -> None:
    server, seen = apiserver
    client = KubeClient(kopf.ConnectionInfo(server=server, token=TOKEN, scheme="Bearer"))
    try:
        value = await client.secret_value("ns", "good", "token")
        assert value.get_secret_value() == SECRET_VALUE
        assert seen[-1].headers["Authorization"] == f"Bearer {TOKEN}"
        failures = {
            "forbidden": "cannot read Secret ns/forbidden: HTTP 403",
            "missing": "Secret ns/missing does not exist",
            "garbled": "key 'token' of Secret ns/garbled is not UTF-8 text",
        }
        for name, message in failures.items():
            with pytest.raises(SecretUnavailable) as caught:
                await client.secret_value("ns", name, "token")
            assert str(caught.value) == message
            assert SECRET_VALUE not in repr(caught.value) and TOKEN not in repr(caught.value)
        with pytest.raises(SecretUnavailable, match="has no key 'other'"):
            await client.secret_value("ns", "good", "other")
    finally:
        await client.close()


async def test_instance_uids_follow_every_page(apiserver: tuple[str, list[web.Request]]) -> None:
    server, seen = apiserver
    client = KubeClient(kopf.ConnectionInfo(server=server, token=TOKEN))
    try:
        everywhere = await client.instance_uids(())
        assert everywhere == frozenset(f"uid-{n}" for n in range(7))
        assert [r.path for r in seen] == [f"/apis/{api.GROUP}/{api.VERSION}/{api.PLURAL}"] * 3
        seen.clear()
        assert await client.instance_uids(("a", "b")) == everywhere
        assert {r.match_info["ns"] for r in seen} == {"a", "b"}
    finally:
        await client.close()


async def test_an_unreachable_apiserver_is_unavailable_not_a_crash() -> None:
    client = KubeClient(kopf.ConnectionInfo(server="http://127.0.0.1:9", token=TOKEN))
    try:
        with pytest.raises(KubeUnavailable, match="cannot read openclawinstances in all namespaces"):
            await client.instance_uids(())
    finally:
        await client.close()


def test_configuration_from_connection_info(tmp_path: Path) -> None:
    info = kopf.ConnectionInfo(
        server="https://k8s.example:6443/",
        ca_data=SAMPLE_PEM.encode(),
        certificate_data=b"CERT",
        private_key_data="KEY",
        username="u",
        password="p",
    )
    config = client_configuration(info, tmp_path)
    assert config.host == "https://k8s.example:6443"
    assert config.ca_cert_data == SAMPLE_PEM  # PEM text: bytes would be read as DER
    assert Path(config.cert_file or "").read_bytes() == b"CERT"
    assert Path(config.key_file or "").read_bytes() == b"KEY"
    assert Path(config.key_file or "").stat().st_mode & 0o077 == 0
    assert config.auth_settings()["BearerToken"]["value"] == "Basic " + encoded("u:p")
    assert config.verify_ssl
    by_path = client_configuration(
        kopf.ConnectionInfo(server="https://k", ca_path="/ca.crt", insecure=True), tmp_path
    )
    assert (by_path.ssl_ca_cert, by_path.verify_ssl, by_path.cert_file) == ("/ca.crt", False, None)

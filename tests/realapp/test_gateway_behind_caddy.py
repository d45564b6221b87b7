"""One real gateway behind the real Caddy, both from the rendered files, asked from outside the server as a
customer's browser or the operator would: TLS, probes, token auth, origins, client attribution, HTTP/3,
the Caddyfile's load, and the gateway's memory."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from typing import Any

import aiohttp
import pytest
from clawhost_sandbox import realapp

from openclaw_operator.bootstrap import sizing
from tests.realapp.conftest import TOKEN

WRONG_TOKEN = "not-the-token-0123456789abcdef"


def caddy_entries(server: realapp.RealServer) -> list[dict[str, Any]]:
    entries = []
    for line in server.caddy_log().splitlines():
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


async def connect(
    server: realapp.RealServer, token: str | None, origin: str, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """The gateway's WebSocket handshake through Caddy: connect.challenge, then our connect request;
    returns the gateway's response frame (with the socket's close code once it closed)."""
    auth = {} if token is None else {"token": token}
    async with (
        aiohttp.ClientSession(connector=server.connector()) as session,
        session.ws_connect(f"wss://{server.hostname}/", headers={"Origin": origin, **(headers or {})}) as ws,
    ):
        challenge = await asyncio.wait_for(ws.receive_json(), 20)
        assert challenge["event"] == "connect.challenge"
        await ws.send_json(
            {
                "type": "req",
                "id": "1",
                "method": "connect",
                "params": {
                    "minProtocol": 4,
                    "maxProtocol": 4,
                    "client": {"id": "cli", "version": "1.0.0", "platform": "linux", "mode": "cli"},
                    "role": "operator",
                    "scopes": ["operator.read"],
                    "caps": [],
                    "commands": [],
                    "permissions": {},
                    "auth": auth,
                    "locale": "en-US",
                    "userAgent": "clawhost-tests",
                },
            }
        )
        while True:
            frame = await asyncio.wait_for(ws.receive_json(), 20)
            if frame.get("type") == "res" and frame.get("id") == "1":
                break
        if not frame["ok"]:
            closing = await asyncio.wait_for(ws.receive(), 20)
            frame["close_code"] = ws.close_code if closing.type != aiohttp.WSMsgType.TEXT else None
        return frame


# --- startup and the documented probes --------------------------------------------------------------------
def test_the_gateway_starts_from_the_rendered_unit_without_a_warning(server: realapp.RealServer) -> None:
    levels = [entry["_meta"]["logLevelName"] for entry in server.startup_log]
    assert "INFO" in levels  # the log is really being read
    problems = [
        entry["message"]
        for entry in server.startup_log
        if entry["_meta"]["logLevelName"] not in ("INFO", "DEBUG", "TRACE")
    ]
    assert problems == []
    assert "[gateway] ready" in server.gateway_log()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/healthz", {"ok": True, "status": "live"}),
        ("/readyz", {"ready": True}),
        ("/startupz", {"ok": True, "status": "started"}),
    ],
)
def test_the_documented_probes_answer_through_caddy_over_tls(
    server: realapp.RealServer, path: str, body: dict[str, Any]
) -> None:
    status, headers, content = server.https_get(path)  # verified against Caddy's CA, SNI = the host name
    assert status == 200, content
    # Remote and unauthenticated: only the verdict, no version or uptime.
    assert json.loads(content) == body
    assert headers["server"] == "Caddy"
    assert headers["strict-transport-security"] == "max-age=31536000"


def test_plain_http_is_redirected_to_https(server: realapp.RealServer) -> None:
    result = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--resolve",
         f"{server.hostname}:80:{server.address}", f"http://{server.hostname}/readyz"],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert result.stdout == f"308 https://{server.hostname}/readyz"


def test_no_http3_is_advertised(server: realapp.RealServer) -> None:
    # Both firewalls open TCP 443 only: an Alt-Svc h3 would send browsers to a closed UDP port.
    for path in ("/", "/healthz", "/readyz"):
        _, headers, _ = server.https_get(path)
        assert "alt-svc" not in headers, (path, headers.get("alt-svc"))
    (https_server,) = [
        entry
        for entry in caddy_entries(server)
        if entry.get("msg") == "server running" and entry["name"] == "srv0"
    ]
    assert https_server["protocols"] == ["h1", "h2"]


# --- Caddy's view of the Caddyfile ------------------------------------------------------------------------
def test_caddy_loads_the_caddyfile_without_a_warning(server: realapp.RealServer) -> None:
    entries = caddy_entries(server)
    assert any(entry.get("msg") == "serving initial configuration" for entry in entries)
    warnings = [
        entry
        for entry in entries
        if entry.get("level") in ("warn", "error")
        # DIFFERENCES ("certificates"): Caddy's internal CA names no OCSP responder.
        and not (entry.get("msg") == "stapling OCSP" and "no OCSP server specified" in entry.get("error", ""))
    ]
    assert warnings == []


def test_the_rendered_caddyfile_adapts_cleanly_and_is_caddy_fmt_clean(
    server: realapp.RealServer, tmp_path: Any
) -> None:
    rendered = tmp_path / "Caddyfile"
    rendered.write_text(server.files.caddyfile)  # the production file, without this machine's additions
    adapted = subprocess.run(
        [realapp.caddy_binary(), "adapt", "--config", str(rendered), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert adapted.returncode == 0, adapted.stderr
    assert "warn" not in adapted.stderr.lower(), adapted.stderr
    formatted = subprocess.run(
        [realapp.caddy_binary(), "fmt", str(rendered)], capture_output=True, text=True, timeout=60, check=True
    )
    assert formatted.stdout == server.files.caddyfile


# --- who may talk to the gateway --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("authorization", "status"),
    [(None, 401), (f"Bearer {WRONG_TOKEN}", 401), (f"Bearer {TOKEN}", 200)],
    ids=["no token", "wrong token", "the token"],
)
def test_the_http_api_needs_the_token(
    server: realapp.RealServer, authorization: str | None, status: int
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    answer = server.https_request(
        "POST", "/tools/invoke", json.dumps({"tool": "sessions_list", "args": {}}).encode(), headers
    )
    assert answer[0] == status, answer


@pytest.mark.parametrize(
    ("token", "refusal"),
    [
        # Without a shared token only a paired device may connect, and this client is none.
        (None, "DEVICE_IDENTITY_REQUIRED"),
        (WRONG_TOKEN, "AUTH_TOKEN_MISMATCH"),
    ],
    ids=["no token", "wrong token"],
)
async def test_a_websocket_without_the_token_is_refused(
    server: realapp.RealServer, token: str | None, refusal: str
) -> None:
    frame = await connect(server, token, f"https://{server.hostname}")
    assert frame["ok"] is False
    assert frame["error"]["details"]["code"] == refusal
    assert frame["close_code"] == 1008  # policy violation


async def test_a_websocket_with_the_token_from_the_hosts_origin_is_admitted(
    server: realapp.RealServer,
) -> None:
    frame = await connect(server, TOKEN, f"https://{server.hostname}")
    assert frame["ok"] is True, frame
    assert frame["payload"]["type"] == "hello-ok"
    assert frame["payload"]["server"]["version"] == server.files.openclaw_version


async def test_a_foreign_origin_is_refused_even_with_the_token(server: realapp.RealServer) -> None:
    frame = await connect(server, TOKEN, "https://evil.example")
    assert frame["ok"] is False
    assert frame["error"]["details"]["code"] == "CONTROL_UI_ORIGIN_NOT_ALLOWED"


# --- client attribution through the proxy -----------------------------------------------------------------
def test_the_bootstraps_own_check_asks_the_gateway_on_loopback_and_is_admitted(
    server: realapp.RealServer,
) -> None:
    script = server.files.files[realapp.BOOTSTRAP_SCRIPT]
    (url,) = re.findall(r'curl [^\n]*"(http[^"]+/readyz)"', script)
    url = url.replace("${GATEWAY_PORT}", str(server.files.gateway_port))
    checked = server.on_server("curl", "-fsS", url)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["ready"] is True


def test_a_check_through_caddy_from_the_server_itself_is_unattributable(server: realapp.RealServer) -> None:
    # Why the bootstrap's check goes to loopback: through Caddy, the server's own request arrives as a
    # forwarded loopback client, and the gateway refuses what it cannot attribute.
    checked = server.on_server(
        "curl", "-sS", "--cacert", str(server.ca_file), "--resolve", f"{server.hostname}:443:127.0.0.1",
        f"https://{server.hostname}/readyz",
    )  # fmt: skip
    assert json.loads(checked.stdout)["error"]["type"] == "proxy_attribution_required"


async def test_a_forged_forwarded_for_is_overwritten_by_caddy(server: realapp.RealServer) -> None:
    status, _, body = server.https_get("/readyz", {"X-Forwarded-For": "127.0.0.1"})
    assert status == 200, body  # a remote client claiming to be loopback is still a remote client
    await connect(server, WRONG_TOKEN, f"https://{server.hostname}", {"X-Forwarded-For": "10.9.8.7"})
    refusals = [
        entry["1"]
        for entry in server.gateway_file_log()
        if isinstance(entry.get("1"), dict) and entry["1"].get("authReason") == "token_mismatch"
    ]
    assert refusals, "the gateway logged no refused connection"
    assert refusals[-1]["forwardedFor"] == server.client_address  # the connecting address, not the claim


# --- memory -----------------------------------------------------------------------------------------------
def test_the_gateways_memory_is_measured_and_within_the_documented_peak(server: realapp.RealServer) -> None:
    memory = server.memory()
    main = server.gateway_pid
    with open(f"/proc/{main}/status") as status:
        main_rss_kb = int(re.search(r"^VmRSS:\s+(\d+) kB", status.read(), re.M).group(1))  # type: ignore[union-attr]
    assert memory.rss_bytes >= main_rss_kb * 1024 > 0
    assert memory.peak_rss_bytes >= memory.rss_bytes
    measured_mb = memory.cgroup_peak_bytes / 2**20
    print(
        f"gateway {server.files.openclaw_version}: started in {server.started_seconds:.1f} s, rss "
        f"{memory.rss_bytes / 2**20:.0f} MB, peak rss {memory.peak_rss_bytes / 2**20:.0f} MB, "
        f"unit peak {measured_mb:.0f} MB"
    )
    assert 100 < measured_mb <= sizing.GATEWAY_PEAK_RSS_MB, (
        f"the unit peaked at {measured_mb:.0f} MB; bootstrap/sizing.py and docs/bootstrap.md say "
        f"{sizing.GATEWAY_PEAK_RSS_MB} MB: measure again and size the plans from the new peak"
    )

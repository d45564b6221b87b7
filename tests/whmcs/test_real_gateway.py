"""An order in WHMCS ends at a real OpenClaw gateway. The module's CreateAccount (PHP, as WHMCS calls it)
writes the instance with the least-privilege WHMCS token, the real operator process makes the server in the
Hetzner simulator, the sandbox starts the real gateway behind the real Caddy from the user-data the operator
sent (clawhost_sandbox.gateways), the operator's own AppReady probe reaches it, and the URL and token the
client area shows (and the "Open the Control UI" hand-off) work against that gateway.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
from clawhost_sandbox import realapp
from clawhost_sandbox.gateways import Gateways

from tests.operator.integration.harness import ZONE, Stage, condition
from tests.whmcs.kube_access import ordered_service, whmcs_server
from tests.whmcs.whmcs_driver import ModuleAnswer, call_module

pytestmark = [pytest.mark.controlplane, pytest.mark.php]

SERVICE_ID = 5151
READY_TIMEOUT = 300.0  # a gateway start takes 5-30 s on two shared cores, more while other suites run


@pytest.fixture
def gateways(stage: Stage, tmp_path: Path) -> Iterator[Gateways]:
    try:
        installation = realapp.install()
    except realapp.RealAppUnavailable as exc:
        pytest.skip(f"the real OpenClaw cannot run here: {exc}")
    fleet = Gateways(stage.hetzner, installation, tmp_path / "realapp")
    fleet.start()
    try:
        yield fleet
    finally:
        fleet.close()


async def ask_gateway(
    fleet: Gateways, url: str, token: str | None, method: str = "POST", path: str = "tools/invoke"
) -> tuple[int, str]:
    """One HTTPS request to the shown URL as a customer's client makes it (the host name resolved to its
    server, its certificate verified against the sandbox CA)."""
    [gateway] = fleet.gateways()
    context = ssl.create_default_context(cafile=str(fleet.ca.certificate))
    resolver = realapp.StaticResolver({gateway.hostname: gateway.address})
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"tool": "sessions_list", "args": {}}) if method == "POST" else None
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver, ssl=context)) as session,
        session.request(method, url + path, data=body, headers=headers) as answer,
    ):
        return answer.status, await answer.text()


async def test_an_order_is_served_by_a_real_gateway_with_the_shown_url_and_token(
    stage: Stage, gateways: Gateways
) -> None:
    params = ordered_service(whmcs_server(stage.cluster, stage.namespace), SERVICE_ID, ZONE)
    answers: list[ModuleAnswer] = []
    # The operator as the sandbox runs it: host names resolve to the sandbox servers, their CA is trusted,
    # and AppReady asks the real gateway (its default probe, https://{hostname}/readyz).
    stage.start_operator(
        hosts=gateways.hosts_file, without=("CLAWHOST_APP_HEALTH_URL",), SSL_CERT_FILE=str(gateways.ca_bundle)
    )

    ordered = time.monotonic()
    created = call_module("CreateAccount", params)
    answers.append(created)
    assert created.result == "success"
    [stored] = created.local_api_calls("UpdateClientProduct")
    token, hostname = stored["servicepassword"], stored["domain"]
    stage.gateway_tokens.append(token)
    params |= {"password": token, "domain": hostname}

    name = f"whmcs-{SERVICE_ID}"
    body = stage.wait_ready(name, timeout=READY_TIMEOUT)
    assert condition(body, "AppReady", "reason") == "Healthy", "Ready through the real gateway's /readyz"
    assert gateways.failures() == {}
    [gateway] = gateways.gateways()
    print(
        f"CreateAccount to Ready through the real gateway: {time.monotonic() - ordered:.1f} s "
        f"(of it the gateway's start: {gateway.started_seconds:.1f} s, RSS {gateway.rss_mb:.0f} MB)"
    )

    page = call_module("ClientArea", params)
    answers.append(page)
    shown = page.result["templateVariables"]
    assert shown["statusLabel"] == "Ready"
    assert shown["url"] == f"https://{hostname}/"
    assert shown["gatewayToken"] == token
    sso = call_module("ServiceSingleSignOn", params)
    answers.append(sso)
    assert sso.result == {"success": True, "redirectTo": f"{shown['url']}#token={quote(token, safe='')}"}

    # What the customer's browser and clients do with it, against the real gateway behind Caddy.
    status, control_ui = await ask_gateway(gateways, shown["url"], None, method="GET", path="")
    assert status == 200 and "<html" in control_ui.lower(), "the Control UI page the SSO link opens"
    assert (await ask_gateway(gateways, shown["url"], shown["gatewayToken"]))[0] == 200
    assert (await ask_gateway(gateways, shown["url"], token[::-1]))[0] == 401, "only that token is let in"
    assert (await ask_gateway(gateways, shown["url"], None))[0] == 401

    assert call_module("TerminateAccount", params).result == "success"
    stage.wait_gone(name, timeout=90)
    for answer in answers:
        assert token not in answer.logged_text(), "the gateway token reached logModuleCall"
        assert params["serverpassword"] not in answer.logged_text()
    assert token not in stage.all_logs()
    stage.assert_no_secrets_leaked()

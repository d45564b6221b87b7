"""An order in WHMCS ends at a real OpenClaw gateway. The module's CreateAccount (PHP, as WHMCS calls it)
writes the instance with the least-privilege WHMCS token, the real operator process makes the server in the
Hetzner simulator, the sandbox starts the real gateway behind the real Caddy from the user-data the operator
sent (clawhost_sandbox.gateways), the operator's own AppReady probe reaches it, and the URL and token the
client area shows (and the "Open the Control UI" hand-off) work against that gateway.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from clawhost_sandbox import realapp
from clawhost_sandbox.gateways import Gateways

from tests.operator.integration.harness import PYTHON, ZONE, OperatorProcess, Stage, condition
from tests.whmcs.kube_access import apply_whmcs_role, service_account_token
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


def start_named_operator(stage: Stage, fleet: Gateways) -> OperatorProcess:
    """The operator as the sandbox runs it: host names resolve to the sandbox servers, their CA is trusted,
    and AppReady asks the real gateway (its default probe, https://{hostname}/readyz)."""
    env = stage.operator_env(SSL_CERT_FILE=str(fleet.ca_bundle))
    env.pop("CLAWHOST_APP_HEALTH_URL")
    log_path = stage.workdir / "operator-named.log"
    command = [str(PYTHON), "-m", "clawhost_sandbox.named_operator", "--hosts", str(fleet.hosts_file)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*command, "run", "--namespace", stage.namespace],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=stage.workdir,
        )
    process = OperatorProcess(
        proc, log_path, int(env["CLAWHOST_METRICS_PORT"]), int(env["CLAWHOST_HEALTH_PORT"])
    )
    stage.operators.append(process)
    return process


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
    apply_whmcs_role(stage.cluster, stage.namespace)
    assert stage.cluster.ca_file is not None
    params: dict[str, Any] = {
        "serverhostname": stage.cluster.server,
        "serverusername": stage.namespace,
        "serverpassword": service_account_token(stage.cluster, stage.namespace),
        "serveraccesshash": stage.cluster.ca_file.read_text(),
        "serviceid": str(SERVICE_ID),
        "userid": "9",
        "serverid": "1",
        "domain": "",
        "password": "",
        "configoption1": "cx23",
        "configoption2": "fsn1",
        "configoption3": "ubuntu-24.04",
        "configoption4": ZONE,
    }
    answers: list[ModuleAnswer] = []
    start_named_operator(stage, gateways)

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

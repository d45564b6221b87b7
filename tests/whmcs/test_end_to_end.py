"""WHMCS to running instance and back: the module's functions (PHP, as WHMCS calls them) against the real
apiserver with the least-privilege WHMCS token, the real operator process, and the Hetzner and Cloudflare
simulators.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.operator.integration.harness import ZONE, Stage
from tests.whmcs.kube_access import ordered_service, whmcs_server
from tests.whmcs.whmcs_driver import ModuleAnswer, call_module, run_cron_hook

pytestmark = [pytest.mark.controlplane, pytest.mark.php]

SERVICE_ID = 4242
PROVIDER_KEY = "sk-ant-api03-end-to-end-test-key-0123456789abcdef"


def test_order_to_ready_client_area_cron_suspend_and_terminate(stage: Stage) -> None:
    server = whmcs_server(stage.cluster, stage.namespace)
    # Ordered with a model provider key: it becomes a create-only Secret referenced from spec.env.
    customfields = {"Model Provider": "anthropic", "Model API Key": PROVIDER_KEY}
    params = ordered_service(server, SERVICE_ID, ZONE, customfields=customfields)
    answers: list[ModuleAnswer] = []

    def whmcs(function: str) -> Any:
        answer = call_module(function, params)
        answers.append(answer)
        return answer.result

    stage.gateway_tokens.append(PROVIDER_KEY)  # scanned for in logs, events and status like the tokens
    stage.start_operator()
    created = call_module("CreateAccount", params)
    answers.append(created)
    assert created.result == "success"
    [stored] = created.local_api_calls("UpdateClientProduct")
    gateway_token = stored["servicepassword"]
    hostname = stored["domain"]
    assert hostname == f"whmcs-{SERVICE_ID}.{ZONE}"
    stage.gateway_tokens.append(gateway_token)
    params |= {"password": gateway_token, "domain": hostname}  # what WHMCS now holds

    params["customfields"] = {}  # WHMCS empties the field once the Secret exists
    name = f"whmcs-{SERVICE_ID}"
    body = stage.wait_ready(name)
    [env] = body["spec"]["env"]
    assert env["name"] == "ANTHROPIC_API_KEY"
    assert PROVIDER_KEY not in json.dumps(body)
    secret = stage.cluster.request(
        "GET", f"/api/v1/namespaces/{stage.namespace}/secrets/{env['secretKeyRef']['name']}"
    )
    assert base64.b64decode(secret.json()["data"]["value"]).decode() == PROVIDER_KEY
    [hetzner_server] = stage.servers()
    ipv4 = hetzner_server["public_net"]["ipv4"]["ip"]
    assert body["status"]["ipv4"] == ipv4

    page = whmcs("ClientArea")
    assert page["tabOverviewModuleOutputTemplate"] == "templates/overview.tpl"
    shown = page["templateVariables"]
    assert shown["ready"] is True
    assert shown["statusLabel"] == "Ready"
    assert shown["url"] == f"https://{hostname}/"
    assert shown["ipv4"] == ipv4
    assert shown["ipv6"] == body["status"]["ipv6"]
    assert shown["gatewayToken"] == gateway_token
    a_records = [r for r in stage.records() if r["name"] == hostname and r["type"] == "A"]
    assert [r["content"] for r in a_records] == [ipv4]
    sso = whmcs("ServiceSingleSignOn")
    assert sso == {
        "success": True,
        "redirectTo": f"https://{hostname}/#token={quote(gateway_token, safe='')}",
    }
    assert whmcs("approvedevices") == "success"
    assert stage.get(name)["metadata"]["annotations"]["clawhost.dev/approve-devices-requested-at"]

    # Usage: the operator recorded Hetzner's figures from its listing; WHMCS's UsageUpdate reads them.
    recorded = stage.wait_for(name, lambda b: bool((b.get("status") or {}).get("usage")), what="usage")
    usage = recorded["status"]["usage"]
    [listed] = stage.servers()
    assert usage["diskLimitBytes"] == listed["primary_disk_size"] * 2**30
    assert usage["includedTrafficBytes"] == listed["included_traffic"]
    assert 0 <= usage["outgoingTrafficBytes"] <= listed["outgoing_traffic"]  # the counter only grows
    assert "diskUsedBytes" not in usage  # Hetzner does not know it: nothing is made up
    services = {1: {SERVICE_ID: {"dedicatedip": "", "assignedips": "", "domain": hostname}}}
    usage_update = call_module("UsageUpdate", server | {"serverid": "1"}, {1: server}, services)
    answers.append(usage_update)
    assert usage_update.result == "success"
    [[written]] = [list(by_service.values()) for by_service in usage_update.usage.values()]
    assert list(usage_update.usage) == ["1"] and list(usage_update.usage["1"]) == [str(SERVICE_ID)]
    assert written["disklimit"] == usage["diskLimitBytes"] // 2**20
    assert written["bwlimit"] == usage["includedTrafficBytes"] // 2**20
    # The operator keeps recording while traffic grows: WHMCS read the figure of that moment.
    later = stage.get(name)["status"]["usage"]["outgoingTrafficBytes"]
    assert usage["outgoingTrafficBytes"] // 2**20 <= written["bwusage"] <= later // 2**20
    assert "diskusage" not in written

    cron = run_cron_hook(
        {1: server}, {1: {SERVICE_ID: {"dedicatedip": "", "assignedips": "", "domain": hostname}}}
    )
    answers.append(cron)
    assert cron.result == {"updated": 1, "errors": []}
    assert cron.local_api_calls("UpdateClientProduct") == [
        {"serviceid": SERVICE_ID, "dedicatedip": ipv4, "assignedips": body["status"]["ipv6"]}
    ]

    assert whmcs("SuspendAccount") == "success"
    stage.wait_for(name, lambda b: (b.get("status") or {}).get("phase") == "Suspended", what="suspended")
    assert stage.servers()[0]["status"] == "off"
    assert whmcs("reboot").startswith("The instance is suspended")
    assert whmcs("UnsuspendAccount") == "success"
    stage.wait_for(name, lambda b: (b.get("status") or {}).get("phase") == "Running", what="running again")
    assert stage.servers()[0]["status"] == "running"

    assert whmcs("reboot") == "success"
    requested = stage.get(name)["metadata"]["annotations"]["clawhost.dev/reboot-requested-at"]
    stage.wait_for(name, lambda b: b["status"].get("lastHandledRebootAt") == requested, what="reboot handled")

    assert whmcs("TerminateAccount") == "success"
    stage.wait_gone(name, timeout=90)
    assert stage.servers() == []
    assert [r for r in stage.records() if r["name"] == hostname] == []
    assert whmcs("TerminateAccount") == "success"

    secrets = [
        server["serverpassword"],
        gateway_token,
        base64.b64encode(gateway_token.encode()).decode(),
        PROVIDER_KEY,
    ]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer.logged_text(), "a token reached logModuleCall"
    assert gateway_token not in stage.all_logs()
    assert PROVIDER_KEY not in stage.all_logs()
    stage.assert_no_secrets_leaked()

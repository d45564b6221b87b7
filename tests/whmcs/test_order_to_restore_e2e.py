"""Issue 17's last acceptance item, WHMCS to the real gateway and back: the module's functions (PHP, as
WHMCS calls them, with the least-privilege WHMCS token) against the real kube-apiserver, the Kopf operator
subprocess with a channel key and the real S3 store (versitygw), and one ChannelServer (real sshd, the
real agent, the real gateway) standing in for the simulated server (tests/support/operated_server.py).

One service, one gateway, in order:
1. ordered with an Anthropic key (product custom fields) -> CreateAccount -> create-only Secret and a
   spec.env reference -> Ready, and the running gateway itself reports the provider's key from its
   environment (`models.authStatus`);
2. "Approve my device" -> the operator has the agent approve a real client's pending pairing -> that
   client is let in, and the client area shows the request done;
3. "Back up now" -> an OnDemand entry in status.backups whose sha256 and size are the bucket's bytes,
   shown by the client area;
4. the device is removed on the gateway, then "Restore" of that backup -> the device is known again;
5. "Change Password" (the service password is the gateway token) -> a new Secret, the spec pointed at it,
   and the running gateway refuses the old token and takes the new one, with the client area showing it.
No key, token or store secret reaches status, Events, the operator's logs or the module log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator import api
from tests.backup.support import fetch
from tests.channel.conftest import ADMIN_KEY, operator_key_file, realapp
from tests.channel.server import ChannelServer
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import ZONE, Stage, condition
from tests.support.operated_server import (
    bring_up,
    loopback_servers,
    operator_environment,
    require_agent_login,
    stand_in,
)
from tests.support.s3 import S3Server, s3_server
from tests.whmcs.kube_access import ordered_service, whmcs_server
from tests.whmcs.whmcs_driver import ModuleAnswer, call_module

__all__ = ["operator_key_file", "realapp", "s3_server", "stage"]
pytestmark = [pytest.mark.controlplane, pytest.mark.php]

SERVICE_ID = 6161
NAME = f"whmcs-{SERVICE_ID}"
HOSTNAME = f"{NAME}.{ZONE}"
VERSION = "2026.9.6"
PREFIX = "whmcs-e2e"
PROVIDER_KEY = "sk-ant-api03-whmcs-e2e-" + secrets.token_hex(12)
STEP_SECONDS = 400  # a gateway start, a backup or a restore takes tens of seconds on 2 loaded cores
URL_MARKS = ("X-Amz-Signature", "X-Amz-Credential")


class Whmcs:
    """The module as WHMCS calls it for this one service, every answer kept (their module logs are
    scanned at the end)."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.answers: list[ModuleAnswer] = []

    def call(self, function: str, post: dict[str, str] | None = None) -> Any:
        answer = call_module(function, self.params, post=post)
        self.answers.append(answer)
        return answer.result

    def page(self) -> dict[str, Any]:
        """The client area's template variables."""
        shown: dict[str, Any] = self.call("ClientArea")["templateVariables"]
        return shown


@pytest.mark.timeout(1500)  # one gateway start, two backups (one PreRestore), a restore, on 2 shared cores
def test_an_order_with_a_provider_key_pairs_backs_up_and_restores_through_whmcs(
    stage: Stage, realapp: Path, operator_key_file: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    require_agent_login()
    loopback_servers(stage)
    server = stand_in(tmp_path / "server", realapp, operator_key_file)
    stage.start_operator(**operator_environment(server, operator_key_file, s3_server, PREFIX))
    stage.gateway_tokens.append(PROVIDER_KEY)  # scanned for in logs, Events and status like the tokens
    started = time.monotonic()
    try:
        whmcs, token = an_order_with_a_provider_key_is_ready_with_the_key_in_effect(stage, server)
        ready = time.monotonic()
        device = tmp_path / "device-identity.json"
        approve_my_device_lets_the_waiting_client_in(stage, server, whmcs, token, device)
        backup = backup_now_is_in_status_the_bucket_and_the_client_area(stage, whmcs, s3_server)
        backed_up = time.monotonic()
        restore_brings_back_the_device_paired_before_the_backup(stage, server, whmcs, token, device, backup)
        restored = time.monotonic()
        token = change_password_refuses_the_old_token_and_takes_the_new(stage, server, whmcs, token)
        done = time.monotonic()
        nothing_secret_anywhere(stage, server, whmcs, token, s3_server)
        print(
            f"CreateAccount to Ready with the key in effect {ready - started:.0f} s; approve and backup "
            f"{backed_up - ready:.0f} s; restore {restored - backed_up:.0f} s; password change "
            f"{done - restored:.0f} s; total {done - started:.0f} s"
        )
    finally:
        server.stop()


def an_order_with_a_provider_key_is_ready_with_the_key_in_effect(
    stage: Stage, server: ChannelServer
) -> tuple[Whmcs, str]:
    params = ordered_service(
        whmcs_server(stage.cluster, stage.namespace),
        SERVICE_ID,
        ZONE,
        configoptions={"OpenClaw Version": VERSION},
        customfields={
            "Model Provider": "anthropic",
            "Model API Key": PROVIDER_KEY,
            "SSH Public Keys": ADMIN_KEY,
        },
    )
    whmcs = Whmcs(params)
    assert whmcs.call("CreateAccount") == "success"
    [stored] = whmcs.answers[-1].local_api_calls("UpdateClientProduct")
    token = stored["servicepassword"]
    assert stored["domain"] == HOSTNAME
    stage.gateway_tokens.append(token)
    params |= {"password": token, "domain": HOSTNAME, "customfields": {}}  # WHMCS empties the key field

    bring_up(stage, server, NAME, HOSTNAME, VERSION, sshKeys=[ADMIN_KEY])
    body = stage.wait_for(NAME, configured, STEP_SECONDS, f"{NAME} Ready with its config applied")
    [env] = body["spec"]["env"]
    assert env["name"] == "ANTHROPIC_API_KEY" and PROVIDER_KEY not in json.dumps(body)
    assert secret_value(stage, env["secretKeyRef"]["name"], "value") == PROVIDER_KEY

    # The running gateway's own account of its model credentials (what the Control UI's Models page
    # shows): Anthropic, from the environment variable the operator's channel gave the gateway.
    auth = server.gateway_call("models.authStatus", {"refresh": True})
    [anthropic] = [p for p in auth["providers"] if p["provider"] == "anthropic"]
    assert anthropic_key_from_env(anthropic), json.dumps(auth)[:3000]
    assert PROVIDER_KEY not in json.dumps(auth), "the gateway shows the key back"
    assert server.token_accepted(token), "the token WHMCS holds is the one the gateway takes"

    shown = whmcs.page()
    assert (shown["statusLabel"], shown["url"], shown["gatewayToken"]) == (
        "Ready",
        f"https://{HOSTNAME}/",
        token,
    )
    assert {"label": "Anthropic API key", "configured": True} in shown["credentials"]
    return whmcs, token


def approve_my_device_lets_the_waiting_client_in(
    stage: Stage, server: ChannelServer, whmcs: Whmcs, token: str, device: Path
) -> None:
    assert not paired(server, token, device), "a device was let in before it was approved"
    assert "approvedevices" in [a["function"] for a in whmcs.page()["actions"]]
    assert whmcs.call("approvedevices") == "success"
    asked = stage.get(NAME)["metadata"]["annotations"][api.APPROVE_DEVICES_REQUESTED_AT]
    stage.wait_for(NAME, lambda b: handled(b, "lastHandledApproveDevicesAt", asked), STEP_SECONDS, "approval")
    assert paired(server, token, device), "the approved device is still refused"
    assert {"label": "Device approval", "state": "done", "requestedAt": asked} in whmcs.page()["requests"]
    [approved] = [e for e in stage.events() if e.get("reason") == "DevicesApproved"]
    assert approved["message"] == "approved 1 pending device pairing request(s)"


def backup_now_is_in_status_the_bucket_and_the_client_area(
    stage: Stage, whmcs: Whmcs, s3: S3Server
) -> dict[str, Any]:
    assert whmcs.call("backupnow") == "success"
    asked = stage.get(NAME)["metadata"]["annotations"][api.BACKUP_REQUESTED_AT]

    def backed_up(body: dict[str, Any]) -> bool:
        return handled(body, "lastHandledBackupAt", asked) and condition(body, "BackedUp") == "True"

    body = stage.wait_for(NAME, backed_up, STEP_SECONDS, "the on-demand backup")
    (entry,) = body["status"]["backups"]
    assert entry["kind"] == "OnDemand" and entry["openclawVersion"] == VERSION
    naming = s3.store(prefix=PREFIX)  # names and presigns only: no request of its own
    uid = body["metadata"]["uid"]
    assert entry["key"] == naming.key_for(stage.namespace, NAME, uid, entry["id"])
    stored = fetch(naming.presign_get(entry["key"]))
    assert (hashlib.sha256(stored).hexdigest(), len(stored)) == (entry["sha256"], entry["sizeBytes"])
    assert sorted(o.key for o in bucket(s3, naming.instance_prefix(stage.namespace, NAME, uid))) == [
        entry["key"],
        entry["key"] + ".sha256",
    ]

    shown = whmcs.page()
    [row] = shown["backups"]
    assert (row["id"], row["kind"], row["takenAt"], row["restorable"]) == (
        entry["id"],
        "On demand",
        entry["takenAt"],
        True,
    )
    assert {"label": "Backup", "state": "done", "requestedAt": asked} in shown["requests"]
    assert entry["key"] not in json.dumps(shown), "the bucket key is shown"
    return dict(entry)


def restore_brings_back_the_device_paired_before_the_backup(
    stage: Stage, server: ChannelServer, whmcs: Whmcs, token: str, device: Path, backup: dict[str, Any]
) -> None:
    # Forget the device on the gateway: only the backup still knows it.
    clear_devices(server)
    assert not paired(server, token, device), "the device is still known after it was removed"

    assert whmcs.call("restorebackup", post={"openclaw_backup": backup["id"]}) == "success"
    assert stage.get(NAME)["spec"]["restoreFrom"] == {"instance": NAME, "backup": backup["id"]}
    assert whmcs.page()["restoreState"] == "pending"

    def restored(body: dict[str, Any]) -> bool:
        done = (body.get("status") or {}).get("restoredFrom") or {}
        return done.get("id") == backup["id"] and configured(body)

    body = stage.wait_for(NAME, restored, STEP_SECONDS, "the restore")
    assert body["status"]["restoredFrom"]["sha256"] == backup["sha256"]
    kinds = [b["kind"] for b in body["status"]["backups"]]
    assert sorted(kinds) == ["OnDemand", "PreRestore"], "the state before the restore is kept first"
    assert paired(server, token, device), "the device paired before the backup is not back"
    assert server.token_accepted(token), "the restore changed the gateway token"
    shown = whmcs.page()
    assert shown["restoreState"] == "done" and shown["statusLabel"] == "Ready"


def change_password_refuses_the_old_token_and_takes_the_new(
    stage: Stage, server: ChannelServer, whmcs: Whmcs, old: str
) -> str:
    before = stage.get(NAME)
    new = secrets.token_urlsafe(36)  # what a WHMCS admin or the client types as the new service password
    stage.gateway_tokens.append(new)
    whmcs.params["password"] = new
    assert whmcs.call("ChangePassword") == "success"
    body = stage.get(NAME)
    ref = body["spec"]["gatewayTokenSecretRef"]["name"]
    assert ref != before["spec"]["gatewayTokenSecretRef"]["name"], "the spec still points at the old Secret"
    assert secret_value(stage, ref, "token") == new

    def applied(body: dict[str, Any]) -> bool:
        applied_hash = (body.get("status") or {}).get("appliedConfigHash")
        return configured(body) and applied_hash != before["status"]["appliedConfigHash"]

    stage.wait_for(NAME, applied, STEP_SECONDS, "the new token applied to the running gateway")
    assert not server.token_accepted(old), "the gateway still takes the old token"
    assert server.token_accepted(new), "the gateway refuses the token WHMCS now holds"
    shown = whmcs.page()
    assert (shown["statusLabel"], shown["gatewayToken"]) == ("Ready", new)
    return new


def nothing_secret_anywhere(
    stage: Stage, server: ChannelServer, whmcs: Whmcs, token: str, s3: S3Server
) -> None:
    stage.assert_no_secrets_leaked()  # the tokens and the provider key: logs, Events, status, metadata
    texts = {
        "the operator's logs": stage.all_logs(),
        "Events": json.dumps(stage.events()),
        "status": json.dumps(stage.get(NAME).get("status")),
        "the module log": "".join(answer.logged_text() for answer in whmcs.answers),
        "the client area": json.dumps([a.result for a in whmcs.answers if a.result != "success"]),
    }
    for where, text in texts.items():
        for secret in (
            *URL_MARKS,
            s3.secret_key,
            s3.access_key,
            PROVIDER_KEY,
            whmcs.params["serverpassword"],
        ):
            assert secret not in text, f"{secret[:12]}... in {where}"
    assert token not in texts["the module log"]
    sshd_log = (server.root / "sshd.log").read_text()
    assert all(secret not in sshd_log for secret in (*stage.secrets_in_play(), s3.secret_key))


# --- helpers ---------------------------------------------------------------------------------------------
def configured(body: dict[str, Any]) -> bool:
    """Ready on the current generation, the running server following it (ConfigApplied)."""
    status = body.get("status") or {}
    return (
        condition(body, "Ready") == "True"
        and condition(body, "ConfigApplied") == "True"
        and status.get("observedGeneration") == body["metadata"]["generation"]
    )


def secret_value(stage: Stage, name: str, key: str) -> str:
    """One key of a Secret, read as the operator (the WHMCS token cannot read Secrets)."""
    secret = stage.cluster.request("GET", f"/api/v1/namespaces/{stage.namespace}/secrets/{name}").json()
    return base64.b64decode(secret["data"][key]).decode()


def handled(body: dict[str, Any], field: str, value: str) -> bool:
    return (body.get("status") or {}).get(field) == value


def anthropic_key_from_env(provider: dict[str, Any]) -> bool:
    """models.authStatus's entry for a provider whose API key the gateway found in ANTHROPIC_API_KEY."""
    text = json.dumps(provider)
    return "ANTHROPIC_API_KEY" in text and provider.get("status") not in ("missing", None)


def paired(server: ChannelServer, token: str, device: Path) -> bool:
    """A real client with its own device identity connects as through the server's Caddy."""
    seen = server.device_connect(token, device, f"https://{HOSTNAME}")
    assert seen["outcome"] == "hello-ok" or seen.get("code") == "PAIRING_REQUIRED", seen
    return bool(seen["outcome"] == "hello-ok")


def clear_devices(server: ChannelServer) -> None:
    """`openclaw devices clear` on the server, as its administrator would (paired and pending)."""
    subprocess.run(
        [str(server.root / "bin/openclaw-admin"), "devices", "clear", "--yes", "--pending", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def bucket(s3: S3Server, prefix: str) -> list[Any]:
    async def listed() -> list[Any]:
        async with s3.store() as store:
            return await store.list(prefix)

    return asyncio.run(listed())

"""Issue 14's acceptance, operator to real gateway: the Kopf operator as the product runs it (the
`openclaw-operator run` subprocess, the real kube-apiserver, both simulators) with a channel key, and one
ChannelServer (real sshd whose forced command is the real agent, the real gateway, real Caddy) standing
in for the simulated server. The operator logs in as the production account, clawhost-agent (sshd sees
it through nss_wrapper; the machine gets no account).

The simulated server gets a loopback address (the Hetzner simulator's IPv4 pool set to 127.0.0.0), the
ChannelServer's sshd listens there on CLAWHOST_CHANNEL_PORT, and it is installed from the very user-data
the operator sent to Hetzner, as cloud-init would. The operator's health URL is the real gateway's
/readyz. Steps run in order on the one server, each driven only through the Kubernetes API as WHMCS or
kubectl would, each judged by the running gateway: first contact, a config change, a token rotation
with a provider key, a config OpenClaw rejects, and no secret anywhere the operator writes.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator.bootstrap.app_files import AGENT_USER
from tests.channel.conftest import ADMIN_KEY
from tests.channel.server import NSS_WRAPPER, ChannelServer, instance
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import Stage, condition

__all__ = ["stage"]
pytestmark = pytest.mark.controlplane

VERSION = "2026.9.6"
NAME = "alice"
HOSTNAME = "alice.example.com"
MODEL = {"agents": {"defaults": {"model": {"primary": "anthropic/claude-opus-5"}}}}
BAD = {"agents": {"defaults": {"model": {"primary": "openai/gpt-6"}, "bogusKey": 1}}}
PROVIDER_KEY = "sk-ant-api03-e2e-" + secrets.token_hex(12)
STEP_SECONDS = 300  # a push that restarts the gateway takes about 30 s on the loaded 2-core machine


def test_the_operator_brings_the_running_gateway_to_the_spec(
    stage: Stage, realapp: Path, operator_key_file: Path, tmp_path: Path
) -> None:
    if not Path(NSS_WRAPPER).exists():
        pytest.skip(
            f"{NSS_WRAPPER} is missing (apt-get install libnss-wrapper): sshd needs the agent's login"
        )
    stage.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")  # before any server exists
    server = ChannelServer(tmp_path / "server", realapp, operator_key_file, login=AGENT_USER)
    stage.start_operator(
        CLAWHOST_CHANNEL_SSH_KEY_FILE=str(operator_key_file),
        CLAWHOST_CHANNEL_PORT=str(server.ports["ssh"]),
        CLAWHOST_CHANNEL_SOURCE_RANGES="127.0.0.0/8",
        CLAWHOST_APP_HEALTH_URL=f"http://127.0.0.1:{server.ports['gateway']}/readyz",
    )
    try:
        first_contact_pins_the_host_key(stage, server)
        a_config_change_reaches_the_gateway(stage, server)
        a_token_rotation_refuses_the_old_and_accepts_the_new(stage, server)
        a_config_openclaw_rejects_stalls_and_the_old_one_keeps_running(stage, server)
        no_secret_in_events_status_or_logs(stage, server)
    finally:
        server.stop()


def first_contact_pins_the_host_key(stage: Stage, server: ChannelServer) -> None:
    stage.create_instance(NAME, HOSTNAME, openclawVersion=VERSION, sshKeys=[ADMIN_KEY])
    created = wait_for_server(stage)
    server.address = created["public_net"]["ipv4"]["ip"]
    assert ipaddress.ip_address(server.address) in ipaddress.ip_network("127.0.0.0/8")
    user_data = stage.hetzner.user_data(created["id"])
    assert user_data, "the operator created the server without user-data"
    server.install_user_data(user_data, instance(HOSTNAME, VERSION, sshKeys=[ADMIN_KEY]))
    server.start()  # the gateway runs the bootstrap's config with the first token
    body = wait_applied(stage, None)
    assert condition(body, "Ready") == "True"
    assert body["status"]["channelHostKey"] == server.host_key
    assert body["status"]["openclawVersion"] == VERSION
    assert server.token_accepted(stage.gateway_tokens[0])


def a_config_change_reaches_the_gateway(stage: Stage, server: ChannelServer) -> None:
    before = stage.get(NAME)["status"]["appliedConfigHash"]
    starts = server.starts()
    stage.patch_spec(NAME, config=MODEL)
    wait_applied(stage, before)
    live = server.gateway_config()
    assert live["config"]["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-opus-5"
    assert live["appliedConfigHash"] == live["configRevisionHash"]  # running it, not just on disk
    assert server.starts() == starts  # hot reload, no restart


def a_token_rotation_refuses_the_old_and_accepts_the_new(stage: Stage, server: ChannelServer) -> None:
    """WHMCS ChangePassword: a new Secret, the spec pointed at it (here with a provider key as well)."""
    before = stage.get(NAME)["status"]["appliedConfigHash"]
    old, new = stage.gateway_tokens[0], "gw-" + secrets.token_urlsafe(24)
    stage.gateway_tokens.append(new)
    stage.gateway_tokens.append(PROVIDER_KEY)  # not a token, but scanned for the same way
    create_secret(stage, f"{NAME}-token-2", token=new)
    create_secret(stage, f"{NAME}-keys", anthropic=PROVIDER_KEY)
    env = [{"name": "ANTHROPIC_API_KEY", "secretKeyRef": {"name": f"{NAME}-keys", "key": "anthropic"}}]
    stage.patch_spec(NAME, gatewayTokenSecretRef={"name": f"{NAME}-token-2"}, env=env)
    wait_applied(stage, before)
    assert not server.token_accepted(old)
    assert server.token_accepted(new)
    assert f"ANTHROPIC_API_KEY={PROVIDER_KEY}" in server.gateway_environment()
    assert len(server.gateway_pids()) == 1


def a_config_openclaw_rejects_stalls_and_the_old_one_keeps_running(
    stage: Stage, server: ChannelServer
) -> None:
    stage.patch_spec(NAME, config=BAD)  # merged into MODEL, it is BAD: it only replaces and adds

    def stalled(body: dict[str, Any]) -> bool:
        return condition(body, "Stalled") == "True" and condition(body, "ConfigApplied") == "False"

    body = stage.wait_for(NAME, stalled, STEP_SECONDS, "Stalled on the rejected config")
    assert condition(body, "ConfigApplied", "reason") == "ConfigRejected"
    message = condition(body, "Stalled", "message") or ""
    assert 'agents.defaults: Unrecognized key: "bogusKey"' in message  # OpenClaw's own words
    live = server.gateway_config()
    assert live["config"]["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-opus-5"
    assert "bogusKey" not in live["raw"]
    assert server.http("GET", "/readyz")[0] == 200
    assert server.token_accepted(stage.gateway_tokens[1])
    # Stalled means stalled: no further push of the refused generation while passes keep running.
    logins = agent_logins(server)
    time.sleep(8)  # four resync intervals
    assert agent_logins(server) == logins


def no_secret_in_events_status_or_logs(stage: Stage, server: ChannelServer) -> None:
    stage.assert_no_secrets_leaked()
    sshd_log = (server.root / "sshd.log").read_text()
    assert all(secret not in sshd_log for secret in stage.secrets_in_play())


# --- helpers ---------------------------------------------------------------------------------------------
def wait_for_server(stage: Stage, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [s for s in stage.servers() if s["status"] == "running" and s["public_net"]["ipv4"]]
        if running:
            (created,) = running
            return created
        time.sleep(0.2)
    raise AssertionError(f"no running server; logs:\n{stage.all_logs()[-4000:]}")


def wait_applied(stage: Stage, previous_hash: str | None) -> dict[str, Any]:
    """The operator's status says the running server follows the current generation of the spec."""

    def applied(body: dict[str, Any]) -> bool:
        status = body.get("status") or {}
        return (
            condition(body, "ConfigApplied") == "True"
            and status.get("observedGeneration") == body["metadata"]["generation"]
            and status.get("appliedConfigHash") not in (None, previous_hash)
        )

    body = stage.wait_for(NAME, applied, STEP_SECONDS, "ConfigApplied on the current generation")
    assert body["status"]["appliedConfigHash"].startswith("sha256:")
    return body


def create_secret(stage: Stage, name: str, **data: str) -> None:
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
    stage.kube.create_secret(stage.namespace, {"metadata": {"name": name}, "data": encoded})


def agent_logins(server: ChannelServer) -> int:
    return (server.root / "sshd.log").read_text().count("Accepted publickey")

"""The channel against the real gateway: real OpenSSH, the real agent, real OpenClaw 2026.9.6, real Caddy.

One server for the module; the tests run in order and each leaves the server as the next expects
(config, then a rejected config, then the token, the host name, the SSH keys). Every assertion looks at
the running gateway (its HTTP auth, its own `config.get`) or at Caddy, never at the files alone.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from openclaw_operator import api
from openclaw_operator.api import ConditionType
from openclaw_operator.bootstrap import app_files
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile.channel import ChannelInputs, desired_hash, plan_channel
from openclaw_operator.reconcile.failures import status_after_failure
from openclaw_operator.reconcile.model import Note, ServerObservation
from tests.channel.conftest import ADMIN_KEY, NEW_TOKEN, OLD_TOKEN, OTHER_KEY, Operator
from tests.channel.server import ChannelServer, instance
from tests.support.channel_actuator import channel_actuator

PROVIDER_KEY = "sk-ant-api03-test-0f1e2d3c4b5a69788796a5b4"
ENV = {"ANTHROPIC_API_KEY": PROVIDER_KEY}


def _instance() -> api.OpenClawInstance:
    body = instance("alice.example.com", "2026.9.6").model_dump(by_alias=True, mode="json")
    body["metadata"]["generation"] = 3
    return api.OpenClawInstance.from_body(body)


def test_the_first_answer_pins_the_servers_host_key(server: ChannelServer, operator: Operator) -> None:
    answered = operator.call({"op": "state"})
    assert answered.host_key == server.host_key
    assert answered.answer["openclawVersion"] == "2026.9.6"
    wrong = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDqyIFLdcC2kC9Rxm4Nf4jG4x4rb5Ih0j3T9m3wqjZ2v"
    pinned, operator.host_key = operator.host_key, wrong
    with pytest.raises(Failure) as refused:
        operator.call({"op": "state"})
    operator.host_key = pinned
    assert (refused.value.kind, refused.value.reason) == (FailureKind.STALLED, "ChannelHostKeyChanged")


MODEL = {"agents": {"defaults": {"model": {"primary": "anthropic/claude-opus-5"}}}}


def test_a_config_fragment_is_applied_and_read_back_from_the_gateway(
    server: ChannelServer, operator: Operator
) -> None:
    starts = server.starts()
    answered = operator.apply(config=MODEL, desired_hash="h-model")
    assert answered.answer["changed"] == ["gatewayConfig"]
    live = server.gateway_config()
    assert live["config"]["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-opus-5"
    assert live["appliedConfigHash"] == live["configRevisionHash"]  # the gateway runs it, not just the file
    # The operator's settings are still in force around the fragment.
    assert live["config"]["gateway"]["auth"] == {"mode": "token"}
    assert live["config"]["gateway"]["terminal"] == {"enabled": False}
    assert server.starts() == starts  # hot reload: nobody's session was cut
    assert operator.call({"op": "state"}).answer["appliedHash"] == "h-model"


def test_a_repeated_push_changes_nothing(server: ChannelServer, operator: Operator) -> None:
    starts = server.starts()
    answered = operator.apply(config=MODEL, desired_hash="h-model")
    assert answered.answer["changed"] == []
    assert server.starts() == starts


def test_a_key_the_app_rejects_stalls_with_openclaws_message_and_the_old_config_keeps_running(
    server: ChannelServer, operator: Operator
) -> None:
    bad = {"agents": {"defaults": {"model": {"primary": "openai/gpt-6"}, "bogusKey": 1}}}
    with pytest.raises(Failure) as refused:
        operator.apply(config=bad, desired_hash="h-bad")
    failure = refused.value
    assert (failure.kind, failure.reason, failure.frozen) == (FailureKind.STALLED, "ConfigRejected", True)
    assert 'agents.defaults: Unrecognized key: "bogusKey"' in failure.message  # OpenClaw's own words
    stalled = status_after_failure(_instance(), api.InstanceStatus(), failure, api.now())
    assert stalled.condition(ConditionType.STALLED).message == failure.message  # type: ignore[union-attr]
    assert stalled.condition(ConditionType.CONFIG_APPLIED).status == "False"  # type: ignore[union-attr]
    assert stalled.refused_generation == 3
    live = server.gateway_config()
    assert live["config"]["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-opus-5"
    assert "bogusKey" not in live["raw"]
    assert server.http("GET", "/readyz")[0] == 200
    assert operator.call({"op": "state"}).answer["appliedHash"] == "h-model"


def test_token_rotation_old_refused_new_accepted_within_one_push(
    server: ChannelServer, operator: Operator
) -> None:
    assert server.token_accepted(OLD_TOKEN)
    seen: list[int] = []
    with server.watch_gateways(seen):
        answered = operator.apply(config=MODEL, token=NEW_TOKEN, env={"ANTHROPIC_API_KEY": PROVIDER_KEY})
    assert answered.answer["changed"] == ["gatewayEnv"]
    assert not server.token_accepted(OLD_TOKEN)
    assert server.token_accepted(NEW_TOKEN)
    assert max(seen) == 1, f"gateways running at once: {seen}"  # stopped before the new one started
    # The provider key reached the gateway's environment, and no secret came back over the channel.
    assert f"ANTHROPIC_API_KEY={PROVIDER_KEY}" in server.gateway_environment()
    for secret in (OLD_TOKEN, NEW_TOKEN, PROVIDER_KEY):
        assert secret not in json.dumps(answered.answer)
        assert secret not in (server.root / "sshd.log").read_text()


def test_a_hostname_change_rewrites_caddy_and_the_allowed_origins(
    server: ChannelServer, operator: Operator
) -> None:
    assert server.proxy_serves("alice.example.com")
    answered = operator.apply(hostname="bob.example.com", config=MODEL, token=NEW_TOKEN, env=ENV)
    assert answered.answer["changed"] == ["gatewayConfig", "caddyfile"]
    assert server.proxy_serves("bob.example.com")
    assert not server.proxy_serves("alice.example.com")
    live = server.gateway_config()
    assert live["config"]["gateway"]["controlUi"]["allowedOrigins"] == ["https://bob.example.com"]


def test_ssh_keys_reach_authorized_keys(server: ChannelServer, operator: Operator) -> None:
    keys = server.path("/home/clawadmin/.ssh/authorized_keys")
    assert ADMIN_KEY in keys.read_text()  # from the earlier pushes (the spec's first key)
    answered = operator.apply(
        hostname="bob.example.com", ssh_keys=(OTHER_KEY,), config=MODEL, token=NEW_TOKEN, env=ENV
    )
    assert answered.answer["changed"] == ["adminKeys"]
    assert keys.read_text() == OTHER_KEY + "\n"
    assert oct(keys.stat().st_mode & 0o777) == "0o600"


def test_approve_devices_lets_a_waiting_remote_client_in(
    server: ChannelServer, operator: Operator, tmp_path: Path
) -> None:
    identity = tmp_path / "device.json"
    first = server.device_connect(NEW_TOKEN, identity, "https://bob.example.com")
    assert (first["outcome"], first.get("code")) == ("refused", "PAIRING_REQUIRED"), first
    answered = operator.call({"op": "approve-devices"})
    assert len(answered.answer["approved"]) == 1
    second = server.device_connect(NEW_TOKEN, identity, "https://bob.example.com")
    assert second["outcome"] == "hello-ok", second
    assert operator.call({"op": "approve-devices"}).answer["approved"] == []  # nothing left pending


def test_the_operator_key_works_only_from_the_operators_ranges(
    server: ChannelServer, operator: Operator
) -> None:
    keys = server.path(app_files.AGENT_KEYS_PATH)
    allowed = keys.read_text()
    public = (server.key.with_suffix(".pub")).read_text()
    keys.write_text(app_files.agent_authorized_key(public, ["10.0.0.0/8"]))
    try:
        with pytest.raises(Failure) as refused:
            operator.call({"op": "state"})
    finally:
        keys.write_text(allowed)
    assert (refused.value.kind, refused.value.reason) == (FailureKind.RETRYING, "ChannelUnreachable")
    assert operator.call({"op": "state"}).answer["ok"]


class _Secrets:
    """The Secrets the instance names, as KubeClient.secret_value returns them."""

    def __init__(self, values: dict[tuple[str, str], str]) -> None:
        self.values = values
        self.read: list[tuple[str, str]] = []

    async def secret_value(self, namespace: str, name: str, key: str) -> SecretStr:
        self.read.append((name, key))
        return SecretStr(self.values[(name, key)])


def test_a_pass_plans_and_the_actuator_pushes_a_whmcs_password_change(
    server: ChannelServer, operator: Operator, operator_key_file: Path
) -> None:
    """WHMCS ChangePassword points gatewayTokenSecretRef at a new Secret: the planner sees the hash move,
    the actuator reads the Secrets, renders the files and pushes them; status records the hash and the
    pinned host key; the old token is refused and the new one accepted, and no event carries a secret."""
    third = "third-token-0a1b2c3d4e5f60718293"
    secrets = _Secrets({("alice-gateway-2", "token"): third, ("keys", "anthropic"): PROVIDER_KEY})
    notes: list[Note] = []
    # No provider is touched by a channel step; the Secrets come from the fake above.
    actuator = channel_actuator(server, operator_key_file, secrets, notes)
    assert actuator.bootstrap.channel_public_key == operator_key_file.with_suffix(".pub").read_text().strip()
    body = instance(
        "bob.example.com",
        "2026.9.6",
        sshKeys=[OTHER_KEY],
        config=MODEL,
        env=[{"name": "ANTHROPIC_API_KEY", "secretKeyRef": {"name": "keys", "key": "anthropic"}}],
    ).model_dump(by_alias=True, mode="json")
    body["spec"]["gatewayTokenSecretRef"] = {"name": "alice-gateway-2"}
    body["status"] = {"appliedConfigHash": "sha256:before", "channelHostKey": operator.host_key}
    inst = api.OpenClawInstance.from_body(body)
    server_seen = ServerObservation(
        id=1, name="alice", status="running", server_type="cx23", ipv4="127.0.0.1"
    )
    plan = plan_channel(
        ChannelInputs(inst.spec, {}, inst.status, server_seen, True, None, "2026.9.6", enabled=True)
    )
    (step,) = plan.steps
    status = asyncio.run(actuator.apply(inst, inst.status, step))
    assert status.applied_config_hash == desired_hash(inst.spec, 1, "2026.9.6")
    assert status.channel_host_key == server.host_key
    assert status.openclaw_version == "2026.9.6"
    assert set(secrets.read) == {("alice-gateway-2", "token"), ("keys", "anthropic")}
    assert not server.token_accepted(NEW_TOKEN)
    assert server.token_accepted(third)
    shown = json.dumps([note.__dict__ for note in notes]) + status.model_dump_json()
    for secret in (third, NEW_TOKEN, PROVIDER_KEY):
        assert secret not in shown

"""A warm-pool server personalised through the channel, with the real parts: the operator process, the
real apiserver, the Hetzner simulator, and one ChannelServer (real sshd whose forced command is the real
agent, the real OpenClaw gateway) installed from the very pool user-data the operator sent to Hetzner.

Before the claim the pool server runs sshd and the agent but no gateway, and holds no token; at the claim
the operator's first push (not waiting for a health check) writes the instance's token, config and
Caddyfile, the agent starts the gateway, and the instance becomes Ready with the gateway accepting exactly
that instance's token.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

import pytest

from openclaw_operator.bootstrap.app_files import AGENT_USER, GATEWAY_ENV_FILE
from tests.channel.conftest import operator_key_file, realapp
from tests.channel.server import NSS_WRAPPER, ChannelServer, channel_environment, instance
from tests.golden.test_golden_operator import SETTINGS, build_golden
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import Stage, condition, wait_until
from tests.pool.test_pool_operator import pool_servers, ready_in_operator

__all__ = ["operator_key_file", "realapp", "stage"]
pytestmark = pytest.mark.controlplane

VERSION = SETTINGS.default_openclaw_version
HOSTNAME = "pooled.example.com"


def test_a_claimed_pool_server_gets_the_instances_token_and_only_then_a_gateway(
    stage: Stage, realapp: Path, operator_key_file: Path, tmp_path: Path
) -> None:
    if not Path(NSS_WRAPPER).exists():
        pytest.skip(f"{NSS_WRAPPER} is missing (apt-get install libnss-wrapper): the agent's login needs it")
    build_golden(stage, VERSION)
    stage.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")  # the one server sshd stands in for
    server = ChannelServer(tmp_path / "server", realapp, operator_key_file, login=AGENT_USER)
    pool_env = {"CLAWHOST_GOLDEN_IMAGES": "true", "CLAWHOST_WARM_POOL": "fsn1/cx23=1"}
    operator = stage.start_operator(**pool_env, **channel_environment(server, operator_key_file))
    try:
        wait_until(lambda: ready_in_operator(operator, 1), timeout=120, what="a ready pool server")
        (pooled,) = pool_servers(stage, ready=True)
        user_data = stage.hetzner.user_data(pooled["id"])
        assert user_data is not None
        server.address = pooled["public_net"]["ipv4"]["ip"]
        server.path("/home/openclaw/.openclaw").mkdir(parents=True)  # the pool script's `install -d`
        server.install_user_data(user_data, instance(HOSTNAME, VERSION))
        assert not server.path(GATEWAY_ENV_FILE).exists(), "a pool server holds a gateway token"
        # The agent waits 120 s for a started gateway; on the shared 2 cores at load 25-30 its first start
        # alone took longer (52 s to listen after 40 s of node start-up), so the test's agent waits 420 s.
        settings = json.loads(server.agent_settings.read_text())
        server.agent_settings.write_text(json.dumps({**settings, "readySeconds": 420}))
        # As the pool server boots: sshd and the agent, no gateway (the pool script starts none).
        server.sshd = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(server.root / "sshd_config")],
            stderr=(server.root / "sshd.log").open("wb"),
            env=server._sshd_environment(),
        )
        assert server.gateway_pids() == []

        stage.create_instance("pooled", HOSTNAME, openclawVersion=VERSION)
        body = stage.wait_ready("pooled", timeout=600)
        assert body["status"]["serverId"] == pooled["id"]
        assert body["status"]["bootImage"]["kind"] == "Pool"
        assert condition(body, "ConfigApplied") == "True"
        assert body["status"]["channelHostKey"] == server.host_key
        assert len(server.gateway_pids()) == 1
        assert server.token_accepted(stage.gateway_tokens[0])
        stage.assert_no_secrets_leaked()
    finally:
        server.stop()

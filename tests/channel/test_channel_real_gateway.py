"""The channel against the real gateway: real OpenSSH, the real agent, real OpenClaw 2026.9.6, real Caddy.

One server for the module; the tests run in order and each leaves the server as the next expects
(config, then a rejected config, then the token, the host name, the SSH keys). Every assertion looks at
the running gateway (its HTTP auth, its own `config.get`) or at Caddy, never at the files alone.
"""

from __future__ import annotations

import pytest

from openclaw_operator.providers.errors import Failure, FailureKind
from tests.channel.conftest import Operator
from tests.channel.server import ChannelServer


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

"""User-data for a server made from a hibernation snapshot of an installed server.

Hetzner gives the new server a new instance id, so cloud-init runs its per-instance modules again with
this user-data, over a disk that already holds the gateway's state. What it writes must not reset that
state (openclaw.json is the gateway's own, rewritten since the first boot), while the operator's files
(token, hostname, units) are written again from the spec and Secret, the same values, so both survive."""

from __future__ import annotations

from pathlib import Path

from openclaw_operator.bootstrap.render import (
    BOOTSTRAP_SCRIPT,
    GATEWAY_CONFIG_FILE,
    TOKEN_FILE,
    BootstrapSettings,
    render_user_data,
)
from tests.bootstrap.test_bootstrap_cloud_init import cloud_init_schema
from tests.bootstrap.userdata import TOKEN, instance, parse


def restoring() -> str:
    return render_user_data(instance(), BootstrapSettings(), TOKEN, restoring=True)


def test_the_gateways_own_config_is_not_written_again() -> None:
    fresh = parse(render_user_data(instance(), BootstrapSettings(), TOKEN))
    restored = parse(restoring())
    assert GATEWAY_CONFIG_FILE in [f["path"] for f in fresh.config["write_files"]]
    assert GATEWAY_CONFIG_FILE not in [f["path"] for f in restored.config["write_files"]]
    # Everything else is the same: the operator's files, the accounts, the bootstrap run.
    without = [f for f in fresh.config["write_files"] if f["path"] != GATEWAY_CONFIG_FILE]
    assert restored.config["write_files"] == without
    assert {k: v for k, v in restored.config.items() if k != "write_files"} == {
        k: v for k, v in fresh.config.items() if k != "write_files"
    }


def test_token_and_hostname_survive() -> None:
    restored = parse(restoring())
    assert TOKEN in restored.content(TOKEN_FILE)
    assert "claw.example.com" in restored.content("/etc/caddy/Caddyfile")
    assert restored.config["runcmd"] == [[BOOTSTRAP_SCRIPT]]


def test_cloud_init_accepts_it(tmp_path: Path) -> None:
    result = cloud_init_schema(restoring(), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr

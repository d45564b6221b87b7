"""The chart mounts the channel's SSH key (values `channel`): every operator Deployment, one per shard, gets
the one private key of a kubernetes.io/ssh-auth Secret as a read-only file and the variables pointing at
it; without `channel.sshKeySecret` there is neither mount nor variable (the operator reports NoChannel).
The rendered environment, with the key materialised where the kubelet would put it, is an operator
configuration whose channel key yields the public key the servers are given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncssh
import pytest

from openclaw_operator.config import load_config
from openclaw_operator.providers.channel import channel_public_key
from tests.chart.chartkit import (
    FULL_VALUES,
    SHARD_VALUES,
    container_env,
    helm,
    of_kind,
    render,
    template_args,
)
from tests.image.dockerfile import parse

CHANNEL_VARS = {
    "CLAWHOST_CHANNEL_SSH_KEY_FILE",
    "CLAWHOST_CHANNEL_PORT",
    "CLAWHOST_CHANNEL_SOURCE_RANGES",
    "CLAWHOST_CHANNEL_CONCURRENCY",
}
KEYED = ["channel.sshKeySecret=operator-channel", "managedZones={example.com}"]


def channel_parts(deployment: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    pod = deployment["spec"]["template"]["spec"]
    mounts = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "channel-key"]
    volumes = [v for v in pod["volumes"] if v["name"] == "channel-key"]
    return mounts, volumes


@pytest.mark.parametrize("values", [(), (SHARD_VALUES,)], ids=["one", "shards"])
def test_no_key_secret_no_mount_and_no_channel_variables(values: tuple[Path, ...]) -> None:
    for deployment in of_kind(render(values=values), "Deployment"):
        assert channel_parts(deployment) == ([], [])
        assert not CHANNEL_VARS & set(container_env(deployment))


@pytest.mark.parametrize("values", [(), (SHARD_VALUES,)], ids=["one", "shards"])
def test_every_deployment_mounts_the_key_read_only_for_the_operator_user(
    values: tuple[Path, ...], tmp_path: Path
) -> None:
    deployments = of_kind(render(values=values, sets=KEYED), "Deployment")
    assert len(deployments) == (2 if values else 1)
    _, group = (int(part) for part in (parse().final.last("USER") or "").split(":"))
    for deployment in deployments:
        (mount,), (volume,) = channel_parts(deployment)
        assert mount["readOnly"] is True
        assert volume["secret"] == {
            "secretName": "operator-channel",
            "defaultMode": 0o400,
            "items": [{"key": "ssh-privatekey", "path": "ssh-privatekey"}],
        }
        # Secret files belong to root; the kubelet gives fsGroup read on them (0400 | 0440), and the
        # image's user runs in that group: the operator reads the key, nobody else in the pod's user
        # namespace does.
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["fsGroup"] == security["runAsGroup"] == group
        env = container_env(deployment)
        assert env["CLAWHOST_CHANNEL_SSH_KEY_FILE"] == mount["mountPath"] + "/ssh-privatekey"
        assert env["CLAWHOST_CHANNEL_PORT"] == "22"
        assert "CLAWHOST_CHANNEL_SOURCE_RANGES" not in env  # the operator falls back to sshSourceRanges
        config = config_of(env, tmp_path / deployment["metadata"]["name"])
        assert (config.channel_port, config.channel_concurrency) == (22, 64)


def config_of(env: dict[str, str], root: Path) -> Any:
    """The operator's configuration from the rendered environment, the key file where the kubelet puts
    it; the public key derived from that one file must be the key's own."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment="clawhost-operator")
    target = Path(str(root) + env["CLAWHOST_CHANNEL_SSH_KEY_FILE"])
    target.parent.mkdir(parents=True)
    key.write_private_key(str(target))
    target.chmod(0o400)
    settings = {"HCLOUD_TOKEN": "h", "CLOUDFLARE_API_TOKEN": "c", "CLAWHOST_MANAGED_ZONES": "example.com"}
    channel = {name: value for name, value in env.items() if name in CHANNEL_VARS}
    config = load_config({**settings, **channel, "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(target)})
    assert channel_public_key(str(config.channel_ssh_key_file)) == (
        key.export_public_key("openssh").decode().strip()
    )
    return config


def test_full_values_set_port_ranges_and_key_name(tmp_path: Path) -> None:
    (deployment,) = of_kind(
        render(values=(FULL_VALUES,), sets=["channel.sshKeySecretKey=id_ed25519"]), "Deployment"
    )
    (mount,), (volume,) = channel_parts(deployment)
    assert volume["secret"]["secretName"] == "openclaw-operator-channel"
    assert volume["secret"]["items"] == [{"key": "id_ed25519", "path": "id_ed25519"}]
    env = container_env(deployment)
    assert env["CLAWHOST_CHANNEL_SSH_KEY_FILE"] == mount["mountPath"] + "/id_ed25519"
    config = config_of(env, tmp_path)
    assert (config.channel_port, config.channel_source_ranges) == (2222, ("198.51.100.0/28",))
    assert config.channel_concurrency == 48


BAD_CHANNEL_VALUES = {
    "secret name not a DNS name": "channel.sshKeySecret=Operator_Channel",
    "range without a prefix length": "channel.sourceRanges={198.51.100.7}",
    "port out of range": "channel.port=0",
    "no channel session at all": "channel.concurrency=0",
    "empty key name": "channel.sshKeySecretKey=",
    "unknown channel key": "channel.keyFile=/root/.ssh/id_ed25519",
}


@pytest.mark.parametrize("assignment", BAD_CHANNEL_VALUES.values(), ids=BAD_CHANNEL_VALUES.keys())
def test_schema_rejects_bad_channel_values(assignment: str) -> None:
    result = helm(*template_args(sets=[assignment]), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr

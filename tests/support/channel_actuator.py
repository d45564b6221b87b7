"""An Actuator for steps that only use the channel (and the backup store): the Hetzner, Cloudflare and
observer parts stay empty, since such a step touches none of them; `kube` is whatever answers the Secret
reads the step makes. Its channel talks to a tests/channel ChannelServer (root login, its own port)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openclaw_operator.actuator import Actuator
from openclaw_operator.config import load_config
from openclaw_operator.providers.channel import ChannelClient
from openclaw_operator.reconcile.model import Note
from tests.channel.server import ChannelServer


def channel_actuator(server: ChannelServer, key_file: Path, kube: Any, notes: list[Note]) -> Actuator:
    config = load_config(
        {
            "HCLOUD_TOKEN": "h",
            "CLOUDFLARE_API_TOKEN": "c",
            "CLAWHOST_MANAGED_ZONES": "example.com",
            "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(key_file),
        }
    )
    actuator = Actuator(
        config,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        lambda: kube,
        lambda _, note: notes.append(note),
    )
    actuator.channel = ChannelClient(str(key_file), port=server.ports["ssh"], user="root", timeout=600)
    return actuator

"""The Final backup in the finalizer, against the Hetzner and Cloudflare simulators in process: the server is
not deleted in the pass that decides on a Final backup; a Final backup that cannot finish within
CLAWHOST_FINAL_BACKUP_TIMEOUT_SECONDS is given up with a Warning Event and the deletion goes on; and
`clawhost.dev/skip-final-backup: "true"` deletes at once; a PowerOff-suspended instance (no gateway to back
up) is deleted at once too, its newest backup named in one NoFinalBackup Event and left in the bucket for
the sweep's grace period (docs/backups.md, "Terminate"). (The upload itself, through the real agent into
the real S3 server, is test_backup_actuator.py's.)"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import asyncssh
from pydantic import SecretStr

from openclaw_operator import api, metrics
from openclaw_operator.actuator import Actuator
from openclaw_operator.config import Config
from openclaw_operator.finalizer import Finalizer
from openclaw_operator.passes import InstanceBook
from openclaw_operator.providers.app import AppHealth
from openclaw_operator.providers.channel import ChannelClient
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import Note
from tests.backup.support import fetch, put
from tests.operator.integration import test_provider_adapters as adapters
from tests.operator.integration.test_provider_adapters import C_TOKEN, H_TOKEN, Rig
from tests.support.s3 import S3Server

rig = adapters.rig  # both simulators in process, the providers and an observer

UID = "f1a10000-0000-0000-0000-000000000001"
CONFIGURED = {"appliedConfigHash": "sha256:applied", "openclawVersion": "2026.9.6"}


def deleting(
    annotations: dict[str, str] | None = None, status: dict[str, Any] | None = None
) -> api.OpenClawInstance:
    return api.OpenClawInstance.from_body(
        {
            "metadata": {
                "name": "alpha",
                "namespace": "team",
                "uid": UID,
                "annotations": annotations or {},
                "deletionTimestamp": "2026-12-04T01:00:00Z",
            },
            "spec": {"hostname": "alpha.example.com", "gatewayTokenSecretRef": {"name": "t"}},
            "status": {**CONFIGURED, **(status or {})},
        }
    )


def finalizer(rig: Rig, s3: S3Server, notes: list[Note], give_up_after: float) -> Finalizer:
    config = Config(
        hcloud_token=SecretStr(H_TOKEN),
        cloudflare_api_token=SecretStr(C_TOKEN),
        managed_zones=("example.com",),
        final_backup_timeout_seconds=give_up_after,
        action_poll_seconds=0.05,
    )

    def no_kube() -> Any:
        raise AssertionError("deleting reads no Secret")

    post = lambda _, note: notes.append(note)  # noqa: E731
    actuator = Actuator(config, rig.observer, rig.hetzner, rig.cloudflare, no_kube, post, bucket=s3.store())
    # Present (a real key: the client reads it at once); the passes below never call it.
    key = Path(tempfile.mkdtemp(prefix="final-backup-")) / "operator_ed25519"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
    actuator.channel = ChannelClient(str(key))
    health = AppHealth(config.app_health_url, 60, 1)
    return Finalizer(config, rig.observer, actuator, health, InstanceBook(), metrics.InstanceGauges(), post)


async def running_server(rig: Rig) -> int:
    labels = naming.owner_labels(deleting())
    server, _ = await rig.hetzner.create_server(
        name="alpha-f1a10000", server_type="cx23", image="ubuntu-24.04", location="fsn1", labels=labels,
        user_data="#x",
    )  # fmt: skip
    for _ in range(200):
        seen = await rig.hetzner.get_server(server.id)
        if seen is not None and seen.status == "running":
            break
        await asyncio.sleep(0.05)
    await rig.observer.refresh()
    return server.id


async def until_done(final: Finalizer, instance: api.OpenClawInstance) -> list[api.InstanceStatus]:
    seen = []
    for _ in range(100):
        result = await final.finalize(instance)
        seen.append(result.status)
        if result.done:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"not deleted: {seen[-1].message}")


async def test_a_final_backup_is_decided_before_the_server_goes_and_given_up_after_the_timeout(
    rig: Rig, s3_server: S3Server
) -> None:
    notes: list[Note] = []
    server_id = await running_server(rig)
    final = finalizer(rig, s3_server, notes, give_up_after=0.0)
    first = await final.finalize(deleting())
    assert not first.done
    assert first.status.backup_in_progress is not None
    assert first.status.backup_in_progress.kind == api.BackupKind.FINAL
    assert [s.id for s in await rig.observer.servers_owned_by(UID)] == [server_id]  # not deleted yet
    await until_done(final, deleting())
    assert await rig.observer.servers_owned_by(UID) == []
    abandoned = [n for n in notes if n.reason == "FinalBackupAbandoned"]
    assert len(abandoned) == 1 and abandoned[0].type == "Warning"
    assert "deleting the server without it" in abandoned[0].message


async def test_skip_final_backup_deletes_at_once(rig: Rig, s3_server: S3Server) -> None:
    notes: list[Note] = []
    await running_server(rig)
    final = finalizer(rig, s3_server, notes, give_up_after=600)
    statuses = await until_done(final, deleting({api.SKIP_FINAL_BACKUP: "true"}))
    assert all(s.backup_in_progress is None for s in statuses)
    assert await rig.observer.servers_owned_by(UID) == []
    assert not [n for n in notes if "FinalBackup" in n.reason]


async def test_a_suspended_instance_is_deleted_at_once_and_its_newest_backup_stays(
    rig: Rig, s3_server: S3Server
) -> None:
    notes: list[Note] = []
    server_id = await running_server(rig)
    await rig.hetzner.server_action("poweroff", server_id)  # PowerOff-suspended
    for _ in range(200):
        seen = await rig.hetzner.get_server(server_id)
        if seen is not None and seen.status == "off":
            break
        await asyncio.sleep(0.05)
    await rig.observer.refresh()
    store = s3_server.store()
    key = store.key_for("team", "alpha", UID, "20261203T000000Z")
    put(store.presign_put(key), b"the newest backup")
    newest = {"id": "20261203T000000Z", "takenAt": "2026-12-03T00:00:00Z", "sizeBytes": 17,
              "sha256": "a" * 64, "kind": "Scheduled", "key": key}  # fmt: skip
    final = finalizer(rig, s3_server, notes, give_up_after=600)
    statuses = await until_done(final, deleting(status={"phase": "Suspended", "backups": [newest]}))
    assert all(s.backup_in_progress is None for s in statuses)  # no Final backup was attempted
    assert await rig.observer.servers_owned_by(UID) == []
    (said,) = [n for n in notes if n.reason == "NoFinalBackup"]  # once, though the deletion took passes
    assert len(statuses) > 1 and said.type == "Normal"
    assert "20261203T000000Z" in said.message and "grace period" in said.message
    assert fetch(store.presign_get(key)) == b"the newest backup"  # the deletion left the bucket alone

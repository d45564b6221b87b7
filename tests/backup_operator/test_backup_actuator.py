"""The operator's backup steps carried out for real: planned by plan_backup, carried out by the Actuator
through the real channel (sshd, the real agent, the real gateway) into the real S3 server (versitygw).

- an on-demand backup is recorded before the upload, then appears in status.backups with the sha256 the
  store holds (its bytes hashed here), and the checksum written beside it;
- the same step again, as after a pass killed between upload and status write, overwrites the one object;
- a new instance with spec.restoreFrom gets the data (a paired device the gateway reads back), and a
  restore run again (as after a kill before its status write) keeps it;
- no presigned URL reaches an Event, status or the server's logs.

The operator's pass loop around these steps (status writes, Kopf) is covered by decide's tests and the
crash suite; here the parts that move data are real.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from openclaw_operator import api
from openclaw_operator.actuator import Actuator
from openclaw_operator.backups import CHECKSUM_SUFFIX, read_checksum, restore_source
from openclaw_operator.providers.backup_store import BackupStore
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile.backup import BackupInputs, plan_backup
from openclaw_operator.reconcile.model import Note, RestoreBackup, ServerObservation, TakeBackup
from tests.backup.support import fetch, logs, paired, put, start_from_a_fresh_state
from tests.backup_operator.test_bucket_edge import s3_requests
from tests.channel.conftest import Operator
from tests.channel.server import ChannelServer
from tests.support.channel_actuator import channel_actuator
from tests.support.s3 import S3Server

T = TypeVar("T")
PREFIX = "operator"
NAMESPACE, UID = "team", "5e1f0000-0000-0000-0000-00000000a11c"
SERVER = ServerObservation(
    id=1, name="alice-5e1f0000", status="running", server_type="cx23", ipv4="127.0.0.1"
)


class Rig:
    """The actuator, and a store opened per event loop (its HTTP session belongs to the loop that made it)."""

    def __init__(self, actuator: Actuator, s3: S3Server, notes: list[Note]) -> None:
        self.actuator, self.s3, self.notes = actuator, s3, notes
        self.store = s3.store(prefix=PREFIX)  # for presigning and naming only: no request of its own

    def run(self, work: Callable[[BackupStore], Awaitable[T]]) -> T:
        async def go() -> T:
            async with self.s3.store(prefix=PREFIX) as store:
                self.actuator.bucket = store
                return await work(store)

        return asyncio.run(go())

    def plan(self, instance: api.OpenClawInstance, source: Any = None) -> Any:
        return plan_backup(
            BackupInputs(
                instance=instance,
                server=SERVER,
                server_ready=True,
                app_healthy=True,
                channel=True,
                store=True,
                now=api.now(),
                restore_source=source,
            )
        )

    def apply(self, instance: api.OpenClawInstance, step: Any) -> api.InstanceStatus:
        return self.run(lambda _: self.actuator.apply(instance, instance.status, step))


@pytest.fixture(scope="module")
def rig(server: ChannelServer, operator: Operator, operator_key_file: Path, s3_server: S3Server) -> Rig:
    notes: list[Note] = []
    # Backup steps read no Secret: no Kubernetes client.
    actuator = channel_actuator(server, operator_key_file, None, notes)
    return Rig(actuator, s3_server, notes)


def instance(name: str, uid: str, status: dict[str, Any], **spec: Any) -> api.OpenClawInstance:
    return api.OpenClawInstance.from_body(
        {
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "uid": uid,
                "annotations": spec.pop("annotations", {}),
            },
            "spec": {"hostname": f"{name}.example.com", "gatewayTokenSecretRef": {"name": "t"}, **spec},
            "status": status,
        }
    )


def no_url_in(texts: list[str], server: ChannelServer) -> None:
    shown = "\n".join([*texts, logs(server)])
    assert "X-Amz-Signature" not in shown and "X-Amz-Credential" not in shown


def test_on_demand_backup_then_restore_into_a_new_instance(
    rig: Rig, server: ChannelServer, operator: Operator, s3_server: S3Server, tmp_path: Path
) -> None:
    device = tmp_path / "identity.json"
    if not paired(server, device):  # the data: a device the gateway pairs and persists
        operator.call({"op": "approve-devices"})
    assert paired(server, device)
    configured = {"appliedConfigHash": "sha256:applied", "openclawVersion": "2026.9.6"}
    alice = instance("alice", UID, configured, annotations={api.BACKUP_REQUESTED_AT: "whmcs-1"})

    # Pass 1 records the backup's id; nothing is uploaded in the pass that picks it.
    first = rig.plan(alice)
    assert first.steps == () and first.requeue == 0.0
    alice = alice.model_copy(update={"status": first.updates.applied_to(alice.status)})
    recorded = alice.status.backup_in_progress
    assert recorded is not None and recorded.kind == api.BackupKind.ON_DEMAND
    # Pass 2 uploads under that id and lists it once the store shows it.
    (take,) = rig.plan(alice).steps
    assert isinstance(take, TakeBackup) and take.backup_id == recorded.id
    before = s3_requests()
    after = rig.apply(alice, take)
    assert s3_requests() - before == 2  # the operator's own: HEAD, the checksum's PUT (the agent PUTs)
    (entry,) = after.backups
    assert after.backup_in_progress is None and after.last_handled_backup_at == "whmcs-1"
    assert (entry.id, entry.kind, entry.openclaw_version) == (
        recorded.id,
        api.BackupKind.ON_DEMAND,
        "2026.9.6",
    )
    body = fetch(rig.store.presign_get(entry.key))
    assert hashlib.sha256(body).hexdigest() == entry.sha256 and len(body) == entry.size_bytes
    assert rig.run(lambda store: read_checksum(store, entry.key)) == entry.sha256

    # A pass killed after the upload, before its status write: the next one uploads to the same key.
    # Only that pass's entry is ever written, and it describes the object the bucket holds.
    again = rig.apply(alice, take)
    (entry,) = again.backups
    assert entry.id == recorded.id
    assert hashlib.sha256(fetch(rig.store.presign_get(entry.key))).hexdigest() == entry.sha256
    assert rig.run(lambda store: read_checksum(store, entry.key)) == entry.sha256
    prefix = rig.store.instance_prefix(NAMESPACE, "alice", UID)
    keys = sorted(o.key for o in rig.run(lambda store: store.list(prefix)))
    assert keys == [entry.key, entry.key + CHECKSUM_SUFFIX]  # one archive, not two

    # alice is deleted; bob is created from her latest backup on a server that starts from nothing.
    start_from_a_fresh_state(server)
    assert not paired(server, device)
    bob = instance("bob", "b0b00000-0000-0000-0000-000000000000", {}, restoreFrom={"instance": "alice"})
    source = rig.run(lambda store: restore_source(store, bob))
    plan = rig.plan(bob, source)
    (restore,) = plan.steps
    assert isinstance(restore, RestoreBackup) and plan.restoring
    assert (restore.key, restore.sha256) == (entry.key, entry.sha256)  # found by name, checksum beside it
    restored = rig.apply(bob, restore)
    assert restored.restored_from is not None
    assert (restored.restored_from.id, restored.restored_from.sha256) == (entry.id, entry.sha256)
    assert paired(server, device)  # the data written before the backup is there
    # A pass killed after the restore, before its status write: the next one restores again, harmlessly.
    assert rig.apply(bob, restore).restored_from == restored.restored_from
    assert paired(server, device) and server.http("GET", "/readyz")[0] == 200
    done = bob.model_copy(update={"status": restored})
    assert rig.run(lambda store: restore_source(store, done)) is None

    no_url_in(
        [json.dumps([n.__dict__ for n in rig.notes]), after.model_dump_json(), restored.model_dump_json()],
        server,
    )


def test_a_refused_restore_stalls_until_the_spec_changes_and_a_failed_download_is_retried(
    rig: Rig, server: ChannelServer, s3_server: S3Server
) -> None:
    """An archive the agent refuses would be refused again (and some refusals stop and start the
    customer's gateway): Stalled and frozen, naming spec.restoreFrom. A download the store did not
    serve touched nothing and may work in a minute: retried after the slow backoff."""
    body = b"this is not an OpenClaw archive\n" * 100
    key = rig.store.key_for(NAMESPACE, "alice", UID, "20260101T000000Z")
    put(rig.store.presign_put(key), body)
    refused = RestoreBackup(
        server_id=SERVER.id,
        address="127.0.0.1",
        key=key,
        sha256=hashlib.sha256(body).hexdigest(),
        reason="Restoring",
        message="restoring",
    )
    carol = instance("carol", "ca201000-0000-0000-0000-000000000000", {}, restoreFrom={"instance": "alice"})
    starts, pids = server.starts(), server.gateway_pids()
    with pytest.raises(Failure) as stalled:
        rig.apply(carol, refused)
    failure = stalled.value
    assert (failure.kind, failure.reason, failure.frozen) == (FailureKind.STALLED, "RestoreFailed", True)
    assert failure.message.startswith("spec.restoreFrom: OpenClaw refused the archive, nothing was changed")
    assert "request a reconcile" in failure.message
    assert (server.starts(), server.gateway_pids()) == (starts, pids)  # the gateway was never stopped

    missing = replace(refused, key=rig.store.key_for(NAMESPACE, "alice", UID, "20260101T000001Z"))
    with pytest.raises(Failure) as retried:
        rig.apply(carol, missing)
    failure = retried.value
    assert (failure.kind, failure.reason, failure.frozen) == (
        FailureKind.RETRYING,
        "RestoreDownloadFailed",
        False,
    )
    assert failure.slow and failure.about == api.ConditionType.BACKED_UP.value
    assert "the store answered HTTP 404" in failure.message
    assert (server.starts(), server.gateway_pids()) == (starts, pids)
    no_url_in([failure.message, json.dumps([n.__dict__ for n in rig.notes])], server)

"""Restoring onto another server (spec.restoreFrom: a new instance from another one's backup) and onto an
older release, with the real gateway, agent, sshd and S3 server.

Another server keeps its state somewhere else in these tests (each server lives under its own scratch
root), so the agent has to find the state in the archive through its manifest, as OpenClaw documents.
A release older than the archive's would refuse the migrated state at start (exit 78): the agent refuses
before it stops anything. An archive that lies about its release gets that far; the gateway then does not
come up on it, and the agent puts the previous state back.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from openclaw_operator.providers.errors import Failure
from tests.backup.support import (
    NAME,
    NAMESPACE,
    UID,
    fetch,
    gateway,
    paired,
    put,
    start_from_a_fresh_state,
    store_for,
)
from tests.channel.conftest import Operator, start_server
from tests.channel.server import ChannelServer
from tests.support.s3 import S3Server


@pytest.fixture(scope="module")
def archive(
    server: ChannelServer, operator: Operator, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str, Path]:
    """A backup of the fixture's server with a paired device: (key, sha256, the device's identity)."""
    device = tmp_path_factory.mktemp("device") / "identity.json"
    assert not paired(server, device)
    operator.call({"op": "approve-devices"})
    assert paired(server, device)
    key = store_for(s3_server).key_for(NAMESPACE, NAME, UID, "b-elsewhere")
    put_url = store_for(s3_server).presign_put(key)
    answer = operator.call({"op": "backup", "id": "b-elsewhere", "putUrl": put_url}, (put_url,)).answer
    return key, str(answer["sha256"]), device


def test_another_servers_backup_restores_onto_a_new_server(
    archive: tuple[str, str, Path],
    server: ChannelServer,
    s3_server: S3Server,
    realapp: Path,
    operator_key_file: Path,
    tmp_path: Path,
) -> None:
    key, sha256, device = archive
    gateway(server, "stop")  # one gateway at a time on this small machine
    other = start_server(tmp_path / "new-server", realapp, operator_key_file, "2026.9.6")
    try:
        assert other.root != server.root
        assert not paired(other, device)
        get_url = store_for(s3_server).presign_get(key)
        answered = Operator(other, operator_key_file).call(
            {"op": "restore", "getUrl": get_url, "sha256": sha256}, (get_url,)
        )
        assert answered.answer["ok"] is True
        assert paired(other, device)  # the data of the first server, on the second
    finally:
        other.stop()
        gateway(server, "start")
        server.wait_ready()


def test_a_backup_from_a_newer_release_is_refused_before_anything_stops(
    archive: tuple[str, str, Path], server: ChannelServer, operator: Operator, s3_server: S3Server
) -> None:
    key, sha256, _ = archive
    gateway(server, "stop")
    server.switch_version("2026.9.5")
    start_from_a_fresh_state(server)  # 9.5 cannot start on 9.6's state; a fresh one it can
    assert operator.call({"op": "state"}).answer["openclawVersion"] == "2026.9.5"
    starts, pids = server.starts(), server.gateway_pids()
    get_url = store_for(s3_server).presign_get(key)
    with pytest.raises(Failure) as refused:
        operator.call({"op": "restore", "getUrl": get_url, "sha256": sha256}, (get_url,))
    failure = refused.value
    assert failure.reason == "RestoreFailed"
    assert "made by OpenClaw 2026.9.6, newer than the installed 2026.9.5" in failure.message
    assert "nothing was changed" in failure.message
    assert (server.starts(), server.gateway_pids()) == (starts, pids)
    assert server.http("GET", "/readyz")[0] == 200


def claiming_release(archive: bytes, version: str) -> bytes:
    """The same archive, its manifest rewritten to claim another release (OpenClaw's verify does not
    authenticate an archive; its docs say so)."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as source,
        tarfile.open(fileobj=out, mode="w:gz") as target,
    ):
        for member in source.getmembers():
            content = source.extractfile(member) if member.isfile() else None
            if content is not None and member.name.count("/") == 1 and member.name.endswith("/manifest.json"):
                manifest = {**json.loads(content.read()), "runtimeVersion": version}
                data = json.dumps(manifest, indent=2).encode()
                member.size, content = len(data), io.BytesIO(data)
            target.addfile(member, content)
    return out.getvalue()


def test_a_state_the_gateway_cannot_start_on_is_rolled_back(
    archive: tuple[str, str, Path],
    server: ChannelServer,
    operator: Operator,
    s3_server: S3Server,
    tmp_path: Path,
) -> None:
    key, _, _ = archive
    assert operator.call({"op": "state"}).answer["openclawVersion"] == "2026.9.5"  # the test above left it
    device = tmp_path / "identity.json"  # data of the live 9.5 state, which must survive
    assert not paired(server, device)
    operator.call({"op": "approve-devices"})
    assert paired(server, device)
    store = store_for(s3_server)
    lying = claiming_release(fetch(store.presign_get(key)), "2026.9.5")
    lying_key = store.key_for(NAMESPACE, NAME, UID, "b-lying")
    put(store.presign_put(lying_key), lying)
    get_url = store.presign_get(lying_key)
    request = {"op": "restore", "getUrl": get_url, "sha256": hashlib.sha256(lying).hexdigest()}
    with pytest.raises(Failure) as refused:
        operator.call(request, (get_url,))
    failure = refused.value
    assert failure.reason == "RestoreFailed"
    assert "the previous state is back" in failure.message
    assert "newer" in failure.message.lower()  # 9.5's own reason, from its log
    assert server.http("GET", "/readyz")[0] == 200
    assert paired(server, device)
    assert not server.path("/home/openclaw/.openclaw.before-restore").exists()

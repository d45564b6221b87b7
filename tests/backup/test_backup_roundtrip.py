"""Issue 15, acceptance item 2: data written before a backup is there after a restore, with the real
gateway, the real agent behind real sshd, and a real S3 server (versitygw).

The data is a paired device: the gateway itself persists the pairing in its SQLite state and reads it
back when the same device identity connects again (hello-ok instead of PAIRING_REQUIRED). "Deleted" is
what a replacement server starts from: the bootstrap's config and no data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator.bootstrap.app_files import GATEWAY_CONFIG_FILE
from openclaw_operator.providers.errors import Failure
from tests.backup.support import (
    NAME,
    NAMESPACE,
    UID,
    assert_no_url_leaks,
    fetch,
    gateway,
    head,
    logs,
    paired,
    put,
    run,
    start_from_a_fresh_state,
    store_for,
)
from tests.channel.conftest import OLD_TOKEN, Operator
from tests.channel.server import ChannelServer
from tests.support.s3 import S3Server


@dataclass(frozen=True)
class Backup:
    key: str
    answer: dict[str, Any]
    device: Path  # the identity paired before the backup


@pytest.fixture(scope="module")
def backed_up(
    server: ChannelServer, operator: Operator, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Backup:
    device = tmp_path_factory.mktemp("device") / "identity.json"
    assert not paired(server, device)
    assert len(operator.call({"op": "approve-devices"}).answer["approved"]) == 1
    assert paired(server, device)
    store = store_for(s3_server)
    key = store.key_for(NAMESPACE, NAME, UID, "b-roundtrip")
    put_url = store.presign_put(key)
    answered = operator.call({"op": "backup", "id": "b-roundtrip", "putUrl": put_url}, (put_url,))
    assert_no_url_leaks(put_url, json.dumps(answered.answer), logs(server))
    return Backup(key, answered.answer, device)


def test_a_backup_lands_in_the_store_with_the_answered_checksum_and_size(
    backed_up: Backup, server: ChannelServer, s3_server: S3Server
) -> None:
    answer = backed_up.answer
    assert set(answer) == {"ok", "id", "sha256", "sizeBytes", "openclawVersion", "createdAt"}
    assert (answer["ok"], answer["id"], answer["openclawVersion"]) == (True, "b-roundtrip", "2026.9.6")
    stored = run(head(s3_server, backed_up.key))
    assert stored is not None and stored.size_bytes == answer["sizeBytes"] > 0
    body = fetch(store_for(s3_server).presign_get(backed_up.key))
    assert hashlib.sha256(body).hexdigest() == answer["sha256"]
    assert body[:2] == b"\x1f\x8b"  # OpenClaw's .tar.gz
    assert not list(server.path("/var/backups/openclaw/offsite").iterdir())  # the local copy is gone


def test_a_restore_into_a_fresh_state_brings_the_data_back(
    backed_up: Backup, server: ChannelServer, operator: Operator, s3_server: S3Server
) -> None:
    start_from_a_fresh_state(server)
    assert not paired(server, backed_up.device)  # the pairing is gone with the state
    config_before = server.path(GATEWAY_CONFIG_FILE).read_text()
    get_url = store_for(s3_server).presign_get(backed_up.key)
    request = {"op": "restore", "getUrl": get_url, "sha256": backed_up.answer["sha256"]}
    answered = operator.call(request, (get_url,))
    assert answered.answer == {
        "ok": True,
        "sha256": backed_up.answer["sha256"],
        "openclawVersion": "2026.9.6",
    }
    assert_no_url_leaks(get_url, json.dumps(answered.answer), logs(server))
    assert server.http("GET", "/readyz")[0] == 200
    assert paired(server, backed_up.device)  # the gateway reads its restored pairing back
    assert server.token_accepted(OLD_TOKEN)  # the token is this server's, not the archive's
    assert server.path(GATEWAY_CONFIG_FILE).read_text() == config_before  # the operator's config stays
    assert not server.path("/home/openclaw/.openclaw.before-restore").exists()
    assert not list(server.path("/var/backups/openclaw/incoming").iterdir())


@pytest.mark.parametrize("tampering", ["flipped-bytes", "not-an-archive"])
def test_a_tampered_or_invalid_archive_is_refused_and_the_live_state_is_untouched(
    tampering: str, backed_up: Backup, server: ChannelServer, operator: Operator, s3_server: S3Server
) -> None:
    store = store_for(s3_server)
    original = fetch(store.presign_get(backed_up.key))
    if tampering == "flipped-bytes":  # the recorded checksum no longer matches
        body, expected = original[:-64] + bytes(b ^ 0xFF for b in original[-64:]), backed_up.answer["sha256"]
    else:  # the checksum matches, OpenClaw's own verification does not
        body = b"this is not an OpenClaw archive\n" * 100
        expected = hashlib.sha256(body).hexdigest()
    key = store.key_for(NAMESPACE, NAME, UID, f"b-{tampering}")
    put(store.presign_put(key), body)
    starts, pids = server.starts(), server.gateway_pids()
    get_url = store.presign_get(key)
    with pytest.raises(Failure) as refused:
        operator.call({"op": "restore", "getUrl": get_url, "sha256": expected}, (get_url,))
    failure = refused.value
    assert failure.reason == "RestoreFailed"
    assert "nothing was changed" in failure.message
    if tampering == "flipped-bytes":
        assert "sha256" in failure.message
    else:
        assert "not a valid OpenClaw backup" in failure.message  # OpenClaw's own words
    assert_no_url_leaks(get_url, failure.message, logs(server))
    assert (server.starts(), server.gateway_pids()) == (starts, pids)  # never stopped
    assert paired(server, backed_up.device)


def test_a_failed_upload_is_not_reported_ok_and_leaves_nothing_behind(
    server: ChannelServer, operator: Operator, s3_server: S3Server
) -> None:
    store = store_for(s3_server)
    key = store.key_for(NAMESPACE, NAME, UID, "b-refused")
    wrong = s3_server.store(secret_key="not-the-secret-0123456789").presign_put(key)
    with pytest.raises(Failure) as refused:
        operator.call({"op": "backup", "id": "b-refused", "putUrl": wrong}, (wrong,))
    failure = refused.value
    assert failure.reason == "BackupUploadFailed"
    assert "HTTP 403" in failure.message and "SignatureDoesNotMatch" in failure.message
    assert_no_url_leaks(wrong, failure.message, logs(server))
    assert run(head(s3_server, key)) is None
    assert not list(server.path("/var/backups/openclaw/offsite").iterdir())


def test_a_backup_openclaw_cannot_make_is_refused_with_its_message(
    server: ChannelServer, operator: Operator, s3_server: S3Server
) -> None:
    config = server.path(GATEWAY_CONFIG_FILE)
    good = config.read_text()
    gateway(server, "stop")  # not a config the running gateway should see
    config.write_text(json.dumps({**json.loads(good), "bogusKey": 1}))
    store = store_for(s3_server)
    key = store.key_for(NAMESPACE, NAME, UID, "b-broken")
    put_url = store.presign_put(key)
    try:
        with pytest.raises(Failure) as refused:
            operator.call({"op": "backup", "id": "b-broken", "putUrl": put_url}, (put_url,))
    finally:
        config.write_text(good)
        gateway(server, "start")
        server.wait_ready()
    failure = refused.value
    assert failure.reason == "BackupFailed"
    assert 'Unrecognized key: "bogusKey"' in failure.message  # OpenClaw's own reason
    assert run(head(s3_server, key)) is None

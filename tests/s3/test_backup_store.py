"""The backup store adapter against a real S3 server (versitygw on loopback): every signature it makes is
checked by the server, uploads go through presigned URLs the way the agent sends them (urllib)."""

from __future__ import annotations

import asyncio
import hashlib
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openclaw_operator import metrics
from openclaw_operator.providers.backup_store import SHA256_HEADER, BackupStore, sigv4_presign
from openclaw_operator.providers.errors import Failure, FailureKind
from tests.support.s3 import S3Server


def put(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, method="PUT", headers=headers or {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def requests_sent(operation: str) -> float:
    total = 0.0
    for family in metrics.PROVIDER_REQUESTS.collect():
        for sample in family.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_total")
                and labels.get("provider") == "s3"
                and labels.get("operation") == operation
            ):
                total += sample.value
    return total


@pytest.fixture
async def store(s3_server: S3Server) -> AsyncIterator[BackupStore]:
    opened = s3_server.store(prefix="tenant-a")
    yield opened
    await opened.close()


async def test_an_object_put_through_a_presigned_url_is_seen_by_head_and_read_back(
    store: BackupStore,
) -> None:
    key = store.key_for("team", "alice", "uid-1", "b-put")
    assert key == "tenant-a/instances/team/alice/uid-1/b-put.tar.gz"
    body = b"archive bytes " * 1000
    assert put(store.presign_put(key), body) == 200
    seen = await store.head(key)
    assert seen is not None
    assert (seen.key, seen.size_bytes, seen.sha256) == (key, len(body), None)
    assert abs(seen.last_modified - datetime.now(UTC)) < timedelta(minutes=1)
    assert get(store.presign_get(key)) == (200, body)


async def test_a_presign_with_the_checksum_binds_the_metadata_header(store: BackupStore) -> None:
    key = store.key_for("team", "alice", "uid-1", "b-sha")
    body = b"checked archive"
    digest = hashlib.sha256(body).hexdigest()
    url = store.presign_put(key, sha256=digest)
    # Another value than the one signed is refused: nobody can record a different checksum with this URL.
    assert put(url, body, {SHA256_HEADER: "0" * 64}) == 403
    assert await store.head(key) is None
    assert put(url, body, {SHA256_HEADER: digest}) == 200
    seen = await store.head(key)
    assert seen is not None and seen.sha256 == digest


async def test_list_follows_continuation_tokens_and_stays_inside_the_prefix(store: BackupStore) -> None:
    store.page_size = 2
    mine = [store.key_for("team", "bob", "uid-2", f"b-{n}") for n in range(5)]
    other = store.key_for("team", "bob", "uid-3", "b-0")  # a recreated namesake: another uid
    for key in [*mine, other]:
        assert put(store.presign_put(key), key.encode()) == 200
    pages_before = requests_sent("GET /{bucket}")
    listed = await store.list(store.instance_prefix("team", "bob", "uid-2"))
    assert sorted(item.key for item in listed) == sorted(mine)
    assert {item.size_bytes for item in listed} == {len(mine[0])}
    assert requests_sent("GET /{bucket}") - pages_before == 3  # 2 + 2 + 1
    assert await store.list(store.instance_prefix("team", "nobody", "uid-9")) == []


async def test_delete_is_idempotent(store: BackupStore) -> None:
    key = store.key_for("team", "carol", "uid-4", "b-del")
    assert put(store.presign_put(key), b"x") == 200
    await store.delete(key)
    assert await store.head(key) is None
    await store.delete(key)  # already gone: still fine


async def test_a_wrong_secret_is_refused_with_a_clear_secret_free_failure(s3_server: S3Server) -> None:
    wrong_secret = "not-the-secret-" + "x" * 20
    async with s3_server.store(secret_key=wrong_secret) as store:
        for attempt in (store.list("instances/"), store.head("instances/a.tar.gz"), store.delete("k")):
            with pytest.raises(Failure) as refused:
                await attempt
            failure = refused.value
            assert (failure.kind, failure.reason) == (FailureKind.STALLED, "BackupStoreRejected")
            assert failure.code in ("SignatureDoesNotMatch", "AccessDenied")
            for secret in (wrong_secret, s3_server.secret_key):
                assert secret not in failure.message and secret not in repr(failure)
            assert "Signature" not in failure.message.replace("SignatureDoesNotMatch", "")
        # And a presigned URL from the wrong secret uploads nothing.
        key = "instances/t/a/u/b.tar.gz"
        assert put(store.presign_put(key), b"x") == 403
    async with s3_server.store() as rightful:
        assert await rightful.head(key) is None


async def test_a_missing_bucket_stalls_with_s3s_message(s3_server: S3Server) -> None:
    async with s3_server.store(bucket="no-such-bucket") as store:
        with pytest.raises(Failure) as refused:
            await store.list("instances/")
        assert (refused.value.kind, refused.value.code) == (FailureKind.STALLED, "NoSuchBucket")
        assert "no-such-bucket" in refused.value.message
        assert "The specified bucket does not exist" in refused.value.message  # S3's own words


async def test_an_expired_presigned_url_is_refused(store: BackupStore) -> None:
    key = store.key_for("team", "dave", "uid-5", "b-exp")
    assert put(store.presign_put(key), b"old") == 200
    url = f"{store.endpoint}/{store.bucket}/{key}"
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    expired_get = sigv4_presign(store.creds, "GET", url, 60, when=an_hour_ago)
    expired_put = sigv4_presign(store.creds, "PUT", url, 60, when=an_hour_ago)
    status, body = get(expired_get)
    assert status == 403 and b"old" not in body
    assert put(expired_put, b"overwritten") == 403
    assert get(store.presign_get(key)) == (200, b"old")
    # A URL that expires while it waits is refused too (the server's clock, not ours).
    short = store.presign_get(key, expires_seconds=1)
    await asyncio.sleep(2.1)
    assert get(short)[0] == 403


async def test_an_unreachable_store_is_retried(s3_server: S3Server) -> None:
    async with s3_server.store(endpoint="http://127.0.0.1:9") as store:  # discard port: nothing listens
        with pytest.raises(Failure) as failed:
            await store.head("instances/a.tar.gz")
        assert (failed.value.kind, failed.value.reason) == (FailureKind.RETRYING, "BackupStoreUnreachable")


def test_from_env_reads_the_credentials_from_secret_files(tmp_path: Path) -> None:
    assert BackupStore.from_env({}) is None
    (tmp_path / "access").write_text("AKIDEXAMPLE\n")
    (tmp_path / "secret").write_text("s3cr3t-value\n")
    env = {
        "CLAWHOST_BACKUP_S3_ENDPOINT": "https://s3.example.com/",
        "CLAWHOST_BACKUP_S3_BUCKET": "backups",
        "CLAWHOST_BACKUP_S3_REGION": "eu-central",
        "CLAWHOST_BACKUP_S3_PREFIX": "/prod/",
        "CLAWHOST_BACKUP_S3_ACCESS_KEY_FILE": str(tmp_path / "access"),
        "CLAWHOST_BACKUP_S3_SECRET_KEY_FILE": str(tmp_path / "secret"),
    }
    store = BackupStore.from_env(env)
    assert store is not None
    assert (store.endpoint, store.bucket, store.creds.region) == (
        "https://s3.example.com",
        "backups",
        "eu-central",
    )
    assert (store.creds.access_key, store.creds.secret_key) == ("AKIDEXAMPLE", "s3cr3t-value")
    assert store.key_for("ns", "n", "u", "b") == "prod/instances/ns/n/u/b.tar.gz"
    assert "s3cr3t-value" not in repr(store.creds)
    with pytest.raises(ValueError, match="CLAWHOST_BACKUP_S3_SECRET_KEY_FILE"):
        BackupStore.from_env({**env, "CLAWHOST_BACKUP_S3_SECRET_KEY_FILE": str(tmp_path / "missing")})

"""The operator's bucket edge against a real S3 server (versitygw): the checksum written beside an archive,
the restore source of a deleted instance found across uids, and the sweep deleting only the backups of
instances deleted longer ago than the grace (archives and checksums alike)."""

from __future__ import annotations

import hashlib
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

import pytest

from openclaw_operator import api, metrics
from openclaw_operator.backups import (
    CHECKSUM_SUFFIX,
    BucketSweep,
    read_checksum,
    restore_source,
    write_checksum,
)
from openclaw_operator.kube import KubeClient
from openclaw_operator.providers.backup_store import BackupStore
from tests.support.s3 import S3Server


def upload(store: BackupStore, key: str, body: bytes) -> None:
    """What the agent does with its presigned URL (tests/backup covers the agent itself)."""
    request = urllib.request.Request(store.presign_put(key), data=body, method="PUT")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        assert response.status == 200


@pytest.fixture
async def store(s3_server: S3Server, request: pytest.FixtureRequest) -> AsyncIterator[BackupStore]:
    opened = s3_server.store(prefix=f"t-{hashlib.sha256(request.node.name.encode()).hexdigest()[:8]}")
    yield opened
    await opened.close()


def restoring(name: str, backup: str = "latest") -> api.OpenClawInstance:
    return api.OpenClawInstance.from_body(
        {
            "metadata": {"name": "new", "namespace": "team", "uid": "new-uid"},
            "spec": {
                "hostname": "new.example.com",
                "gatewayTokenSecretRef": {"name": "t"},
                "restoreFrom": {"instance": name, "backup": backup},
            },
        }
    )


async def test_the_checksum_beside_an_archive_round_trips(store: BackupStore) -> None:
    key = store.key_for("team", "alice", "u1", "20261204T000000Z")
    digest = hashlib.sha256(b"archive").hexdigest()
    assert await read_checksum(store, key) is None
    await write_checksum(store, key, digest)
    assert await read_checksum(store, key) == digest
    assert (await store.head(key + CHECKSUM_SUFFIX)) is not None


async def test_a_deleted_instances_newest_backup_is_found_with_its_checksum(store: BackupStore) -> None:
    older_uid = store.key_for("team", "old", "uid-a", "20261201T000000Z")
    newest = store.key_for("team", "old", "uid-b", "20261203T000000Z")  # a namesake, deleted later
    other_name = store.key_for("team", "older", "uid-c", "20261209T000000Z")  # "older" is not "old"
    for key in (older_uid, newest, other_name):
        upload(store, key, key.encode())
        await write_checksum(store, key, hashlib.sha256(key.encode()).hexdigest())
    before = s3_requests()
    (found,) = await restore_source(store, restoring("old")) or ()
    assert s3_requests() - before == 3  # LIST, HEAD, the checksum's GET: what a restore pass costs
    assert (found.key, found.sha256) == (newest, hashlib.sha256(newest.encode()).hexdigest())
    (by_id,) = await restore_source(store, restoring("old", "20261201T000000Z")) or ()
    assert by_id.key == older_uid
    listed = await restore_source(store, restoring("old", "20261130T000000Z"))
    assert listed is not None and {o.key for o in listed} >= {
        older_uid,
        newest,
    }  # no match: the planner stalls
    applied = restoring("old").model_copy(
        update={"status": api.InstanceStatus(restored_from=api.RestoredFrom(instance="old", backup="latest"))}
    )
    assert await restore_source(store, applied) is None  # applied once: no more listing


def s3_requests() -> float:
    return metrics.requests_sent("s3")


class LiveUids:
    def __init__(self, *uids: str) -> None:
        self.uids = frozenset(uids)

    async def instance_uids(self, namespaces: tuple[str, ...]) -> frozenset[str]:
        return self.uids


async def test_the_sweep_deletes_deleted_instances_backups_past_the_grace_only(store: BackupStore) -> None:
    live = store.key_for("team", "alive", "uid-live", "20261101T000000Z")
    gone = store.key_for("team", "gone", "uid-gone", "20261101T000000Z")
    elsewhere = store.key_for("other-team", "gone", "uid-x", "20261101T000000Z")  # not watched
    for key in (live, gone, elsewhere):
        upload(store, key, b"x")
        await write_checksum(store, key, hashlib.sha256(b"x").hexdigest())
    kube = LiveUids("uid-live")

    def sweep(after: timedelta) -> BucketSweep:
        return BucketSweep(
            store,
            lambda: cast(KubeClient, kube),
            ("team",),
            timedelta(days=30),
            3600,
            lambda: api.now() + after,
        )

    within = await sweep(timedelta(days=29)).sweep()
    assert within is not None and within.doomed == () and within.kept_uids == {"uid-gone"}
    past = await sweep(timedelta(days=31)).sweep()
    assert past is not None and {o.key for o in past.doomed} == {gone, gone + CHECKSUM_SUFFIX}
    left = {o.key for o in await store.list(store.prefix)}
    assert left == {live, live + CHECKSUM_SUFFIX, elsewhere, elsewhere + CHECKSUM_SUFFIX}

"""The operator's side of the backup bucket: what it needs of the store, and the bucket sweep.

The store itself (providers/backup_store.py: presigned URLs, HEAD, LIST, DELETE against any S3) is
described here by the few methods the operator calls, so the planners' observations (`BackupObject`)
never hold a store type.

An archive's sha256 is known only once the agent has made it, after the operator presigned its PUT, so the
object cannot carry it as signed metadata; the operator writes it beside the archive, as a 64-byte object
`<key>.sha256`, once the upload is verified. A restore of a deleted instance's backup (whose status is
gone) reads it from there; the agent checks the archive against it before it touches anything.

The sweep is the ownership rule for bucket objects. Every object is `<prefix>instances/<ns>/<name>/
<uid>/<id>.tar.gz`; the objects of a uid that is no live instance are its backups after deletion (the
Final one among them), kept for CLAWHOST_BACKUP_FINAL_RETENTION_DAYS after the newest of them was
written so that a mistaken cancel can be restored with spec.restoreFrom, then deleted. It costs one
LIST of the watched namespaces' prefixes per sweep interval, whatever the number of instances. Objects
of namespaces this operator does not watch, and keys of any other shape, are never touched.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

import aiohttp

from openclaw_operator import api, metrics
from openclaw_operator.kube import KubeClient, KubeUnavailable
from openclaw_operator.providers.errors import Failure, FailureKind
from openclaw_operator.reconcile.backup import restore_candidate, restore_wanted
from openclaw_operator.reconcile.bucket_sweep import SweepVerdict, plan_bucket_sweep
from openclaw_operator.reconcile.model import BackupObject

log = logging.getLogger(__name__)


class StoredObject(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def last_modified(self) -> datetime: ...
    @property
    def sha256(self) -> str | None: ...


class Bucket(Protocol):
    """What the operator calls of providers/backup_store.BackupStore."""

    prefix: str

    def key_for(self, namespace: str, name: str, uid: str, backup_id: str) -> str: ...
    def presign_put(self, key: str, sha256: str | None = None, expires_seconds: int = 3600) -> str: ...
    def presign_get(self, key: str, expires_seconds: int = 3600) -> str: ...
    async def head(self, key: str) -> StoredObject | None: ...
    async def list(self, prefix: str) -> Iterable[StoredObject]: ...
    async def delete(self, key: str) -> None: ...
    async def close(self) -> None: ...


CHECKSUM_SUFFIX = ".sha256"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
TRANSFER_TIMEOUT = 30.0


def observed(stored: StoredObject) -> BackupObject:
    return BackupObject(
        key=stored.key, size_bytes=stored.size_bytes, last_modified=stored.last_modified, sha256=stored.sha256
    )


def instances_prefix(bucket: Bucket, namespace: str | None = None) -> str:
    return f"{bucket.prefix}instances/" + (f"{namespace}/" if namespace else "")


def name_prefix(bucket: Bucket, namespace: str, name: str) -> str:
    """Every backup of every instance that had this name (any uid): what spec.restoreFrom looks in."""
    return f"{instances_prefix(bucket, namespace)}{name}/"


async def write_checksum(bucket: Bucket, key: str, sha256: str) -> None:
    """`<key>.sha256`, through a short-lived presigned PUT (the only bytes the operator ever uploads)."""
    url = bucket.presign_put(key + CHECKSUM_SUFFIX, expires_seconds=300)
    status, _ = await _transfer("PUT", url, sha256.encode())
    if status >= 300:
        raise Failure(
            FailureKind.RETRYING, "BackupStoreRetrying", f"the backup store answered {status} to {key}.sha256"
        )


async def read_checksum(bucket: Bucket, key: str) -> str | None:
    """The sha256 written beside `key`, or None when there is none (or it is not a checksum)."""
    status, body = await _transfer("GET", bucket.presign_get(key + CHECKSUM_SUFFIX, expires_seconds=300))
    text = body.decode(errors="replace").strip()
    return text if status == 200 and SHA256_HEX.match(text) else None


async def _transfer(method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request to a presigned URL, counted with the store's (provider "s3")."""
    operation = f"{method} /{{bucket}}/{{key}}{CHECKSUM_SUFFIX}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TRANSFER_TIMEOUT)) as session:
        try:
            async with session.request(method, url, data=body, allow_redirects=False) as response:
                answer = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            metrics.PROVIDER_REQUESTS.labels("s3", operation, "0").inc()
            raise _unreachable(exc) from None
    metrics.PROVIDER_REQUESTS.labels("s3", operation, str(response.status)).inc()
    return response.status, answer


def _unreachable(exc: BaseException) -> Failure:
    # Never the URL: it is a bearer credential.
    message = f"the backup store did not answer: {type(exc).__name__}"
    return Failure(FailureKind.RETRYING, "BackupStoreUnreachable", message)


async def restore_source(bucket: Bucket, instance: api.OpenClawInstance) -> tuple[BackupObject, ...] | None:
    """While a restore is wanted: the backups of spec.restoreFrom.instance (one LIST over every uid
    that had the name), and the one it names with its sha256 (HEAD, else the checksum beside it).
    None when no restore is wanted."""
    spec, status = instance.spec, instance.status
    if spec.restore_from is None or not restore_wanted(spec, status):
        return None
    prefix = name_prefix(bucket, instance.metadata.namespace, spec.restore_from.instance)
    listed = tuple(observed(o) for o in await bucket.list(prefix))
    chosen = restore_candidate(spec.restore_from, listed, status)
    if chosen is None:
        return listed
    headed = await bucket.head(chosen.key)
    if headed is None:  # deleted between the LIST and the HEAD: look again next pass
        return ()
    found = observed(headed)
    if found.sha256 is None:
        found = replace(found, sha256=await read_checksum(bucket, chosen.key))
    return (found,)


@dataclass
class BucketSweep:
    """Runs `plan_bucket_sweep` every `interval` seconds over the watched namespaces' objects."""

    bucket: Bucket
    kube: Callable[[], KubeClient]
    namespaces: tuple[str, ...]  # empty: every namespace
    grace: timedelta
    interval: float
    clock: Callable[[], datetime]
    _task: asyncio.Task[None] | None = field(default=None, init=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bucket sweep")

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Failure as exc:  # the store is away: next interval
                log.warning("bucket sweep skipped: %s", exc.message)
            await asyncio.sleep(self.interval)

    async def sweep(self) -> SweepVerdict | None:
        # The listing comes first: an instance created after it has no objects in it yet.
        prefixes = [instances_prefix(self.bucket, ns) for ns in self.namespaces] or [
            instances_prefix(self.bucket)
        ]
        listed = [(p, [observed(o) for o in await self.bucket.list(p)]) for p in prefixes]
        try:
            live = await self.kube().instance_uids(self.namespaces)
        except KubeUnavailable as exc:
            log.warning("bucket sweep skipped: %s", exc)
            return None
        now = self.clock()
        doomed: list[BackupObject] = []
        kept: set[str] = set()
        for prefix, objects in listed:
            verdict = plan_bucket_sweep(objects, prefix, live, now, self.grace)
            doomed.extend(verdict.doomed)
            kept |= verdict.kept_uids
        for obj in doomed:
            await self.bucket.delete(obj.key)
        if doomed:
            log.info(
                "bucket sweep: deleted %d backup(s) of deleted instances past the grace of %s",
                len(doomed),
                self.grace,
            )
        return SweepVerdict(tuple(doomed), frozenset(kept))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

"""The bucket sweep's decision: which backup objects belong to instances deleted longer ago than the grace.

Keys are `<prefix>instances/<ns>/<name>/<uid>/<id>.tar.gz`. A uid that is no live instance had its
instance deleted (its Final backup is among its objects); its objects are kept until the newest of them
is older than the grace, then all go. Keys of any other shape are never judged; the caller lists only
the namespaces it watches, and lists them before it lists the live instances, so an object listed
belongs to an instance that either is in that LIST or was deleted before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from openclaw_operator.reconcile.model import BackupObject


@dataclass(frozen=True)
class SweepVerdict:
    doomed: tuple[BackupObject, ...]  # past the grace: delete
    kept_uids: frozenset[str]  # deleted instances still within the grace


def plan_bucket_sweep(
    objects: Iterable[BackupObject], prefix: str, live: frozenset[str], now: datetime, grace: timedelta
) -> SweepVerdict:
    """Pure: which objects under `prefix` (one namespace, or every one) belong to uids that are neither
    live nor within the grace counted from their newest object."""
    by_uid: dict[str, list[BackupObject]] = {}
    for obj in objects:
        rest = obj.key.removeprefix(prefix).split("/")
        # <ns>/<name>/<uid>/<id>.tar.gz below the instances/ prefix; anything else is not ours to judge
        ours = obj.key.endswith(".tar.gz") or obj.key.endswith(".tar.gz.sha256")  # an archive, its checksum
        if not obj.key.startswith(prefix) or not ours or len(rest) < 3 or not obj.uid:
            continue
        by_uid.setdefault(obj.uid, []).append(obj)
    doomed: list[BackupObject] = []
    kept: set[str] = set()
    for uid, owned in by_uid.items():
        if uid in live:
            continue
        if now - max(o.last_modified for o in owned) < grace:
            kept.add(uid)
        else:
            doomed.extend(owned)
    return SweepVerdict(tuple(sorted(doomed, key=lambda o: o.key)), frozenset(kept))

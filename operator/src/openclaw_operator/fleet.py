"""The shard's version updates as the apiserver records them, for the rollout policy (reconcile/rollout.py).

Fed from two places. Kopf's indexing step hands over every instance the watch delivers before any
handler runs, and it holds every handler back until the initial LIST is indexed: after a restart (a
SIGKILL included) the counts are rebuilt from the instances' status before the first pass decides
anything. And each pass notes the status it ends with at once, because its status patch comes back
through the watch only later: two passes admitted in that gap would overshoot the cap. A pass's note
wins until the watch shows the same thing.

The counts are kept as a running sum, so a pass asks for them in O(1), not O(fleet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from openclaw_operator import api
from openclaw_operator.reconcile import rollout
from openclaw_operator.reconcile.rollout import Fleet, FleetMember, RolloutPolicy


class FleetLedger:
    def __init__(self, default_version: str, policy: RolloutPolicy) -> None:
        self.default_version = default_version
        self.policy = policy
        self._watched: dict[str, FleetMember] = {}
        self._noted: dict[str, FleetMember] = {}  # a pass's status not yet back through the watch
        self._total = rollout.NO_FLEET
        # Instances waiting for a slot, the wave or the budget, oldest first: woken as slots free up.
        self._waiting: dict[str, None] = {}
        self.on_wake: Callable[[str], None] = lambda uid: None

    def watched(self, uid: str, member: FleetMember) -> None:
        """The instance as the watch delivered it."""
        before = self._effective(uid)
        self._watched[uid] = member
        if self._noted.get(uid) == member:
            del self._noted[uid]  # our own write is back
        self._changed(uid, before)

    def noted(self, uid: str, member: FleetMember, waiting: bool) -> None:
        """The status a pass ended with; `waiting`: its update is held back by the rollout."""
        before = self._effective(uid)
        if self._watched.get(uid) == member:
            self._noted.pop(uid, None)
        else:
            self._noted[uid] = member
        if waiting:
            self._waiting.setdefault(uid, None)
        else:
            self._waiting.pop(uid, None)
        self._changed(uid, before)

    def forget(self, uid: str) -> None:
        before = self._effective(uid)
        self._watched.pop(uid, None)
        self._noted.pop(uid, None)
        self._waiting.pop(uid, None)
        self._changed(uid, before)

    def others(self, uid: str) -> Fleet:
        """The shard's counts without this instance."""
        own = self._effective(uid)
        if own is None:
            return self._total
        return self._total - rollout.contribution(own, self.default_version)

    def total(self) -> Fleet:
        return self._total

    def _effective(self, uid: str) -> FleetMember | None:
        return self._noted.get(uid) or self._watched.get(uid)

    def _changed(self, uid: str, before: FleetMember | None) -> None:
        after = self._effective(uid)
        if before == after:
            return
        if before is not None:
            self._total = self._total - rollout.contribution(before, self.default_version)
        if after is not None:
            self._total = self._total + rollout.contribution(after, self.default_version)
        self._wake_waiting(skip=uid)

    def _wake_waiting(self, skip: str) -> None:
        """A slot may have freed up (or a failure been fixed): the oldest waiting instances try again,
        as many as there are free slots, so a paused fleet of thousands does not all wake at once."""
        free = self.policy.max_parallel - self._total.in_flight
        for uid in list(self._waiting)[: max(free, 0)]:
            if uid != skip:
                self.on_wake(uid)


def member_from_body(body: Mapping[str, Any]) -> FleetMember:
    """Only the two fields the rollout needs, read from a raw body (the watch delivers every change of
    every instance: parsing the whole resource here would double the operator's parsing work)."""
    spec = body.get("spec") or {}
    record = (body.get("status") or {}).get("versionUpdate")
    update = api.VersionUpdate.model_validate(dict(record)) if isinstance(record, Mapping) else None
    return FleetMember(follows_default=not spec.get("openclawVersion"), update=update)

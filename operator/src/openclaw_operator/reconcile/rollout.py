"""Which OpenClaw version changes may start now: the fleet rollout policy (docs/channel.md, "Fleet rollout").

A version change is the one push that restarts the gateway onto new code, so it is the one that can
break a customer. Three rules, all decided from counts over this shard's instances as their status
records them (`status.versionUpdate`), never from a counter of the operator's own:

- at most `max_parallel` updates are in flight (admitted, not yet Updated or Failed), whatever asked
  for them: a new default version or a per-instance `spec.openclawVersion`;
- a new default version goes first to a canary share of the instances that follow the default; the
  rest wait until every canary is Updated;
- once `failure_budget` updates to the default version have failed (the agent rolled them back), its
  rollout pauses. It resumes when the budget is raised, the default moves to another version, or the
  failed ones are fixed (their record no longer says Failed for that version).

Explicit per-instance versions obey the parallelism cap only: somebody chose that version for that
instance, and waiting for a canary wave it is no part of would only delay them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from openclaw_operator import api
from openclaw_operator.api import UpdateState
from openclaw_operator.providers.errors import Failure, FailureKind

QUEUED = "UpdateQueued"
CANARY_WAVE = "CanaryWave"
PAUSED = "RolloutPaused"
UPDATE_FAILED = "UpdateFailed"  # the agent's answer when the new version did not come up (rolled back)
WAITING_REASONS = frozenset({QUEUED, CANARY_WAVE, PAUSED})


@dataclass(frozen=True)
class RolloutPolicy:
    max_parallel: int = 10
    failure_budget: int = 2
    canary_percent: int = 10


@dataclass(frozen=True)
class FleetMember:
    """What the rollout needs of one instance: whether it follows the operator's default version, and its
    latest version change as its status records it."""

    follows_default: bool
    update: api.VersionUpdate | None = None


def member_of(spec: api.InstanceSpec, status: api.InstanceStatus) -> FleetMember:
    return FleetMember(follows_default=spec.openclaw_version is None, update=status.version_update)


@dataclass(frozen=True)
class Fleet:
    """Counts over a shard's instances (see `tally`); they add up and subtract member by member."""

    in_flight: int = 0  # updates admitted and not finished, to any version
    failed: int = 0  # Failed updates to the default version
    started: int = 0  # followers of the default whose update to it was admitted (any state)
    updated: int = 0  # ... and is Updated
    followers: int = 0  # instances that follow the default version

    def __add__(self, other: Fleet) -> Fleet:
        return Fleet(*(a + b for a, b in zip(self._values(), other._values(), strict=True)))

    def __sub__(self, other: Fleet) -> Fleet:
        return Fleet(*(a - b for a, b in zip(self._values(), other._values(), strict=True)))

    def _values(self) -> tuple[int, int, int, int, int]:
        return (self.in_flight, self.failed, self.started, self.updated, self.followers)


NO_FLEET = Fleet()
DEFAULT_POLICY = RolloutPolicy()


def contribution(member: FleetMember, default_version: str) -> Fleet:
    """What one instance adds to the fleet's counts."""
    update = member.update
    to_default = update is not None and update.to_version == default_version
    followed = member.follows_default and to_default
    return Fleet(
        in_flight=int(update is not None and update.state == UpdateState.UPDATING),
        failed=int(to_default and update is not None and update.state == UpdateState.FAILED),
        started=int(followed),
        updated=int(followed and update is not None and update.state == UpdateState.UPDATED),
        followers=int(member.follows_default),
    )


def tally(members: Iterable[FleetMember], default_version: str) -> Fleet:
    total = NO_FLEET
    for member in members:
        total = total + contribution(member, default_version)
    return total


def canaries(policy: RolloutPolicy, followers: int) -> int:
    """How many followers of a new default are updated before the rest (at least one, if any wave)."""
    if policy.canary_percent <= 0 or followers <= 0:
        return 0
    return max(1, math.ceil(followers * policy.canary_percent / 100))


@dataclass(frozen=True)
class Admission:
    admitted: bool
    reason: str
    message: str


def admit(
    policy: RolloutPolicy, others: Fleet, *, to_version: str, default_version: str, follows_default: bool
) -> Admission:
    """May this instance's update to `to_version` start now? `others`: the counts without this instance
    (its own earlier record, a failed try being retried, is not in the way of itself)."""
    if others.in_flight >= policy.max_parallel:
        return Admission(
            False,
            QUEUED,
            f"the update to OpenClaw {to_version} waits for a slot: {others.in_flight} of "
            f"{policy.max_parallel} updates in flight (CLAWHOST_UPDATE_MAX_PARALLEL)",
        )
    if follows_default and to_version == default_version:
        if others.failed >= policy.failure_budget:
            return Admission(
                False,
                PAUSED,
                f"the rollout of OpenClaw {to_version} is paused: {others.failed} update(s) to it failed "
                f"(CLAWHOST_UPDATE_FAILURE_BUDGET={policy.failure_budget}); it resumes when they are "
                "fixed, the budget is raised or the default version changes",
            )
        # The wave needs that many Updated canaries; a failed one (within the budget) is replaced.
        wave = canaries(policy, others.followers + 1)
        if others.updated < wave <= others.started - others.failed:
            return Admission(
                False,
                CANARY_WAVE,
                f"the update to OpenClaw {to_version} waits for its canary wave: {others.updated} of "
                f"{wave} canaries updated (CLAWHOST_UPDATE_CANARY_PERCENT={policy.canary_percent})",
            )
    return Admission(True, "UpdateAdmitted", f"the update to OpenClaw {to_version} may start")


def after_failure(status: api.InstanceStatus, failure: Failure, now: datetime) -> api.InstanceStatus:
    """An admitted update whose push failed for good: Failed when the agent rolled the version back
    (it counts against the budget); void when the push was refused for another reason (a config
    OpenClaw rejects): no update happened, and a stalled instance must not hold a slot. A push that
    may succeed on a retry keeps its slot."""
    record = status.version_update
    if record is None or record.state != UpdateState.UPDATING or failure.kind != FailureKind.STALLED:
        return status
    if failure.reason != UPDATE_FAILED:
        return status.model_copy(update={"version_update": None})
    failed = record.model_copy(update={"state": UpdateState.FAILED, "finished_at": now})
    return status.model_copy(update={"version_update": failed})

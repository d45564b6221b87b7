"""The shared observer: the providers' state for every instance at O(1) API cost.

Once per resync interval it lists all managed servers (one label-selected, paginated list), the managed
firewall (one label-selected list for the fleet) and all records of each managed zone, and every
reconcile pass (and the fleet's firewall plan, managed_firewall.py) reads from that snapshot: in steady
state there are no per-instance requests at all. Writes update the snapshot in place (a journal replays
them over a list that was already in flight), in-flight actions are polled in one batched
GET /actions?id=..&id=.., and only a server that is between states is fetched on its own.

After each list the observer compares what every instance would see with the previous list and tells
the scheduler which instances' view changed, so drift (a server deleted or powered off, a record edited)
is acted on within one interval: listings start early by as long as the last one took, so a change made
just after one listing began is in the operator's hands by the end of the next, one interval later.

Every per-instance read is O(1) in the fleet's size (servers indexed by owner, records by name and owner),
because each of N passes per interval reads: a scan per read made every interval O(N^2).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, KeysView
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import golden, naming
from openclaw_operator.reconcile.model import (
    UNKNOWN_TYPE,
    ActionObservation,
    ActionStatus,
    FirewallObservation,
    FirewallRuleSpec,
    RecordObservation,
    ServerObservation,
    ServerTypeInfo,
    SnapshotObservation,
    Zone,
)

log = logging.getLogger(__name__)


class Coalesced:
    """Runs `fetch` one at a time; a caller that needs data no older than `since` waits for a run that
    started at or after `since`, so concurrent callers share one request."""

    def __init__(
        self, fetch: Callable[[float], Awaitable[None]], clock: Callable[[], float], delay: float = 0.0
    ):
        self._fetch = fetch
        self._clock = clock
        self._delay = delay  # gather callers for a moment before fetching (action polls)
        self._task: asyncio.Task[None] | None = None
        self._task_started = 0.0
        self.completed_start = float("-inf")  # start time of the newest successful run

    async def ensure(self, since: float) -> None:
        while self.completed_start < since:
            if self._task is None or self._task.done():
                self._task = asyncio.ensure_future(self._run())
            task, started = self._task, self._task_started
            await asyncio.shield(task)  # a failure propagates to every waiter of this run
            if started >= since or self.completed_start >= since:
                return

    async def _run(self) -> None:
        if self._delay:
            await asyncio.sleep(self._delay)
        started = self._task_started = self._clock()
        await self._fetch(started)
        self.completed_start = max(self.completed_start, started)


class _Labelled(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def labels(self) -> dict[str, str]: ...


Owned = TypeVar("Owned", bound=_Labelled)


class _OwnedBook(Generic[Owned]):
    """Servers (or snapshots) by id and by the instance uid in their owner label."""

    def __init__(self) -> None:
        self.by_id: dict[int, Owned] = {}
        self._by_owner: dict[str, dict[int, Owned]] = {}

    def put(self, item: Owned) -> None:
        self.drop(item.id)
        self.by_id[item.id] = item
        owner = item.labels.get(naming.INSTANCE_UID_LABEL)
        if owner is not None:
            self._by_owner.setdefault(owner, {})[item.id] = item

    def drop(self, item_id: int) -> None:
        old = self.by_id.pop(item_id, None)
        owner = old.labels.get(naming.INSTANCE_UID_LABEL) if old is not None else None
        if owner is not None:
            owned = self._by_owner.get(owner, {})
            owned.pop(item_id, None)
            if not owned:
                self._by_owner.pop(owner, None)

    def labelled(self, uid: str) -> list[Owned]:
        """Those whose owner label names `uid` (ownership itself is `naming.owned_by`'s to decide)."""
        return list(self._by_owner.get(uid, {}).values())


_ServerBook = _OwnedBook[ServerObservation]
_SnapshotBook = _OwnedBook[SnapshotObservation]


class _RecordBook:
    """Records by zone and id, by name and by the owner named in their comment."""

    def __init__(self) -> None:
        self.by_zone: dict[str, dict[str, RecordObservation]] = {}  # zone id -> record id -> record
        self._by_name: dict[str, dict[str, RecordObservation]] = {}
        self._by_owner: dict[str, dict[str, RecordObservation]] = {}

    def replace_zone(self, zone_id: str, records: Iterable[RecordObservation]) -> None:
        for record in list(self.by_zone.get(zone_id, {}).values()):
            self.drop(record)
        self.by_zone[zone_id] = {}
        for record in records:
            self.put(record)

    def put(self, record: RecordObservation) -> None:
        self.drop(record)
        self.by_zone.setdefault(record.zone_id, {})[record.id] = record
        self._by_name.setdefault(record.name, {})[record.id] = record
        owner = naming.record_owner(record.comment)
        if owner is not None:
            self._by_owner.setdefault(owner, {})[record.id] = record

    def drop(self, record: RecordObservation) -> None:
        old = self.by_zone.get(record.zone_id, {}).pop(record.id, None)
        if old is None:
            return
        _discard(self._by_name, old.name, old.id)
        owner = naming.record_owner(old.comment)
        if owner is not None:
            _discard(self._by_owner, owner, old.id)

    def relevant_to(self, uid: str, hostname: str) -> tuple[RecordObservation, ...]:
        found = {**self._by_name.get(hostname, {}), **self._by_owner.get(uid, {})}
        return tuple(found[key] for key in sorted(found))


def _discard(index: dict[str, dict[str, RecordObservation]], key: str, record_id: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.pop(record_id, None)
        if not bucket:
            index.pop(key, None)


@dataclass
class _Journal:
    """Local writes, replayed over a list that started before them."""

    entries: list[tuple[float, Callable[[], None]]] = field(default_factory=list)

    def add(self, at: float, apply: Callable[[], None]) -> None:
        self.entries.append((at, apply))
        apply()

    def replay_after(self, started: float) -> None:
        self.entries = [(at, apply) for at, apply in self.entries if at >= started]
        for _, apply in self.entries:
            apply()


class Observer:
    def __init__(
        self,
        hetzner: HetznerProvider,
        cloudflare: CloudflareProvider,
        managed_zones: Iterable[str],
        resync_interval: float,
        poll_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hetzner = hetzner
        self.cloudflare = cloudflare
        self.managed_zones = tuple(managed_zones)
        self.resync_interval = resync_interval
        self.poll_interval = poll_interval
        self._clock = clock
        self._servers = _ServerBook()
        self._server_seen: dict[int, float] = {}
        self._snapshots = _SnapshotBook()
        self._snapshot_seen: dict[int, float] = {}
        self._snapshots_listed = False
        self._hibernating: set[str] = set()  # uids whose spec says suspendMode Hibernate
        # CLAWHOST_GOLDEN_IMAGES: the snapshot listing (which holds the golden snapshots, ours by the
        # managed-by label) goes on every listing, so a newly built golden image is used within one.
        self.golden_wanted = False
        self._zones: dict[str, Zone | None] = {}
        self._records = _RecordBook()
        self._journal = _Journal()
        self._actions: dict[int, tuple[float, ActionObservation]] = {}
        self._wanted_actions: set[int] = set()
        self._types: dict[str, ServerTypeInfo] = {}
        self._firewall: FirewallObservation | None = None
        self._tracked: dict[str, str] = {}  # uid -> hostname, for views and wake-ups
        self._views: dict[str, str] = {}
        self.on_change: Callable[[str], None] = lambda uid: None  # the pass scheduler's wake-up
        self.on_listed: Callable[[], None] = lambda: None  # after each successful listing (orphan sweep)
        self._lists = Coalesced(self._list_everything, clock)
        self._polls = Coalesced(self._poll_actions, clock, delay=0.05)

    # --- the periodic list ---------------------------------------------------------------------------
    async def ensure_fresh(self) -> None:
        """Make sure the snapshot is at most about one resync interval old (normally the loop keeps it so)."""
        await self._lists.ensure(self._clock() - self.resync_interval * 1.5)

    async def refresh(self) -> None:
        await self._lists.ensure(self._clock())

    async def run(self, stopped: asyncio.Event) -> None:
        """The background loop: list, then wake instances whose view changed; once per interval."""
        while not stopped.is_set():
            started = self._clock()
            try:
                await self.refresh()
                self._wake_changed()
                self.on_listed()
            except Exception as exc:  # rate limit or outage: the next interval tries again
                log.warning("listing provider state failed: %s", exc)
            took = self._clock() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), timeout=self.next_listing_in(took))

    def next_listing_in(self, took: float) -> float:
        """Start the next listing early by as long as this one took, and a quarter more in case the next
        one is slower (never more often than every half interval): then a change made right after this
        listing began is seen within one interval."""
        period = max(self.resync_interval - 1.25 * took, self.resync_interval / 2)
        return max(0.0, period - took)

    @property
    def listed_at(self) -> float:
        """When the newest successful listing started (-inf before the first)."""
        return self._lists.completed_start

    async def _list_everything(self, started: float) -> None:
        servers = await self.hetzner.list_servers()
        firewall = await self._list_firewall()  # after the servers: a listing that fails, fails first there
        snapshots = await self.hetzner.list_snapshots() if self._snapshots_wanted() else None
        zones: dict[str, Zone | None] = {}
        records = _RecordBook()
        for name in self.managed_zones:
            zone = self._zones.get(name) or await self.cloudflare.zone(name)
            zones[name] = zone
            if zone is not None:
                records.replace_zone(zone.id, await self.cloudflare.records(zone))
        book = _ServerBook()
        for server in servers:
            book.put(server)
        self._servers, self._records = book, records
        self._server_seen = {server.id: started for server in servers}
        if snapshots is not None:
            self._snapshots = _SnapshotBook()
            for snapshot in snapshots:
                self._snapshots.put(snapshot)
            self._snapshot_seen = {snapshot.id: started for snapshot in snapshots}
            self._snapshots_listed = True
        self._zones = zones
        self._firewall = firewall
        self._journal.replay_after(started)

    def _snapshots_wanted(self) -> bool:
        """Snapshots are listed at the first listing (what a crashed process left), then only while some
        instance may hibernate or a snapshot of ours exists: a fleet without Hibernate pays nothing for
        it. Every snapshot this process makes is in the book from its create on (journal)."""
        return (
            not self._snapshots_listed
            or self.golden_wanted
            or bool(self._hibernating)
            or bool(self._snapshots.by_id)
        )

    async def _list_firewall(self) -> FirewallObservation | None:
        """The firewall named like the managed one: ours by the label selector (one request), else,
        only when that shows none by the name, whoever's holds the name (a foreign one must be seen to be
        left alone: creating ours would only be refused)."""
        labelled = await self.hetzner.list_firewalls(naming.MANAGED_SELECTOR)
        named = [firewall for firewall in labelled if firewall.name == naming.FIREWALL_NAME]
        if named:
            return named[0]
        return await self.hetzner.firewall_by_name(naming.FIREWALL_NAME)

    # --- instance views ------------------------------------------------------------------------------
    def track(self, uid: str, hostname: str, hibernating: bool = False) -> None:
        self._tracked[uid] = hostname
        if hibernating:
            self._hibernating.add(uid)
        else:
            self._hibernating.discard(uid)

    def forget(self, uid: str) -> None:
        self._tracked.pop(uid, None)
        self._views.pop(uid, None)
        self._hibernating.discard(uid)

    def _wake_changed(self) -> None:
        for uid, hostname in list(self._tracked.items()):
            view = self._fingerprint(uid, hostname)
            before = self._views.get(uid)
            self._views[uid] = view
            if before is not None and before != view:
                self.on_change(uid)

    def _fingerprint(self, uid: str, hostname: str) -> str:
        servers = sorted(repr(s) for s in self._servers.labelled(uid))
        snapshots = sorted(repr(s) for s in self._snapshots.labelled(uid))
        records = sorted(repr(r) for r in self.records_for(uid, hostname))
        return hashlib.sha256("\n".join([*servers, *snapshots, *records]).encode()).hexdigest()

    def server_for(self, uid: str, server_id: int | None) -> ServerObservation | None:
        """By the id in status, else by the owner label (a server created just before a crash)."""
        if server_id is not None and server_id in self._servers.by_id:
            return self._servers.by_id[server_id]
        owned = [s for s in self._servers.labelled(uid) if naming.owned_by(s.labels, uid)]
        return min(owned, key=lambda s: s.id) if owned else None

    def listed_servers(self) -> list[ServerObservation]:
        """Every managed server of the latest listing, with the local writes since (read-only)."""
        return list(self._servers.by_id.values())

    def snapshots_for(self, uid: str) -> tuple[SnapshotObservation, ...]:
        """This instance's snapshots (our marks, its uid), oldest first."""
        owned = [s for s in self._snapshots.labelled(uid) if naming.owned_by(s.labels, uid)]
        return tuple(sorted(owned, key=lambda s: s.id))

    def snapshot_ids(self) -> KeysView[int]:
        """The snapshot ids of the latest listing, with the local writes since (a live view)."""
        return self._snapshots.by_id.keys()

    def golden_images(self) -> tuple[SnapshotObservation, ...]:
        """The project's golden snapshots of the latest listing (reconcile/golden.py chooses among them);
        one list shared by every instance, never a request per instance."""
        return tuple(s for s in self._snapshots.by_id.values() if golden.is_golden(s.labels))

    def listed_snapshots(self) -> list[SnapshotObservation]:
        """Every snapshot with our managed-by label in the latest listing (read-only; the orphan sweep)."""
        return list(self._snapshots.by_id.values())

    def server_ids(self) -> KeysView[int]:
        """The ids in the latest listing, with the local writes since (a live view, not a copy)."""
        return self._servers.by_id.keys()

    def server_count(self) -> int:
        return len(self._servers.by_id)

    def firewall(self) -> FirewallObservation | None:
        """The managed firewall as last listed, with our writes since (None: no firewall has the name)."""
        return self._firewall

    def zone(self, name: str | None) -> Zone | None:
        return self._zones.get(name) if name else None

    def records_for(self, uid: str, hostname: str) -> tuple[RecordObservation, ...]:
        """Records named like the host (anyone's) and every record this instance owns (any name, any zone)."""
        return self._records.relevant_to(uid, hostname)

    # --- targeted reads ------------------------------------------------------------------------------
    async def fresh_server(self, server_id: int, force: bool = False) -> ServerObservation | None:
        """One GET for a server between states (at most once per poll interval) or after an action."""
        now = self._clock()
        if not force and now - self._server_seen.get(server_id, float("-inf")) < self.poll_interval:
            return self._servers.by_id.get(server_id)
        server = await self.hetzner.get_server(server_id)
        if server is None:
            self.server_gone(server_id)
        else:
            self.server_seen(server)
        return server

    async def fresh_snapshot(self, snapshot_id: int, force: bool = False) -> SnapshotObservation | None:
        """One GET for a snapshot still being created (at most once per poll interval) or after its action."""
        now = self._clock()
        if not force and now - self._snapshot_seen.get(snapshot_id, float("-inf")) < self.poll_interval:
            return self._snapshots.by_id.get(snapshot_id)
        snapshot = await self.hetzner.get_snapshot(snapshot_id)
        if snapshot is None:
            self.snapshot_gone(snapshot_id)
        else:
            self.snapshot_seen(snapshot)
        return snapshot

    async def action(self, action_id: int) -> ActionObservation | None:
        now = self._clock()
        cached = self._actions.get(action_id)
        if cached is not None and (
            cached[1].status != ActionStatus.RUNNING or now - cached[0] < self.poll_interval
        ):
            return cached[1]
        self._wanted_actions.add(action_id)
        await self._polls.ensure(now)
        found = self._actions.get(action_id)
        return found[1] if found is not None else None

    async def _poll_actions(self, started: float) -> None:
        wanted = sorted(self._wanted_actions)
        found = await self.hetzner.actions(wanted)
        for action_id in wanted:
            action = found.get(action_id)
            if action is None:
                action = ActionObservation(action_id, "unknown", ActionStatus.SUCCESS, None)
            self._actions[action_id] = (started, action)
            if action.status != ActionStatus.RUNNING:
                self._wanted_actions.discard(action_id)
        horizon = started - 3600
        self._actions = {k: v for k, v in self._actions.items() if v[0] >= horizon}

    async def server_type(self, name: str) -> ServerTypeInfo:
        if name not in self._types:
            self._types[name] = await self.hetzner.server_type(name) or UNKNOWN_TYPE
        return self._types[name]

    async def servers_owned_by(self, uid: str) -> list[ServerObservation]:
        """A fresh label-selected list, for deletion, where a stale snapshot could leak a server."""
        selector = f"{naming.MANAGED_SELECTOR},{naming.INSTANCE_UID_LABEL}={uid}"
        servers = await self.hetzner.list_servers(selector)
        for server in servers:
            self.server_seen(server)
        return servers

    async def snapshots_owned_by(self, uid: str) -> list[SnapshotObservation]:
        """A fresh label-selected list of this instance's snapshots, for deletion."""
        selector = f"{naming.MANAGED_SELECTOR},{naming.INSTANCE_UID_LABEL}={uid}"
        snapshots = await self.hetzner.list_snapshots(selector)
        for snapshot in snapshots:
            self.snapshot_seen(snapshot)
        return [s for s in snapshots if naming.owned_by(s.labels, uid)]

    async def records_owned_by(self, uid: str) -> list[RecordObservation]:
        """Fresh lists of every managed zone (deletion only), filtered to our records."""
        owned: list[RecordObservation] = []
        for name in self.managed_zones:
            zone = self._zones.get(name) or await self.cloudflare.zone(name)
            if zone is None:
                continue
            self._zones[name] = zone
            records = await self.cloudflare.records(zone)
            self._records.replace_zone(zone.id, records)
            owned.extend(r for r in records if naming.record_owner(r.comment) == uid)
        return owned

    # --- local writes --------------------------------------------------------------------------------
    def server_seen(self, server: ServerObservation) -> None:
        now = self._clock()

        def apply() -> None:
            self._servers.put(server)
            self._server_seen[server.id] = now

        self._journal.add(now, apply)

    def server_gone(self, server_id: int) -> None:
        def apply() -> None:
            self._servers.drop(server_id)

        self._journal.add(self._clock(), apply)

    def snapshot_seen(self, snapshot: SnapshotObservation) -> None:
        now = self._clock()

        def apply() -> None:
            self._snapshots.put(snapshot)
            self._snapshot_seen[snapshot.id] = now

        self._journal.add(now, apply)

    def snapshot_gone(self, snapshot_id: int) -> None:
        def apply() -> None:
            self._snapshots.drop(snapshot_id)

        self._journal.add(self._clock(), apply)

    def record_written(self, record: RecordObservation) -> None:
        def apply() -> None:
            self._records.put(record)

        self._journal.add(self._clock(), apply)

    def record_gone(self, record: RecordObservation) -> None:
        def apply() -> None:
            self._records.drop(record)

        self._journal.add(self._clock(), apply)

    def firewall_seen(self, firewall: FirewallObservation) -> None:
        def apply() -> None:
            self._firewall = firewall

        self._journal.add(self._clock(), apply)

    def firewall_changed(
        self,
        firewall_id: int,
        rules: tuple[FirewallRuleSpec, ...] | None = None,
        selector: str | None = None,
    ) -> None:
        """Our write to the firewall, replayed only if a listing still shows that firewall."""

        def apply() -> None:
            current = self._firewall
            if current is None or current.id != firewall_id:
                return
            if rules is not None:
                current = replace(current, rules=rules)
            if selector is not None and selector not in current.selectors:
                current = replace(current, selectors=(*current.selectors, selector))
            self._firewall = current

        self._journal.add(self._clock(), apply)

    def action_started(self, action_id: int, command: str) -> None:
        self._actions[action_id] = (
            self._clock(),
            ActionObservation(action_id, command, ActionStatus.RUNNING),
        )

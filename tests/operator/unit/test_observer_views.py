"""The observer's per-instance views (indexed, so a read is O(1) in the fleet) and its listing period."""

from __future__ import annotations

import time

import pytest

from openclaw_operator.observe import Observer
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import (
    FirewallObservation,
    ImageStatus,
    RecordObservation,
    ServerObservation,
    SnapshotObservation,
)

ZONE_ID = "z1"


def ours(uid: str) -> dict[str, str]:
    return {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.INSTANCE_UID_LABEL: uid}


def server(server_id: int, labels: dict[str, str]) -> ServerObservation:
    return ServerObservation(server_id, f"s{server_id}", "running", "cx23", labels)


def record(record_id: str, name: str, comment: str | None, zone: str = ZONE_ID) -> RecordObservation:
    return RecordObservation(record_id, zone, name, "A", "203.0.113.1", False, 300, comment)


def observer() -> Observer:
    # No provider is called by anything these tests do.
    return Observer(None, None, ["example.com"], resync_interval=300, poll_interval=2)  # type: ignore[arg-type]


def test_server_for_prefers_the_status_id_then_the_lowest_owned_server() -> None:
    obs = observer()
    obs.server_seen(server(5, ours("u1")))
    obs.server_seen(server(3, ours("u1")))
    obs.server_seen(server(4, {naming.INSTANCE_UID_LABEL: "u1"}))  # not managed by us: never ours
    obs.server_seen(server(9, ours("u2")))
    assert obs.server_for("u1", 5).id == 5  # type: ignore[union-attr]
    assert obs.server_for("u1", None).id == 3  # type: ignore[union-attr]
    assert obs.server_for("u3", None) is None
    obs.server_gone(3)
    assert obs.server_for("u1", None).id == 5  # type: ignore[union-attr]


def test_a_relabelled_server_moves_between_owners() -> None:
    obs = observer()
    obs.server_seen(server(1, ours("u1")))
    obs.server_seen(server(1, ours("u2")))
    assert obs.server_for("u1", None) is None
    assert obs.server_for("u2", None).id == 1  # type: ignore[union-attr]


def test_records_for_are_the_host_name_anyones_plus_everything_the_instance_owns() -> None:
    obs = observer()
    mine = record("a", "alpha.example.com", naming.record_comment("u1"))
    foreign_same_name = record("b", "alpha.example.com", None)
    mine_elsewhere = record("c", "old.example.com", naming.record_comment("u1"), zone="z2")
    other = record("d", "beta.example.com", naming.record_comment("u2"))
    for each in (mine, foreign_same_name, mine_elsewhere, other):
        obs.record_written(each)
    assert set(obs.records_for("u1", "alpha.example.com")) == {mine, foreign_same_name, mine_elsewhere}
    renamed = record("a", "gamma.example.com", naming.record_comment("u1"))
    obs.record_written(renamed)  # same id, new name: the old name no longer finds it
    assert set(obs.records_for("u9", "alpha.example.com")) == {foreign_same_name}
    obs.record_gone(renamed)
    assert set(obs.records_for("u1", "alpha.example.com")) == {foreign_same_name, mine_elsewhere}


def test_reads_do_not_scan_the_fleet() -> None:
    """10,000 servers and 20,000 records: 10,000 views take about as long as 10 would (well under 1 s)."""
    obs = observer()
    for i in range(10_000):
        obs.server_seen(server(i, ours(f"u{i}")))
        for kind in ("a", "b"):
            obs.record_written(record(f"{kind}{i}", f"h{i}.example.com", naming.record_comment(f"u{i}")))
    started = time.process_time()
    for i in range(10_000):
        assert obs.server_for(f"u{i}", None) is not None
        assert len(obs.records_for(f"u{i}", f"h{i}.example.com")) == 2
    assert time.process_time() - started < 1.0  # a scan per read would be 10,000 x 30,000 = 3e8 steps


@pytest.mark.parametrize(
    ("took", "wait"),
    [
        (0.0, 300.0),  # instant listing: every interval
        (20.0, 255.0),  # starts 275 s after the last one began: ends by 300 s even if 25% slower
        (200.0, 0.0),  # slower than half an interval: start again at once, never more often
    ],
)
def test_listings_start_early_by_as_long_as_the_last_took(took: float, wait: float) -> None:
    assert observer().next_listing_in(took) == pytest.approx(wait)


class CountingHetzner:
    """Answers the listings with nothing, counting how often snapshots were listed."""

    def __init__(self) -> None:
        self.snapshot_lists = 0
        self.snapshots: list[SnapshotObservation] = []

    async def list_servers(self) -> list[ServerObservation]:
        return []

    async def list_snapshots(self) -> list[SnapshotObservation]:
        self.snapshot_lists += 1
        return list(self.snapshots)

    async def list_firewalls(self, label_selector: str) -> list[FirewallObservation]:
        return []

    async def firewall_by_name(self, name: str) -> FirewallObservation | None:
        return None


async def test_snapshots_are_listed_first_then_only_while_hibernation_is_in_use() -> None:
    hetzner = CountingHetzner()
    obs = Observer(hetzner, None, [], resync_interval=300, poll_interval=2)  # type: ignore[arg-type]
    await obs.refresh()
    assert hetzner.snapshot_lists == 1  # what a crashed process may have left
    await obs.refresh()
    assert hetzner.snapshot_lists == 1  # nobody hibernates: a fleet without Hibernate pays nothing
    obs.track("u1", "alpha.example.com", hibernating=True)
    hetzner.snapshots = [SnapshotObservation(41, ImageStatus.AVAILABLE, ours("u1"))]
    await obs.refresh()
    assert hetzner.snapshot_lists == 2
    assert [s.id for s in obs.snapshots_for("u1")] == [41]
    obs.track("u1", "alpha.example.com", hibernating=False)  # switched back to PowerOff while hibernated
    await obs.refresh()
    await obs.refresh()
    assert hetzner.snapshot_lists == 4  # a snapshot of ours exists: keep looking
    hetzner.snapshots = []
    await obs.refresh()
    await obs.refresh()
    assert hetzner.snapshot_lists == 5 and obs.snapshots_for("u1") == ()


def test_snapshots_for_are_the_instances_own_oldest_first() -> None:
    obs = observer()
    obs.snapshot_seen(SnapshotObservation(9, ImageStatus.AVAILABLE, ours("u1")))
    obs.snapshot_seen(SnapshotObservation(4, ImageStatus.CREATING, ours("u1")))
    obs.snapshot_seen(SnapshotObservation(5, ImageStatus.AVAILABLE, {naming.INSTANCE_UID_LABEL: "u1"}))
    obs.snapshot_seen(SnapshotObservation(6, ImageStatus.AVAILABLE, ours("u2")))
    assert [s.id for s in obs.snapshots_for("u1")] == [4, 9]  # 5 is not managed by us
    obs.snapshot_gone(4)
    assert [s.id for s in obs.snapshots_for("u1")] == [9]

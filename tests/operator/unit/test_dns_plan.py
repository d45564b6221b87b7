"""plan_dns, one row per situation: ownership first, drift fixed, foreign records never touched."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.dns import DnsInputs, plan_dns
from openclaw_operator.reconcile.model import DeleteRecord, RecordObservation, WriteRecord, Zone, step_name

UID = "uid-1"
HOST = "alpha.example.com"
ZONE = Zone("z1", "example.com")
OURS = naming.record_comment(UID)
A = RecordObservation("ra", "z1", HOST, "A", "203.0.113.7", False, 300, OURS)
AAAA = RecordObservation("r6", "z1", HOST, "AAAA", "2001:db8::1", False, 300, OURS)


@dataclass
class Row:
    name: str
    records: tuple[RecordObservation, ...] = ()
    ipv4: str | None = "203.0.113.7"
    ipv6: str | None = "2001:db8::1"
    zone_name: str | None = "example.com"
    zone: Zone | None = ZONE
    proxied: bool = False
    spec_changed: bool = False
    steps: list[tuple[str, str]] = field(default_factory=list)  # (model.step_name, record type)
    ready: str = "False"
    stalled: str | None = None
    drift: bool = False


ROWS = [
    Row(
        "nothing yet: create A and AAAA",
        steps=[("create_record", "A"), ("create_record", "AAAA")],
    ),
    Row("both correct: ready", records=(A, AAAA), ready="True"),
    Row("server has no IPv6: only A", records=(A,), ipv6=None, ready="True"),
    Row(
        "content edited out of band: fixed, as drift",
        records=(replace(A, content="198.51.100.1"), AAAA),
        steps=[("update_record", "A")],
        drift=True,
    ),
    Row(
        "ttl edited out of band: fixed",
        records=(A, replace(AAAA, ttl=60)),
        steps=[("update_record", "AAAA")],
        drift=True,
    ),
    Row(
        "spec asks for proxied: update both, not drift",
        records=(A, AAAA),
        proxied=True,
        spec_changed=True,
        steps=[("update_record", "A"), ("update_record", "AAAA")],
    ),
    Row(
        "a duplicate of ours: keep one, delete the other",
        records=(A, replace(A, id="ra2"), AAAA),
        steps=[("delete_record", "A")],
    ),
    Row(
        "hostname changed: ours under the old name goes",
        records=(A, AAAA, replace(A, id="old", name="old.example.com")),
        steps=[("delete_record", "A")],
    ),
    Row(
        "foreign A with our name: stalled, nothing written",
        records=(replace(A, id="f1", comment="someone else's"),),
        stalled="DNSRecordConflict",
    ),
    Row(
        "foreign CNAME with our name: stalled",
        records=(RecordObservation("f2", "z1", HOST, "CNAME", "x.example.net", False, 1, None),),
        stalled="DNSRecordConflict",
    ),
    Row(
        "another instance's record with our name: stalled",
        records=(replace(A, id="f3", comment=naming.record_comment("uid-2")),),
        stalled="DNSRecordConflict",
    ),
    Row(
        "a foreign TXT with our name does not conflict",
        records=(A, AAAA, RecordObservation("t", "z1", HOST, "TXT", "v=spf1", False, 1, None)),
        ready="True",
    ),
    Row("hostname outside managed zones: stalled", zone_name=None, zone=None, stalled="NoManagedZone"),
    Row("zone missing at Cloudflare: stalled", zone=None, stalled="ZoneNotFound"),
    Row("no addresses yet: wait", ipv4=None, ipv6=None),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_plan_dns(row: Row) -> None:
    plan = plan_dns(
        DnsInputs(
            uid=UID,
            hostname=HOST,
            proxied=row.proxied,
            ttl=300,
            zone_name=row.zone_name,
            zone=row.zone,
            records=row.records,
            ipv4=row.ipv4,
            ipv6=row.ipv6,
            spec_changed=row.spec_changed,
        )
    )
    assert all(isinstance(s, WriteRecord | DeleteRecord) for s in plan.steps)
    assert [(step_name(s), s.record.type) for s in plan.steps] == row.steps  # type: ignore[union-attr]
    assert plan.verdict.status == row.ready
    assert (plan.stall.reason if plan.stall else None) == row.stalled
    assert any(s.drift for s in plan.steps) == row.drift
    if row.stalled:
        assert plan.steps == ()


def test_conflict_message_names_the_foreign_record() -> None:
    foreign = replace(A, id="f1", content="192.0.2.9", comment=None)
    plan = plan_dns(
        DnsInputs(UID, HOST, False, 300, "example.com", ZONE, (foreign,), "203.0.113.7", None, False)
    )
    assert plan.stall is not None
    assert "A alpha.example.com -> 192.0.2.9 (id f1)" in plan.stall.message


def test_created_records_carry_our_comment_and_proxied_ttl() -> None:
    plan = plan_dns(DnsInputs(UID, HOST, True, 300, "example.com", ZONE, (), "203.0.113.7", None, False))
    (step,) = plan.steps
    assert step.record is not None
    assert (step.record.comment, step.record.proxied, step.record.ttl) == (OURS, True, 1)

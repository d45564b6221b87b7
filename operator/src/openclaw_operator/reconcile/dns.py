"""Which Cloudflare records to create, fix or remove: external-dns style, ownership first.

A record is ours only if its comment carries our instance uid. A record with our host name that is not
ours (A, AAAA or a CNAME, which excludes the others) is never modified: the instance stalls and names it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from openclaw_operator import api
from openclaw_operator.reconcile import conditions as cond
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.conditions import Verdict
from openclaw_operator.reconcile.model import (
    NO_CHANGE,
    DeleteRecord,
    RecordObservation,
    StatusDelta,
    Step,
    WriteRecord,
    Zone,
)

ADDRESS_TYPES = ("A", "AAAA")
EXCLUSIVE_TYPES = frozenset({"A", "AAAA", "CNAME"})


@dataclass(frozen=True)
class DnsInputs:
    uid: str
    hostname: str
    proxied: bool
    ttl: int
    zone_name: str | None
    zone: Zone | None
    records: tuple[RecordObservation, ...]  # records named like the host, and every record we own
    ipv4: str | None
    ipv6: str | None
    spec_changed: bool  # the generation moved since the last pass: differences are requests, not drift
    hold: bool = False  # no server for a while (hibernated): keep our records, write nothing


@dataclass(frozen=True)
class DnsPlan:
    verdict: Verdict
    steps: tuple[Step, ...] = ()
    stall: Verdict | None = None
    updates: StatusDelta = NO_CHANGE


def desired_records(inp: DnsInputs) -> tuple[RecordObservation, ...]:
    if inp.zone is None:
        return ()
    comment = naming.record_comment(inp.uid)
    wanted = (("A", inp.ipv4), ("AAAA", inp.ipv6))
    return tuple(
        RecordObservation(
            id="",
            zone_id=inp.zone.id,
            name=inp.hostname,
            type=type_,
            content=content,
            proxied=inp.proxied,
            ttl=1 if inp.proxied else inp.ttl,
            comment=comment,
        )
        for type_, content in wanted
        if content
    )


def conflicts(inp: DnsInputs) -> tuple[RecordObservation, ...]:
    return tuple(
        record
        for record in inp.records
        if record.name.lower() == inp.hostname
        and record.type in EXCLUSIVE_TYPES
        and naming.record_owner(record.comment) != inp.uid
    )


def describe(records: Iterable[RecordObservation]) -> str:
    return ", ".join(f"{r.type} {r.name} -> {r.content} (id {r.id})" for r in records)


def plan_dns(inp: DnsInputs) -> DnsPlan:
    if inp.zone_name is None:
        stall = cond.true(
            "NoManagedZone", f"{inp.hostname} is not inside a Cloudflare zone this operator manages"
        )
        return DnsPlan(verdict=cond.false(stall.reason, stall.message), stall=stall)
    if inp.zone is None:
        stall = cond.true("ZoneNotFound", f"Cloudflare has no zone named {inp.zone_name} for this token")
        return DnsPlan(verdict=cond.false(stall.reason, stall.message), stall=stall)
    foreign = conflicts(inp)
    if foreign:
        stall = cond.true(
            "DNSRecordConflict",
            f"record(s) not owned by this instance already use {inp.hostname}: {describe(foreign)}; "
            "they are left untouched, remove them or choose another hostname",
        )
        return DnsPlan(verdict=cond.false(stall.reason, stall.message), stall=stall)

    ours = [r for r in inp.records if naming.record_owner(r.comment) == inp.uid]
    if inp.hold and not (inp.ipv4 or inp.ipv6):
        return _held(inp, ours)
    desired = desired_records(inp)
    steps: list[Step] = []
    ids: dict[str, str] = {}
    matched: set[str] = set()
    for want in desired:
        candidates = [
            r for r in ours if r.zone_id == want.zone_id and r.name == want.name and r.type == want.type
        ]
        if not candidates:
            message = f"creating {want.type} {want.name}"
            steps.append(WriteRecord(record=want, reason="CreatingRecord", message=message))
            continue
        keep, *extra = candidates
        matched.update(r.id for r in candidates)
        ids[want.type] = keep.id
        if (keep.content, keep.proxied, keep.ttl) != (want.content, want.proxied, want.ttl):
            drift = not inp.spec_changed or keep.content != want.content
            message = (
                f"updating {want.type} {want.name} to {want.content} (proxied={want.proxied}, ttl={want.ttl})"
            )
            record = replace(want, id=keep.id)
            steps.append(WriteRecord(record=record, reason="UpdatingRecord", message=message, drift=drift))
        steps.extend(_delete(r, "duplicate") for r in extra)
    steps.extend(_delete(r, "no longer wanted") for r in ours if r.id not in matched)

    updates = StatusDelta(
        dns_record_ids=api.DnsRecordIds(zone_id=inp.zone.id, a=ids.get("A"), aaaa=ids.get("AAAA"))
    )
    if not desired:
        return DnsPlan(
            verdict=cond.false("WaitingForServer", "waiting for the server's addresses"),
            steps=tuple(steps),
            updates=updates,
        )
    if steps:
        return DnsPlan(
            verdict=cond.false(steps[0].reason, steps[0].message), steps=tuple(steps), updates=updates
        )
    names = " and ".join(r.type for r in desired)
    return DnsPlan(
        verdict=cond.true("RecordsInSync", f"{names} for {inp.hostname} are correct"), updates=updates
    )


def _held(inp: DnsInputs, ours: list[RecordObservation]) -> DnsPlan:
    assert inp.zone is not None
    ids = {r.type: r.id for r in ours if r.name == inp.hostname and r.type in ADDRESS_TYPES}
    updates = StatusDelta(
        dns_record_ids=api.DnsRecordIds(zone_id=inp.zone.id, a=ids.get("A"), aaaa=ids.get("AAAA"))
    )
    names = " and ".join(sorted(ids)) or "no records"
    message = f"{names} for {inp.hostname} kept while there is no server"
    return DnsPlan(verdict=cond.true("RecordsKept", message), updates=updates)


def _delete(record: RecordObservation, why: str) -> Step:
    message = f"deleting {record.type} {record.name} ({why})"
    return DeleteRecord(record=record, reason="DeletingRecord", message=message)

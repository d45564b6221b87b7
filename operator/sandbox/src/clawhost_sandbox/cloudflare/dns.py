"""Zones and DNS records: the validation rules of the v4 API and the record operations, including the
transactional `/dns_records/batch` (deletes, then patches, then puts, then posts; all or nothing)."""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ..simcore import SimClock
from ..simserver import ApiError
from .errors import cf_error, record_not_found, validation

TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "CAA", "SRV", "PTR")
PROXIABLE = ("A", "AAAA", "CNAME")
EXCLUSIVE = "CNAME"  # a CNAME shares its name with no A, AAAA or other CNAME record
# Fields a body may send as null: the API takes null as "not given", so PATCH keeps the stored value and
# POST/PUT use the default. cloudflare-go v0 (flarectl, Terraform provider v4) sends `"tags": null` on
# every update; an empty list or string is what clears.
NULLABLE = ("ttl", "proxied", "comment", "tags", "settings")
_LABEL = re.compile(r"^(?!-)[a-zA-Z0-9_-]{1,63}(?<!-)$")


@dataclass
class Zone:
    id: str
    name: str
    created: float
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def render(self, clock: SimClock) -> dict[str, Any]:
        created = clock.iso(self.created)
        return {
            "id": self.id,
            "name": self.name,
            "status": "active",
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "original_name_servers": None,
            "original_registrar": None,
            "original_dnshost": None,
            "created_on": created,
            "modified_on": created,
            "activated_on": created,
            "meta": {
                "step": 2,
                "custom_certificate_quota": 0,
                "page_rule_quota": 3,
                "phishing_detected": False,
            },
            "owner": {"id": None, "type": "user", "name": None},
            "account": {
                "id": hashlib.md5(b"account", usedforsecurity=False).hexdigest(),
                "name": "Simulated",
            },
            "permissions": ["#dns_records:edit", "#dns_records:read", "#zone:read"],
            "plan": {
                "id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                "name": "Free Website",
                "price": 0,
                "currency": "USD",
                "frequency": "",
                "is_subscribed": False,
                "can_subscribe": False,
                "legacy_id": "free",
                "legacy_discount": False,
                "externally_managed": False,
            },
        }


@dataclass(frozen=True)
class RecordRules:
    """Plan-dependent limits: free zones take comments up to 100 characters and TTLs from 60 s."""

    min_ttl: int = 60
    max_comment: int = 100


def qualify(name: object, zone: Zone) -> str:
    """The record's FQDN. `@` is the apex; names outside the zone are relative and get the zone appended,
    as the API does; an absolute name (trailing dot) outside the zone is refused."""
    if not isinstance(name, str) or not name.strip():
        raise validation(9000, "DNS name is invalid.")
    lowered = name.strip().lower()
    absolute = lowered.endswith(".")
    lowered = lowered.rstrip(".")
    if lowered in ("@", zone.name):
        return zone.name
    if not lowered.endswith("." + zone.name):
        if absolute:
            raise validation(9000, f"DNS name {name} is not in zone {zone.name}.")
        lowered = f"{lowered}.{zone.name}"
    labels = lowered.split(".")
    if len(lowered) > 253 or not all(_LABEL.match(label) or label == "*" for label in labels):
        raise validation(9000, "DNS name is invalid.")
    return lowered


def _content(kind: str, content: object) -> str:
    if not isinstance(content, str) or not content:
        raise validation(9002, "DNS record content is required.")
    try:
        if kind == "A":
            return str(ipaddress.IPv4Address(content))
        if kind == "AAAA":
            return str(ipaddress.IPv6Address(content))
    except ValueError:
        code, family = (9005, "IPv4") if kind == "A" else (9006, "IPv6")
        raise cf_error(400, code, f"Content for {kind} record must be a valid {family} address.") from None
    if kind == "CNAME":
        return content.rstrip(".").lower()
    return content


def given(body: dict[str, Any]) -> dict[str, Any]:
    """The body without the nullable fields it sent as null."""
    return {key: value for key, value in body.items() if not (value is None and key in NULLABLE)}


def validate(body: dict[str, Any], zone: Zone, rules: RecordRules) -> dict[str, Any]:
    """The stored fields of a record from a full (POST/PUT) body."""
    body = given(body)
    kind = body.get("type")
    if kind not in TYPES:
        raise validation(9020, f"Invalid DNS record type {kind!r}.")
    assert isinstance(kind, str)
    ttl = body.get("ttl", 1)
    if isinstance(ttl, float) and ttl.is_integer():  # the SDK types TTL as float
        ttl = int(ttl)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not (ttl == 1 or rules.min_ttl <= ttl <= 86400):
        raise validation(
            9021, f"Invalid TTL. Must be between {rules.min_ttl} and 86400 seconds, or 1 for Automatic."
        )
    proxied = body.get("proxied", False)
    if not isinstance(proxied, bool):
        raise validation(9041, "Invalid proxied mode. Must be a boolean.")
    if proxied and kind not in PROXIABLE:
        raise validation(9004, f"This record type ({kind}) cannot be proxied.")
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > rules.max_comment):
        raise validation(9100, f"DNS record comment is longer than {rules.max_comment} characters.")
    if comment is not None and ("\n" in comment or "\r" in comment):
        raise validation(9100, "DNS record comment must not contain line breaks.")
    tags = body.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and ":" in t for t in tags):
        raise validation(9101, "DNS record tags must be strings of the form name:value.")
    fields: dict[str, Any] = {
        "name": qualify(body.get("name"), zone),
        "type": kind,
        "content": _content(kind, body.get("content")),
        "ttl": ttl,
        "proxied": proxied,
        "comment": comment or None,
        "tags": sorted(tags),
        "settings": body.get("settings") or {},
    }
    if kind == "MX":
        fields["priority"] = body.get("priority", 10)
    return fields


def _conflict(zone: Zone, fields: dict[str, Any], except_id: str | None) -> ApiError | None:
    same_name = [r for r in zone.records.values() if r["name"] == fields["name"] and r["id"] != except_id]
    for record in same_name:
        if record["type"] == fields["type"] and record["content"] == fields["content"]:
            return cf_error(400, 81058, "An identical record already exists.")
    kinds = {r["type"] for r in same_name}
    if fields["type"] == EXCLUSIVE and EXCLUSIVE in kinds:
        return cf_error(400, 81057, "The record already exists.")
    if (fields["type"] == EXCLUSIVE and kinds & {"A", "AAAA"}) or (
        EXCLUSIVE in kinds and fields["type"] in ("A", "AAAA")
    ):
        return cf_error(400, 81053, "An A, AAAA, or CNAME record with that host already exists.")
    return None


class ZoneRecords:
    """Record operations within one zone; ids are 32 hex digits derived from the simulator's seed."""

    def __init__(self, zone: Zone, clock: SimClock, rules: RecordRules, new_id: Any) -> None:
        self.zone = zone
        self.clock = clock
        self.rules = rules
        self.new_id = new_id

    def get(self, record_id: str) -> dict[str, Any]:
        record = self.zone.records.get(record_id)
        if record is None:
            raise record_not_found()
        return record

    def _store(self, fields: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        if error := _conflict(self.zone, fields, previous["id"] if previous else None):
            raise error
        now = self.clock.iso()
        record = {
            **(previous or {"id": self.new_id(), "created_on": now}),
            **fields,
            "zone_id": self.zone.id,
            "zone_name": self.zone.name,
            "proxiable": fields["type"] in PROXIABLE,
            "locked": False,
            "meta": {},
            "modified_on": now,
        }
        if previous is None or previous.get("comment") != record["comment"]:
            record["comment_modified_on"] = now
        if previous is None or previous.get("tags") != record["tags"]:
            record["tags_modified_on"] = now
        self.zone.records[record["id"]] = record
        return record

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._store(validate(body, self.zone, self.rules), None)

    def replace(self, record_id: str, body: dict[str, Any]) -> dict[str, Any]:
        previous = self.get(record_id)
        return self._store(validate(body, self.zone, self.rules), previous)

    def patch(self, record_id: str, body: dict[str, Any]) -> dict[str, Any]:
        previous = self.get(record_id)
        kept = {
            k: previous[k]
            for k in ("name", "type", "content", "ttl", "proxied", "comment", "tags", "settings")
        }
        return self._store(validate({**kept, **given(body)}, self.zone, self.rules), previous)

    def delete(self, record_id: str) -> dict[str, Any]:
        return self.zone.records.pop(self.get(record_id)["id"])

    def batch(self, body: dict[str, Any]) -> dict[str, Any]:
        """One transaction: on any error the zone is left exactly as it was."""
        before = copy.deepcopy(self.zone.records)
        try:
            return {
                "deletes": [self.delete(str(op.get("id"))) for op in body.get("deletes") or []],
                "patches": [self.patch(str(op.get("id")), op) for op in body.get("patches") or []],
                "puts": [self.replace(str(op.get("id")), op) for op in body.get("puts") or []],
                "posts": [self.create(op) for op in body.get("posts") or []],
            }
        except ApiError:
            self.zone.records = before
            raise

"""DNS records and zones through the unmodified cloudflare SDK, with strict response validation: the
SDK's filters, auto-pagination, batch, and Cloudflare's errors as the SDK's exception classes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import cloudflare
import httpx
import pytest
from clawhost_sandbox.cloudflare.dns import RecordRules
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.simcore import SimulatorThread

OURS = "clawhost.dev/instance-uid=0b3c1f2e-77aa-4f9a-9d7e-2f1c0a9b8e11"


@pytest.fixture
def zone(cloudflare_sim: CloudflareSimulator) -> str:
    return cloudflare_sim.zone_id("example.com")


def names(records: Any) -> list[str]:
    return sorted(f"{r.type} {r.name}" for r in records)


def test_zones(cfclient: cloudflare.Cloudflare, cloudflare_sim: CloudflareSimulator) -> None:
    assert sorted(z.name for z in cfclient.zones.list()) == ["example.com", "example.net"]
    [found] = cfclient.zones.list(name="example.net")
    assert found.id == cloudflare_sim.zone_id("example.net")
    assert cfclient.zones.get(zone_id=found.id).status == "active"
    assert list(cfclient.zones.list(name="example.org")) == []


def test_record_lifecycle(cfclient: cloudflare.Cloudflare, zone: str) -> None:
    records = cfclient.dns.records
    a = records.create(
        zone_id=zone, name="claw.example.com", type="A", content="203.0.113.7", ttl=1, comment=OURS
    )
    assert (a.name, a.content, a.proxied, a.comment) == ("claw.example.com", "203.0.113.7", False, OURS)
    aaaa = records.create(
        zone_id=zone, name="claw", type="AAAA", content="2001:db8::7", ttl=300.0, proxied=True
    )
    assert (aaaa.name, aaaa.ttl) == ("claw.example.com", 300)  # relative names get the zone; TTL a float
    assert records.get(a.id, zone_id=zone).content == "203.0.113.7"
    edited = records.edit(a.id, zone_id=zone, name="claw.example.com", type="A", ttl=1, content="203.0.113.8")
    assert (edited.content, edited.comment) == ("203.0.113.8", OURS)  # PATCH keeps what it does not name
    replaced = records.update(
        a.id, zone_id=zone, name="claw.example.com", type="A", ttl=120, content="203.0.113.9"
    )
    assert (replaced.content, replaced.ttl, replaced.comment) == ("203.0.113.9", 120, None)  # PUT overwrites
    assert records.delete(a.id, zone_id=zone).id == a.id
    with pytest.raises(cloudflare.NotFoundError) as caught:
        records.get(a.id, zone_id=zone)
    assert caught.value.errors[0].code == 81044


def test_list_filters(cfclient: cloudflare.Cloudflare, zone: str) -> None:
    records = cfclient.dns.records
    records.create(zone_id=zone, name="a", type="A", content="192.0.2.1", ttl=1, comment=OURS)
    records.create(zone_id=zone, name="a", type="AAAA", content="2001:db8::1", ttl=1, comment=OURS)
    records.create(zone_id=zone, name="b", type="A", content="192.0.2.2", ttl=1, comment="hand-made")
    records.create(
        zone_id=zone, name="c", type="TXT", content="hello", ttl=1, tags=["owner:team-a", "env:prod"]
    )
    records.create(zone_id=zone, name="d", type="CNAME", content="a.example.com", ttl=1, proxied=True)

    def listed(**query: Any) -> list[str]:
        return names(records.list(zone_id=zone, **query))

    assert listed(name={"exact": "A.EXAMPLE.COM"}) == ["A a.example.com", "AAAA a.example.com"]
    assert listed(name={"exact": "a.example.com"}, type="A") == ["A a.example.com"]
    assert listed(name={"startswith": "b."}) == ["A b.example.com"]
    assert listed(name={"endswith": ".example.com"}, type="TXT") == ["TXT c.example.com"]
    assert listed(content={"exact": "192.0.2.2"}) == ["A b.example.com"]
    assert listed(content={"contains": "2001:db8"}) == ["AAAA a.example.com"]
    assert listed(comment={"exact": OURS}) == ["A a.example.com", "AAAA a.example.com"]
    assert listed(comment={"startswith": "clawhost.dev/"}, type="AAAA") == ["AAAA a.example.com"]
    assert listed(comment={"contains": "HAND"}) == ["A b.example.com"]
    assert listed(comment={"endswith": "made"}) == ["A b.example.com"]
    # present/absent are flags: the value does not matter (the SDK drops empty strings, so send one)
    assert len(listed(comment={"present": "1"})) == 3
    assert listed(comment={"absent": "1"}) == ["CNAME d.example.com", "TXT c.example.com"]
    assert listed(tag={"exact": "owner:TEAM-A"}) == ["TXT c.example.com"]
    assert listed(tag={"startswith": "owner:team"}) == ["TXT c.example.com"]
    assert listed(tag={"present": "env"}) == ["TXT c.example.com"]
    assert len(listed(tag={"absent": "env"})) == 4
    assert listed(proxied=True) == ["CNAME d.example.com"]
    assert listed(type="A", content={"exact": "hello"}, match="any") == ["A a.example.com", "A b.example.com",
                                                                        "TXT c.example.com"]  # fmt: skip
    ordered = [r.name for r in records.list(zone_id=zone, order="name", direction="desc", type="A")]
    assert ordered == ["b.example.com", "a.example.com"]


def test_auto_pagination_asks_for_the_empty_page(
    cfclient: cloudflare.Cloudflare, cloudflare_sim: CloudflareSimulator, zone: str
) -> None:
    for i in range(12):
        cfclient.dns.records.create(zone_id=zone, name=f"r{i}", type="A", content=f"192.0.2.{i + 1}", ttl=1)
    page = cfclient.dns.records.list(zone_id=zone, per_page=5)
    assert page.result_info.total_count == 12  # type: ignore[union-attr]
    assert len(list(page)) == 12
    lists = [parse_qs(r.query) for r in cloudflare_sim.request_log if r.method == "GET"]
    assert [q.get("page", ["1"]) for q in lists] == [["1"], ["2"], ["3"], ["4"]]
    assert cloudflare_sim.request_log[-1].status == 200  # the fourth page is empty, and that ends the walk


def test_batch_is_one_transaction(
    cfclient: cloudflare.Cloudflare, cloudflare_sim: CloudflareSimulator, zone: str
) -> None:
    records = cfclient.dns.records
    old = records.create(zone_id=zone, name="old", type="A", content="192.0.2.1", ttl=1)
    keep = records.create(zone_id=zone, name="keep", type="A", content="192.0.2.2", ttl=1)
    done = records.batch(
        zone_id=zone,
        deletes=[{"id": old.id}],
        patches=[{"id": keep.id, "content": "192.0.2.3", "name": "keep.example.com", "type": "A", "ttl": 1}],
        posts=[{"name": "new", "type": "AAAA", "content": "2001:db8::3", "ttl": 1}],
    )
    assert [r.id for r in done.deletes] == [old.id]  # type: ignore[union-attr]
    assert [r.content for r in done.patches] == ["192.0.2.3"]  # type: ignore[union-attr]
    assert [r.name for r in done.posts] == ["new.example.com"]  # type: ignore[union-attr]
    before = cloudflare_sim.records("example.com")
    with pytest.raises(cloudflare.BadRequestError) as caught:
        records.batch(
            zone_id=zone,
            deletes=[{"id": keep.id}],
            posts=[{"name": "bad", "type": "A", "content": "not-an-ip", "ttl": 1}],
        )
    assert caught.value.errors[0].code == 9005
    assert cloudflare_sim.records("example.com") == before  # the delete was rolled back


@pytest.mark.parametrize(
    ("record", "code"),
    [
        ({"name": "dup", "type": "A", "content": "192.0.2.1"}, 81058),  # identical
        ({"name": "alias", "type": "CNAME", "content": "other.example.org"}, 81057),  # a second CNAME
        ({"name": "alias", "type": "A", "content": "192.0.2.9"}, 81053),  # A next to a CNAME
        ({"name": "x", "type": "A", "content": "2001:db8::1"}, 9005),
        ({"name": "x", "type": "AAAA", "content": "192.0.2.1"}, 9006),
        ({"name": "x", "type": "A", "content": "192.0.2.1", "ttl": 30}, 1004),  # below the free plan's 60
        ({"name": "x", "type": "A", "content": "192.0.2.1", "ttl": 86401}, 1004),
        ({"name": "x", "type": "TXT", "content": "t", "proxied": True}, 1004),  # only A/AAAA/CNAME proxy
        ({"name": "x", "type": "A", "content": "192.0.2.1", "comment": "c" * 101}, 1004),
        ({"name": "x.example.org.", "type": "A", "content": "192.0.2.1"}, 1004),  # absolute, other zone
        ({"name": "x", "type": "SPF", "content": "v=spf1"}, 1004),
    ],
)
def test_record_errors(cfclient: cloudflare.Cloudflare, zone: str, record: dict[str, Any], code: int) -> None:
    cfclient.dns.records.create(zone_id=zone, name="dup", type="A", content="192.0.2.1", ttl=1)
    cfclient.dns.records.create(zone_id=zone, name="alias", type="CNAME", content="dup.example.com", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as caught:
        cfclient.dns.records.create(zone_id=zone, **{"ttl": 1, **record})
    assert caught.value.errors[0].code == code
    assert caught.value.status_code == 400


def test_auth_and_routing_errors(
    cfclient: cloudflare.Cloudflare, cloudflare_sim: CloudflareSimulator
) -> None:
    with pytest.raises(cloudflare.PermissionDeniedError) as denied:
        cloudflare.Cloudflare(api_token="wrong", base_url=cloudflare_sim.url, max_retries=0).zones.list()
    assert denied.value.errors[0].code == 10000
    bare = httpx.get(cloudflare_sim.url + "/zones")
    assert (bare.status_code, bare.json()["errors"][0]["code"]) == (400, 9106)
    with pytest.raises(cloudflare.BadRequestError) as unknown:
        cfclient.dns.records.list(zone_id="0" * 32)
    assert unknown.value.errors[0].code == 7003
    assert cloudflare_sim.counters()[("GET", "/zones/{zone_id}/dns_records", 400)] == 1


def test_out_of_band_changes(
    cfclient: cloudflare.Cloudflare, cloudflare_sim: CloudflareSimulator, zone: str
) -> None:
    record = cfclient.dns.records.create(zone_id=zone, name="drift", type="A", content="192.0.2.1", ttl=1)
    cloudflare_sim.change_record_out_of_band(record.id, content="192.0.2.66")
    assert cfclient.dns.records.get(record.id, zone_id=zone).content == "192.0.2.66"
    foreign = cloudflare_sim.add_record_out_of_band(
        "example.com", name="www", type="CNAME", content="x.example.org"
    )
    assert foreign["comment"] is None
    cloudflare_sim.delete_record_out_of_band(record.id)
    assert names(cfclient.dns.records.list(zone_id=zone)) == ["CNAME www.example.com"]


def test_enterprise_zones_take_30_second_ttls() -> None:
    sim = CloudflareSimulator(token="t", zones=["example.com"], rules=RecordRules(min_ttl=30))
    with SimulatorThread(sim):
        client = cloudflare.Cloudflare(api_token="t", base_url=sim.url, max_retries=0)
        made = client.dns.records.create(zone_id=sim.zone_id("example.com"), name="x", type="A",
                                         content="192.0.2.1", ttl=30)  # fmt: skip
        assert made.ttl == 30

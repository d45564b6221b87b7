"""What clients nobody here wrote send the Cloudflare simulator (issue 19, fixes 1 and 3): nullable record
fields sent as null, and `per_page` across the whole range Cloudflare's schema publishes, with a server
that serves fewer records per page than asked for."""

from __future__ import annotations

from typing import Any

import cloudflare
import pytest
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.simcore import SimulatorThread

from tests.simulators.conftest import CLOUDFLARE_TOKEN

OURS = "clawhost.dev/instance-uid=0b3c1f2e-77aa-4f9a-9d7e-2f1c0a9b8e11"
# A record whose nullable fields all differ from their defaults, and those defaults (what a PUT leaves).
STORED: dict[str, Any] = {
    "ttl": 300, "proxied": True, "comment": OURS, "tags": ["owner:team-a"], "settings": {"ipv4_only": True}
}  # fmt: skip
DEFAULTS = {"ttl": 1, "proxied": False, "comment": None, "tags": [], "settings": {}}


@pytest.fixture
def zone(cloudflare_sim: CloudflareSimulator) -> str:
    return cloudflare_sim.zone_id("example.com")


@pytest.fixture
def record(cfclient: cloudflare.Cloudflare, zone: str) -> Any:
    create: Any = cfclient.dns.records.create  # the fields are typed per record kind; these fit an A
    return create(zone_id=zone, name="claw", type="A", content="192.0.2.1", **STORED)


def fields(record: Any) -> dict[str, Any]:
    settings = {k: v for k, v in record.settings.to_dict().items() if v is not None}
    return {"ttl": record.ttl, "proxied": record.proxied, "comment": record.comment,
            "tags": record.tags, "settings": settings}  # fmt: skip


def test_the_update_cloudflare_go_v0_sends_keeps_what_it_leaves_null(
    cfclient: cloudflare.Cloudflare, zone: str, record: Any
) -> None:
    """flarectl and the Terraform provider v4 PATCH this on every update (`Tags []string` without
    omitempty); the real API takes `"tags": null` as "keep the tags"."""
    body = {"type": "A", "name": "claw.example.com", "content": "192.0.2.9", "tags": None, "settings": {}}
    answer = cfclient.patch(f"/zones/{zone}/dns_records/{record.id}", cast_to=object, body=body)
    assert isinstance(answer, dict)
    result = answer["result"]
    assert (result["content"], result["tags"], result["comment"], result["ttl"]) == (
        "192.0.2.9", ["owner:team-a"], OURS, 300)  # fmt: skip


@pytest.mark.parametrize("field", list(STORED))
def test_a_null_field_is_left_as_it_was_by_patch_and_reset_by_put(
    cfclient: cloudflare.Cloudflare, zone: str, record: Any, field: str
) -> None:
    required = {"zone_id": zone, "name": "claw.example.com", "type": "A", "ttl": 1}
    patched = cfclient.dns.records.edit(record.id, **required, extra_body={field: None})  # type: ignore[call-overload]
    # the SDK requires a ttl, so it is sent (as 1) unless it is the field under test, sent as null
    assert fields(patched) == {**STORED, "ttl": STORED["ttl"] if field == "ttl" else 1}
    replaced = cfclient.dns.records.update(  # type: ignore[call-overload]
        record.id, **required, content="192.0.2.1", extra_body={field: None}
    )
    assert fields(replaced)[field] == DEFAULTS[field]


def test_an_empty_value_still_clears(cfclient: cloudflare.Cloudflare, zone: str, record: Any) -> None:
    cleared = cfclient.dns.records.edit(
        record.id, zone_id=zone, name="claw.example.com", type="A", ttl=300, comment="", tags=[]
    )
    assert (cleared.comment, cleared.tags) == (None, [])  # type: ignore[union-attr]


@pytest.mark.parametrize("per_page", [1, 7, 5000, 5_000_000])
def test_per_page_takes_the_published_range(
    cfclient: cloudflare.Cloudflare, zone: str, record: Any, per_page: int
) -> None:
    page = cfclient.dns.records.list(zone_id=zone, per_page=per_page)
    assert [r.id for r in page.result] == [record.id]
    # served: what was asked for, up to the simulator's default cap of 5,000 a page
    assert page.result_info.per_page == min(per_page, 5000)  # type: ignore[union-attr]


@pytest.mark.parametrize("per_page", [0, -1, 5_000_001])
def test_per_page_outside_the_published_range_is_refused(
    cfclient: cloudflare.Cloudflare, zone: str, per_page: int
) -> None:
    with pytest.raises(cloudflare.BadRequestError) as caught:
        cfclient.dns.records.list(zone_id=zone, per_page=per_page)
    assert caught.value.errors[0].code == 1001


def test_a_server_side_page_cap_shows_in_result_info() -> None:
    sim = CloudflareSimulator(token=CLOUDFLARE_TOKEN, zones=["example.com"], record_page_cap=2)
    with SimulatorThread(sim):
        client = cloudflare.Cloudflare(api_token=CLOUDFLARE_TOKEN, base_url=sim.url, max_retries=0,
                                       _strict_response_validation=True)  # fmt: skip
        zone = sim.zone_id("example.com")
        for i in range(5):
            sim.add_record_out_of_band("example.com", name=f"r{i}", type="A", content=f"192.0.2.{i + 1}")
        first = client.dns.records.list(zone_id=zone, per_page=100)
        info = first.result_info.to_dict()  # type: ignore[union-attr]
        assert len(first.result) == 2
        assert (info["per_page"], info["total_count"], info["total_pages"]) == (2, 5, 3)
        assert len(list(first)) == 5  # the SDK's own iteration reads on to the empty page

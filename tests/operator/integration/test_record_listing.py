"""The operator's DNS record listing pages by `result_info.total_pages` (issue 19, fix 3): a server that
serves fewer records per page than the operator's `per_page` must not hide the records past its first page.
In process, against the Cloudflare simulator; no Kubernetes needed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from clawhost_sandbox.cloudflare import routes
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.simcore import LatencyModel
from pydantic import SecretStr

from openclaw_operator.providers.cloudflare import RECORDS_PER_PAGE, CloudflareProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconcile.model import Zone

TOKEN = "c-listing-token"
CAP = 3  # records the simulated server serves per page, far below the operator's per_page


@pytest.fixture
async def capped() -> AsyncIterator[tuple[CloudflareSimulator, CloudflareProvider]]:
    sim = CloudflareSimulator(token=TOKEN, zones=["example.com"], latency=LatencyModel.none(),
                              record_page_cap=CAP)  # fmt: skip
    await sim.start()
    provider = CloudflareProvider(SecretStr(TOKEN), sim.url, RateLimiter("cloudflare"), 4, 10)
    try:
        yield sim, provider
    finally:
        await provider.close()
        await sim.stop()


@pytest.mark.parametrize("count", [0, 2, 3, 7])
async def test_every_record_is_found_when_the_server_caps_its_pages(
    capped: tuple[CloudflareSimulator, CloudflareProvider], count: int
) -> None:
    sim, provider = capped
    assert CAP < RECORDS_PER_PAGE
    made = [sim.add_record_out_of_band("example.com", name=f"r{i}", type="A", content=f"192.0.2.{i + 1}")
            for i in range(count)]  # fmt: skip
    found = await provider.records(Zone(id=sim.zone_id("example.com"), name="example.com"))
    assert sorted(record.id for record in found) == sorted(record["id"] for record in made)
    pages = [parse_qs(r.query)["page"] for r in sim.request_log if r.template.endswith("/dns_records")]
    # one request per page the server has, and no extra request for an empty page
    assert pages == [[str(n)] for n in range(1, max(1, -(-count // CAP)) + 1)]


async def test_without_total_pages_it_reads_on_to_an_empty_page(
    capped: tuple[CloudflareSimulator, CloudflareProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    sim, provider = capped
    real_page_of = routes.page_of

    def without_total_pages(*args: Any, **kwargs: Any) -> tuple[list[Any], dict[str, int]]:
        chunk, info = real_page_of(*args, **kwargs)
        return chunk, {key: value for key, value in info.items() if key != "total_pages"}

    monkeypatch.setattr(routes, "page_of", without_total_pages)
    made = [sim.add_record_out_of_band("example.com", name=f"r{i}", type="A", content=f"192.0.2.{i + 1}")
            for i in range(4)]  # fmt: skip
    found = await provider.records(Zone(id=sim.zone_id("example.com"), name="example.com"))
    assert sorted(record.id for record in found) == sorted(record["id"] for record in made)
    assert len([r for r in sim.request_log if r.template.endswith("/dns_records")]) == 3  # 3 + 1 + empty

"""The warm pool's claims in one operator process (warm_pool.WarmPool.claim): claims of different pool
servers run side by side, no two claims of this process ever work on one server, and a claim that failed
after its PUT was sent never offers that server again (the PUT may still land).

The provider here is an in-memory stand-in that keeps what Hetzner keeps (labels replaced whole by a PUT,
last writer wins) and yields to the event loop inside every request, as a real request does; the real
operator's claims against the simulator are tests/pool/test_pool_operator.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from openclaw_operator import api
from openclaw_operator.reconcile import naming, pool
from openclaw_operator.reconcile.model import ClaimPoolServer, ServerObservation, ServerStatus
from openclaw_operator.warm_pool import WarmPool

CLUSTER = "unit"
INPUTS = "a" * 32


class Provider:
    """Hetzner's servers as far as a claim sees them; counts requests and the most PUTs at once."""

    def __init__(self, servers: int, fail_put_of: set[int] | None = None) -> None:
        labels = pool.pool_labels(INPUTS, 7, CLUSTER)
        self.servers = {
            i: ServerObservation(
                id=i, name=f"pool-{i}", status=ServerStatus.RUNNING, server_type="cx23", labels=dict(labels)
            )
            for i in range(1, servers + 1)
        }
        self.fail_put_of = fail_put_of or set()
        self.gets: list[int] = []
        self.puts: list[int] = []
        self._puts_now = 0
        self.most_puts_at_once = 0

    async def get_server(self, server_id: int) -> ServerObservation | None:
        self.gets.append(server_id)
        await asyncio.sleep(0.001)
        return self.servers.get(server_id)

    async def claim_server(self, server_id: int, name: str, labels: dict[str, str]) -> None:
        self.puts.append(server_id)
        self._puts_now += 1
        self.most_puts_at_once = max(self.most_puts_at_once, self._puts_now)
        try:
            await asyncio.sleep(0.01)
            if server_id in self.fail_put_of:
                raise TimeoutError("no answer to the PUT")
            self.servers[server_id] = replace(self.servers[server_id], name=name, labels=dict(labels))
        finally:
            self._puts_now -= 1


def warm_pool(provider: Provider) -> WarmPool:
    observer = SimpleNamespace(server_seen=lambda server: None)
    project: Any = SimpleNamespace(provider=provider, observer=observer)
    return WarmPool(project, (), CLUSTER, None, lambda: None, "ubuntu-24.04")  # type: ignore[arg-type]


def instance(index: int) -> api.OpenClawInstance:
    return api.OpenClawInstance.from_body(
        {
            "metadata": {"name": f"claw-{index}", "namespace": "ns", "uid": f"uid-{index:04d}"},
            "spec": {"hostname": f"claw-{index}.example.com", "gatewayTokenSecretRef": {"name": "t"}},
        }
    )


def claim_step(claimant: api.OpenClawInstance, candidates: tuple[int, ...]) -> ClaimPoolServer:
    return ClaimPoolServer(
        reason="ClaimPoolServer",
        message="claiming",
        candidates=candidates,
        name=f"clawhost-{claimant.metadata.name}",
        labels=naming.owner_labels(claimant, CLUSTER),
        inputs_hash=INPUTS,
    )


async def test_claims_of_one_listing_run_side_by_side_and_never_share_a_server() -> None:
    provider = Provider(servers=20)
    warm = warm_pool(provider)
    candidates = tuple(provider.servers)  # every pass planned from the same listing: the same order
    claimants = [instance(i) for i in range(20)]
    results = await asyncio.gather(*(warm.claim(c, claim_step(c, candidates)) for c in claimants))
    claimed = [result[0].id for result in results if result is not None]
    assert sorted(claimed) == list(range(1, 21))  # every instance got one, none got another's
    for claimant, result in zip(claimants, results, strict=True):
        assert result is not None
        assert provider.servers[result[0].id].labels[naming.INSTANCE_UID_LABEL] == claimant.metadata.uid
    assert sorted(provider.puts) == list(range(1, 21))  # one PUT per server: no claim wasted one
    assert provider.most_puts_at_once > 1  # not one at a time behind a lock


async def test_a_claim_whose_put_failed_keeps_its_server_reserved() -> None:
    provider = Provider(servers=2, fail_put_of={1})
    warm = warm_pool(provider)
    first = instance(0)
    try:
        await warm.claim(first, claim_step(first, (1,)))
    except TimeoutError:
        pass
    else:
        raise AssertionError("the PUT's failure must reach the pass")
    provider.fail_put_of.clear()
    provider.gets.clear()
    second = instance(1)
    result = await warm.claim(second, claim_step(second, (1, 2)))
    assert result is not None and result[0].id == 2
    assert 1 not in provider.gets  # server 1 is never even looked at again by this process


async def test_a_claim_finds_nothing_when_every_candidate_was_taken() -> None:
    provider = Provider(servers=1)
    warm = warm_pool(provider)
    first, second = instance(0), instance(1)
    assert await warm.claim(first, claim_step(first, (1,))) is not None
    assert await warm.claim(second, claim_step(second, (1,))) is None  # the re-read saw it taken
    assert provider.puts == [1]

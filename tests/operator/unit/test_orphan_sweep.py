"""The sweep's edge: a failed instance LIST deletes nothing, the grace period counts from the first sweep
that saw the orphan, and what the finalizer gets is enough to delete (uid, namespace, name, policy)."""

from __future__ import annotations

from typing import Any, cast

from openclaw_operator import api
from openclaw_operator.kube import KubeClient, KubeUnavailable
from openclaw_operator.observe import Observer
from openclaw_operator.sweep import OrphanSweep
from tests.operator.unit.test_orphan_plan import CLUSTER, GONE, LIVE, ours, server


class FakeKube:
    def __init__(self) -> None:
        self.live: frozenset[str] | None = frozenset({LIVE})

    async def instance_uids(self, namespaces: tuple[str, ...]) -> frozenset[str]:
        if self.live is None:
            raise KubeUnavailable("cannot read openclawinstances in all namespaces: HTTP 503")
        return self.live


class FakeObserver:
    def listed_servers(self) -> list[Any]:
        return [server(1, ours()), server(2, ours(uid=LIVE))]

    def listed_snapshots(self) -> list[Any]:
        return []


async def test_a_failed_list_deletes_nothing_and_grace_counts_from_the_first_sighting() -> None:
    now = [0.0]
    handed: list[api.OpenClawInstance] = []
    kube = FakeKube()
    sweep = OrphanSweep(
        cast(Observer, FakeObserver()),
        lambda: cast(KubeClient, kube),
        handed.append,
        CLUSTER,
        grace=10,
        namespaces=(),
        clock=lambda: now[0],
    )
    kube.live = None
    now[0] = 100.0
    assert await sweep.sweep() is None  # an incomplete view of the instances: nothing is judged
    kube.live = frozenset({LIVE})
    await sweep.sweep()  # first sighting at 100
    now[0] = 109.0
    await sweep.sweep()
    assert handed == []
    now[0] = 110.0
    await sweep.sweep()
    (instance,) = handed
    meta = instance.metadata
    assert (meta.uid, meta.namespace, meta.name) == (GONE, "ns", "alpha")
    assert instance.spec.deletion_policy == api.DeletionPolicy.DELETE

"""Kubernetes faults while instances are being provisioned and deleted: the kube-apiserver restarted
(same port, same etcd) and every connection between the operator and the apiserver cut mid-stream, watch
streams included. The same operator process recovers: instances created or changed after the fault are
seen, everything becomes Ready, no server is created twice, deletions leave nothing behind.

The apiserver restart uses a control plane of its own (ControlPlane.restart keeps the flags and data),
so the session's shared cluster is never taken down. The watch interruption runs the operator through a
TCP relay (TLS passes through untouched) in front of the shared cluster.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from clawhost_sandbox.controlplane import ClusterAccess, ControlPlane, write_kubeconfig

from openclaw_operator.reconcile import naming
from tests.conftest import install_crd
from tests.operator.integration.harness import ZONE, OperatorProcess, Stage, wait_until
from tests.reliability.support.drive import converge
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Books, Expectation, ServerBirths, audit
from tests.reliability.support.proxies import TcpRelay
from tests.reliability.support.stages import staged
from tests.reliability.support.variants import variants

pytestmark = pytest.mark.controlplane


@dataclass(frozen=True)
class FaultPlan:
    faults: int  # apiserver restarts, or rounds of cut connections
    per_round: int  # instances created in each round
    seed: int
    settle_seconds: float


@pytest.fixture
def private_plane(tmp_path: Path) -> Iterator[tuple[ControlPlane, ClusterAccess, str]]:
    plane = ControlPlane(tmp_path / "plane", controller_manager=False)
    access = plane.start()
    try:
        install_crd(access)
        namespace = f"k-{secrets.token_hex(4)}"
        response = access.request("POST", "/api/v1/namespaces", json={"metadata": {"name": namespace}})
        assert response.status_code == 201, response.text
        yield plane, access, namespace
    finally:
        plane.stop()


def mid_provision(stage: Stage, names: list[str]) -> None:
    """Until Hetzner holds a server for one of this round's instances (none of them can be Ready yet:
    the app needs simulated boot time after the server runs)."""

    def started() -> bool:
        return any(s["labels"].get(naming.INSTANCE_NAME_LABEL) in names for s in stage.servers())

    wait_until(started, timeout=60, what="a server of this round")


def run_rounds(
    stage: Stage, operator: OperatorProcess, plan: FaultPlan, fault: Callable[[], None]
) -> tuple[dict[str, str], set[str]]:
    """Each round: create instances, wait until one is mid-provision, delete one instance (maybe of this
    round, mid-provision), inject the fault, then resize one survivor; returns uids by name and the names
    deleted."""
    rng = random.Random(plan.seed)
    uids: dict[str, str] = {}
    deleted: set[str] = set()
    for round_ in range(plan.faults):
        names = [f"r{round_}-{i}" for i in range(plan.per_round)]
        uids.update({name: stage.create_instance(name)["metadata"]["uid"] for name in names})
        mid_provision(stage, names)
        victim = rng.choice(sorted(set(uids) - deleted))
        stage.delete(victim)
        deleted.add(victim)
        fault()
        assert operator.alive(), operator.logs()[-4000:]
        survivor = rng.choice(sorted(set(uids) - deleted))
        stage.patch_spec(survivor, serverType="cx33")  # a change made after the fault must be seen
    return uids, deleted


def books_after(
    stage: Stage, uids: dict[str, str], deleted: set[str], births: ServerBirths, plan: FaultPlan
) -> Books:
    live = sorted(set(uids) - deleted)
    converge(stage, live, deleted, timeout=plan.settle_seconds)
    expected = Expectation(
        live={uids[n]: f"{n}.{ZONE}" for n in live}, gone={uids[n]: f"{n}.{ZONE}" for n in deleted}
    )
    return audit(stage.hetzner, stage.cloudflare, expected, births)


RESTART_QUICK = FaultPlan(faults=1, per_round=3, seed=1, settle_seconds=180)
RESTART_FULL = FaultPlan(faults=4, per_round=4, seed=4, settle_seconds=400)


@pytest.mark.parametrize("plan", variants(RESTART_QUICK, RESTART_FULL))
def test_apiserver_restart_mid_provision(
    private_plane: tuple[ControlPlane, ClusterAccess, str], tmp_path: Path, figures: Figures, plan: FaultPlan
) -> None:
    plane, access, namespace = private_plane
    downtime: list[float] = []

    def restart_apiserver() -> None:
        started = time.monotonic()
        plane.restart("kube-apiserver")
        downtime.append(time.monotonic() - started)

    with staged(access, namespace, tmp_path) as stage:
        births = ServerBirths.watch(stage.hetzner)
        operator = stage.start_operator()
        uids, deleted = run_rounds(stage, operator, plan, restart_apiserver)
        books = books_after(stage, uids, deleted, births, plan)
        figures.update(
            {
                "apiserver restarts": len(downtime),
                "longest apiserver downtime s": max(downtime),
                "operator restarts": 0 if operator.alive() else 1,
                "instances": len(uids),
                "deleted": len(deleted),
                **books.figures,
            }
        )
        assert operator.alive(), "the operator must ride out an apiserver restart, not die of it"
        assert len(downtime) == plan.faults
        assert books.problems == {}, books.findings


CUT_QUICK = FaultPlan(faults=3, per_round=2, seed=3, settle_seconds=180)
CUT_FULL = FaultPlan(faults=12, per_round=3, seed=12, settle_seconds=400)


@pytest.mark.parametrize("plan", variants(CUT_QUICK, CUT_FULL))
def test_cut_watch_streams_mid_provision(stage: Stage, figures: Figures, plan: FaultPlan) -> None:
    cluster = stage.cluster
    assert cluster.ca_file is not None and cluster.token is not None
    with TcpRelay(urlsplit(cluster.server).port or 443) as relay:
        kubeconfig = stage.workdir / "relayed-kubeconfig"
        write_kubeconfig(kubeconfig, f"https://127.0.0.1:{relay.port}", cluster.ca_file, cluster.token)
        births = ServerBirths.watch(stage.hetzner)
        operator = stage.start_operator(KUBECONFIG=str(kubeconfig))
        cuts: list[int] = []
        uids, deleted = run_rounds(stage, operator, plan, lambda: cuts.append(relay.sever()))
        books = books_after(stage, uids, deleted, births, plan)
        figures.update(
            {
                "rounds of cut connections": len(cuts),
                "connections cut": sum(cuts),
                "connections opened through the relay": relay.accepted,
                "operator restarts": 0 if operator.alive() else 1,
                "instances": len(uids),
                "deleted": len(deleted),
                **books.figures,
            }
        )
        assert all(cut > 0 for cut in cuts), cuts  # every round cut live connections (the watch at least)
        assert operator.alive()
        assert books.problems == {}, books.findings

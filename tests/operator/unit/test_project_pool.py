"""The pool of Hetzner projects over real observers: a burst is spread (placed-but-not-created instances
count), a full project is skipped until a server of it is gone, a server id leads to its project, and an
instance without status.project finds the project that holds a server it owns."""

from __future__ import annotations

from pydantic import SecretStr

from openclaw_operator.config import HetznerProject
from openclaw_operator.observe import Observer
from openclaw_operator.projects import Project, ProjectPool
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import ServerObservation, ServerStatus

NOW = [1000.0]


def pool(*names: str, quota: int | None = None) -> ProjectPool:
    projects = [
        Project(
            HetznerProject(name=name, token=SecretStr("t"), server_quota=quota),
            None,  # type: ignore[arg-type]  # placement never calls the provider
            Observer(None, None, [], resync_interval=300, poll_interval=2),  # type: ignore[arg-type]
        )
        for name in names
    ]
    return ProjectPool(projects, clock=lambda: NOW[0])


def server(server_id: int, uid: str) -> ServerObservation:
    labels = {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.INSTANCE_UID_LABEL: uid}
    return ServerObservation(server_id, f"s{server_id}", ServerStatus.RUNNING, "cx23", labels)


def test_a_burst_is_spread_over_the_projects() -> None:
    projects = pool("a", "b")
    chosen = [projects.place(f"uid-{i}", ("fsn1",)).project for i in range(6)]
    assert chosen == ["a", "b", "a", "b", "a", "b"]
    assert projects.place("uid-0", ("fsn1",)).project == "a"  # placing again moves its pending mark
    assert [len(p.pending) for p in projects] == [3, 3]


def test_quota_counts_pending_instances() -> None:
    projects = pool("a", quota=2)
    assert projects.place("x", ("fsn1",)).project == "a"
    assert projects.place("y", ("fsn1",)).project == "a"
    refused = projects.place("z", ("fsn1",))
    assert refused.project is None and "no Hetzner project has room" in refused.message
    projects.created("x")
    projects.get("a").observer.server_seen(server(1, "x"))  # its server exists now: still two
    assert projects.place("z", ("fsn1",)).project is None


def test_a_full_project_waits_for_a_server_to_go() -> None:
    projects = pool("a", "b")
    a = projects.get("a")
    a.observer.server_seen(server(1, "x"))
    projects.full(a)
    assert projects.place("y", ("fsn1",)).project == "b"
    assert projects.place("z", ("fsn1",)).project == "b"  # b has 2 now, a still skipped
    a.observer.server_gone(1)
    assert projects.place("w", ("fsn1",)).project == "a"


def test_servers_lead_to_their_project() -> None:
    projects = pool("a", "b")
    projects.get("b").observer.server_seen(server(7, "uid-7"))
    assert projects.holding(7, None).name == "b"
    assert projects.holding(8, "a").name == "a"  # not listed anywhere: the instance's own project
    found = projects.owner_of("uid-7")
    assert found is not None and found[0].name == "b" and found[1].id == 7
    assert projects.owner_of("nobody") is None

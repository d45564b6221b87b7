"""The Hetzner projects this operator holds: per project a provider (its own token, rate limiter and pool of
CLAWHOST_CONCURRENCY-or-its-own threads), its own observer listing, and what placement needs to know.

One place per project concept: the pool answers "which project is this instance's", "which project holds
this server id" (Hetzner's ids are unique across projects, so the listings answer it), and "what room has
each project" (reconcile/placement.py decides from that). The first project (HCLOUD_TOKEN's `default`, when
given) also lists the Cloudflare zones for every instance: records do not belong to a Hetzner project.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import SecretStr

from openclaw_operator.config import DEFAULT_PROJECT, HetznerProject
from openclaw_operator.observe import Observer
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.model import ServerObservation
from openclaw_operator.reconcile.placement import Placement, ProjectCapacity, choose_project

log = logging.getLogger(__name__)


def limiter_name(project: str) -> str:
    """The `provider` label of a project's requests: plain `hetzner` for the one-project default."""
    return "hetzner" if project == DEFAULT_PROJECT else f"hetzner/{project}"


@dataclass
class Project:
    settings: HetznerProject
    provider: HetznerProvider
    observer: Observer
    pending: set[str] = field(default_factory=set)  # uids placed here whose server is not made yet
    full_at: int | None = None
    full_since: float | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    def capacity(self) -> ProjectCapacity:
        locations = frozenset(str(loc) for loc in self.settings.locations) or None
        return ProjectCapacity(
            name=self.name,
            servers=self.observer.server_count(),
            pending=len(self.pending),
            quota=self.settings.server_quota,
            locations=locations,
            full_at=self.full_at,
            full_since=self.full_since,
        )

    def offers(self, location: str) -> bool:
        return not self.settings.locations or location in self.settings.locations


class UnknownProject(Exception):
    """status.project names a project this operator does not hold (removed from its configuration)."""


class ProjectPool:
    def __init__(self, projects: list[Project], clock: Callable[[], float] = time.monotonic) -> None:
        if not projects:
            raise ValueError("at least one Hetzner project is needed")
        self._projects = {project.name: project for project in projects}
        self._clock = clock

    def __iter__(self) -> Iterator[Project]:
        return iter(self._projects.values())

    def __len__(self) -> int:
        return len(self._projects)

    @property
    def first(self) -> Project:
        return next(iter(self._projects.values()))

    def get(self, name: str | None) -> Project:
        """The named project; None (an instance from before projects, or a vanished one): the first."""
        if name is None:
            return self.first
        try:
            return self._projects[name]
        except KeyError:
            raise UnknownProject(name) from None

    def known(self, name: str) -> bool:
        return name in self._projects

    def holding(self, server_id: int, otherwise: str | None) -> Project:
        """The project whose listing has the server; else the `otherwise` one."""
        for project in self._projects.values():
            if server_id in project.observer.server_ids():
                return project
        return self._projects.get(otherwise or "", self.first)  # unknown: a 404 there reads as gone

    def holding_snapshot(self, snapshot_id: int, otherwise: str | None) -> Project:
        """The project whose observer has the snapshot (listed, or seen by a write); else `otherwise`."""
        for project in self._projects.values():
            if snapshot_id in project.observer.snapshot_ids():
                return project
        return self._projects.get(otherwise or "", self.first)

    def owner_of(self, uid: str) -> tuple[Project, ServerObservation] | None:
        """A project whose listing has a server this instance owns (one made before status knew where)."""
        for project in self._projects.values():
            server = project.observer.server_for(uid, None)
            if server is not None and naming.owned_by(server.labels, uid):
                return project, server
        return None

    def place(self, uid: str, locations: tuple[str, ...]) -> Placement:
        """Choose a project for a new server (reconcile/placement.py) and count it there as pending."""
        placement = choose_project(tuple(p.capacity() for p in self), locations, self._clock())
        for project in self:
            project.pending.discard(uid)
        if placement.project is not None:
            self._projects[placement.project].pending.add(uid)
        return placement

    def pending(self, uid: str, project: str, waiting: bool) -> None:
        """Whether the instance placed in `project` still waits for its server."""
        if waiting:
            self.get(project).pending.add(uid)
        else:
            self.created(uid)

    def created(self, uid: str) -> None:
        for project in self:
            project.pending.discard(uid)

    def full(self, project: Project) -> None:
        """Hetzner answered resource_limit_exceeded: avoid the project until it has room."""
        project.full_at, project.full_since = project.observer.server_count(), self._clock()
        log.warning(
            "Hetzner project %s is full (%d servers); placing elsewhere", project.name, project.full_at
        )


def single_project(provider: HetznerProvider, observer: Observer) -> ProjectPool:
    """A pool of the one project a caller built by hand (the provider already holds its token)."""
    settings = HetznerProject(name=DEFAULT_PROJECT, token=SecretStr("held-by-the-provider"))
    return ProjectPool([Project(settings, provider, observer)])

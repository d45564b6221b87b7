"""Where a new server goes: which Hetzner project, and which locations may stand in for the requested one.

A project is chosen once per instance, before its server is created, and recorded in status.project, so
that a crash between the create and the status write is recovered by looking in that project (server
names are unique only per project: a second project would happily make a second server). The choice
skips projects without room: the operator's own quota (placed-but-not-created instances count, so a burst
cannot overshoot it), a project that answered `resource_limit_exceeded` (until a server of it is gone,
or FULL_RECHECK_SECONDS passed, since the limit may have been raised), and projects that do not offer
any location the instance may use. Among the rest the least loaded wins: Hetzner's rate limit is per
project and a project's steady request rate grows with its servers, so even counts keep every project
equally far from its limit. Ties go to the configured order.

Locations: under `PreferSameRegion` the other locations of the requested one's network zone may stand in
when Hetzner has no capacity for the type there; `Strict` allows only the requested one.
"""

from __future__ import annotations

from dataclasses import dataclass

from openclaw_operator import api

# Hetzner's network zones (GET /locations: `network_zone`), locations in the order they are tried.
NETWORK_ZONES: dict[str, tuple[api.Location, ...]] = {
    "eu-central": (api.Location.FSN1, api.Location.NBG1, api.Location.HEL1),
    "us-east": (api.Location.ASH,),
    "us-west": (api.Location.HIL,),
    "ap-southeast": (api.Location.SIN,),
}
FULL_RECHECK_SECONDS = 3600.0
# Hetzner's answers to a create that the location cannot take right now (no capacity for the type).
LOCATION_UNAVAILABLE_CODES = frozenset({"resource_unavailable", "placement_error"})


def network_zone(location: str) -> str | None:
    return next((zone for zone, members in NETWORK_ZONES.items() if location in members), None)


def location_candidates(requested: str, policy: api.LocationPolicy) -> tuple[str, ...]:
    """The requested location first; under PreferSameRegion then the rest of its network zone."""
    if policy != api.LocationPolicy.PREFER_SAME_REGION:
        return (requested,)
    zone = network_zone(requested)
    others = [str(loc) for loc in NETWORK_ZONES.get(zone or "", ()) if loc != requested]
    return (requested, *others)


@dataclass(frozen=True)
class ProjectCapacity:
    """What placement knows of one project at this moment."""

    name: str
    servers: int  # managed servers in its latest listing, with the creates and deletes since
    pending: int = 0  # instances placed there whose server does not exist yet
    quota: int | None = None  # the operator's ceiling; None: whatever Hetzner allows
    locations: frozenset[str] | None = None  # offered; None: all
    full_at: int | None = None  # `servers` when Hetzner last answered resource_limit_exceeded
    full_since: float | None = None  # when (monotonic seconds)

    def has_room(self, now: float) -> bool:
        if self.quota is not None and self.servers + self.pending >= self.quota:
            return False
        if self.full_at is None or self.full_since is None:
            return True
        return self.servers < self.full_at or now - self.full_since >= FULL_RECHECK_SECONDS

    def offers(self, location: str) -> bool:
        return self.locations is None or location in self.locations


@dataclass(frozen=True)
class Placement:
    project: str | None  # None: no project has room
    message: str


def choose_project(
    projects: tuple[ProjectCapacity, ...], locations: tuple[str, ...], now: float
) -> Placement:
    """The project for a new server that may go to `locations` (the first preferred)."""
    if not projects:
        return Placement(None, "no Hetzner project is configured")
    roomy = [p for p in projects if p.has_room(now)]
    offering = [p for p in roomy if any(p.offers(loc) for loc in locations)]
    if not offering:
        where = ", ".join(locations)
        if not roomy:
            full = ", ".join(p.name for p in projects)
            return Placement(None, f"no Hetzner project has room for another server (full: {full})")
        return Placement(None, f"no Hetzner project with room offers {where}")
    order = {p.name: index for index, p in enumerate(projects)}

    def preference(p: ProjectCapacity) -> tuple[int, int, int]:
        first_offered = next(i for i, loc in enumerate(locations) if p.offers(loc))
        return first_offered, p.servers + p.pending, order[p.name]

    chosen = min(offering, key=preference)
    return Placement(chosen.name, f"placed in Hetzner project {chosen.name}")

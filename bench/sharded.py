"""Shards: 10,000 instances across 3 Hetzner projects and 2 operator shards on one machine (issue 16).

The layout: shard `default` holds projects p1 and p2, shard `b` holds p3 (each shard its own projects, as
docs/shards.md has it); half the instances carry `clawhost.dev/shard: b`. Each shard also has its own
Cloudflare account and zone: Cloudflare limits requests per user, so two shards in one account would share
one 1,200-per-5-minutes budget behind two limiters that cannot see each other.

- **Steady state**: the fleet is seeded Ready (bench/seed.py, per project), both shards run for a window
  of simulated time at one time scale, and three servers (one per project) are deleted out of band.
  Figures per project (requests per hour, 429s, listings done against due) and per shard process
  (reconciles per instance per interval, CPU, peak RSS): every process must keep its schedule.
- **Burst**: on fresh simulators, both shards in real time, N new instances at once, half per shard;
  each shard places its own over its projects. Against the lower bound of bench/lowerbound.py per shard
  (its projects' buckets together, its own Cloudflare budget); 429s; duplicate servers.
- **The naive baseline** in the same run: one per-instance polling reconciler per project (bench/naive.py),
  on freshly seeded simulators for the same window, and for the same burst.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import RequestRecord

from bench.accounting import (
    duplicate_servers,
    first_answer,
    listing_passes,
    noticed_by_listing,
    servers_per_instance,
    tally,
)
from bench.burst import lower_bound_for
from bench.cluster import Cluster, note_ready
from bench.fleet import CLOUDFLARE_LIMIT, CLOUDFLARE_WINDOW, HETZNER_BUCKET, HETZNER_REFILL, ZONE, Clouds
from bench.processes import (
    CLOUDFLARE_TOKEN,
    RESYNC_SECONDS,
    MeasuredProcess,
    NaiveProcess,
    OperatorProcess,
    operator_env,
    project_token,
)
from bench.seed import (
    GATEWAY_SECRET,
    SeededInstance,
    advance_past_boot,
    handled_marks,
    instance_body,
    ready_statuses,
    seed_records,
    seed_servers,
)
from bench.steady import KEEPS_UP, rendered_servers, start_naive
from openclaw_operator import api
from openclaw_operator.config import load_config
from openclaw_operator.reconcile.model import Zone
from openclaw_operator.reconcile.shards import DEFAULT_SHARD


@dataclass(frozen=True)
class Shard:
    name: str
    projects: tuple[str, ...]
    zone: str
    cloudflare_token: str


SHARDS = (
    Shard(DEFAULT_SHARD, ("p1", "p2"), ZONE, CLOUDFLARE_TOKEN),
    Shard("b", ("p3",), f"b.{ZONE}", "bench-cloudflare-b-token-0123456789abcdef"),
)


@dataclass(frozen=True)
class ShardedConfig:
    instances: int = 10_000
    time_scale: float = 4.0
    window_seconds: float = 1200.0  # simulated; four resync intervals
    burst_instances: int = 1000
    baseline_burst_time_scale: float = 3.0
    burst_timeout_sim_seconds: float = 900.0
    settle_timeout: float = 900.0  # wall seconds
    seed: int = 0
    # Seed Kopf's diff-base too (seed.handled_marks): the operators start as a restart over a fleet they
    # settled. False: as a first adoption, where Kopf writes it for every instance at start-up.
    restart: bool = True
    shards: tuple[Shard, ...] = SHARDS


@dataclass
class ShardedClouds(Clouds):
    """One Hetzner simulator holding every shard's projects, and a Cloudflare account per shard; all on
    one simulated clock. The first shard's account is the scenario's `cloudflare`."""

    shards: tuple[Shard, ...] = SHARDS
    accounts: dict[str, CloudflareSimulator] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.accounts[self.shards[0].name] = self.cloudflare
        for shard in self.shards:
            for project in shard.projects:
                self.hetzner.add_project(project, project_token(project))
            if shard.name not in self.accounts:
                self.accounts[shard.name] = CloudflareSimulator(
                    token=shard.cloudflare_token,
                    zones=[shard.zone],
                    clock=self.clock,
                    seed=self.seed,
                    latency=self.latency,
                    rate_limit=CLOUDFLARE_LIMIT,
                    rate_limit_window_s=CLOUDFLARE_WINDOW,
                )

    def simulators(self) -> list[HetznerSimulator | CloudflareSimulator]:
        return [self.hetzner, *self.accounts.values()]

    def project_log(self, project: str) -> list[RequestRecord]:
        return [r for r in self.hetzner.request_log if r.project == project]


def shard_env(
    clouds: ShardedClouds,
    cluster: Cluster,
    shard: Shard,
    time_scale: float,
    workdir: Path,
    every: tuple[Shard, ...],
) -> dict[str, str]:
    """The operator's configuration for one shard: its projects (tokens in files, as mounted Secrets are),
    its Cloudflare account and zone, and the names of every shard of the cluster."""
    projects = []
    for project in shard.projects:
        token_file = workdir / f"token-{project}"
        token_file.write_text(project_token(project))
        projects.append({"name": project, "tokenFile": str(token_file)})
    cloudflare = clouds.accounts[shard.name]
    env = operator_env(
        clouds.hetzner,
        cloudflare,
        cluster.access,
        [shard.zone],
        time_scale,
        {
            "CLOUDFLARE_API_TOKEN": shard.cloudflare_token,
            "CLAWHOST_HETZNER_PROJECTS": json.dumps(projects),
            "CLAWHOST_SHARD": shard.name,
            "CLAWHOST_SHARDS": ",".join(s.name for s in every),
        },
    )
    env.pop("HCLOUD_TOKEN")  # the shard holds its named projects only
    return env


def shard_of(index: int, shards: tuple[Shard, ...]) -> Shard:
    return shards[index % len(shards)]


def project_of(index: int, shards: tuple[Shard, ...]) -> str:
    """Round-robin over the shard's projects, for the fleets this bench places itself (seeding, baseline)."""
    shard = shard_of(index, shards)
    return shard.projects[(index // len(shards)) % len(shard.projects)]


def sharded_body(index: int, shards: tuple[Shard, ...], finalizer: bool = True) -> dict[str, Any]:
    shard = shard_of(index, shards)
    body = instance_body(index, shard.zone, finalizer)
    if shard.name != DEFAULT_SHARD:  # the default shard's own carry no label: it also owns unlabelled ones
        body["metadata"]["labels"][api.SHARD_LABEL] = shard.name
    return body


# --- seeding -----------------------------------------------------------------------------------------
def seed_sharded(
    clouds: ShardedClouds,
    instances: list[api.OpenClawInstance],
    shards: tuple[Shard, ...],
    envs: dict[str, dict[str, str]],
) -> dict[str, list[SeededInstance]]:
    """Every instance's server in its project and records in its shard's account; project -> seeded."""
    by_project: dict[str, list[SeededInstance]] = {}
    for shard in shards:
        config = load_config(envs[shard.name])
        for project in shard.projects:
            mine = [i for n, i in enumerate(instances) if project_of(n, shards) == project]
            ids = seed_servers(clouds.hetzner, mine, config, project, advance_clock=False)
            by_project[project] = [SeededInstance(i, s) for i, s in zip(mine, ids, strict=True)]
    advance_past_boot(clouds.hetzner)
    rendered = rendered_servers(clouds)
    for shard in shards:
        seeded = [s for p in shard.projects for s in by_project[p]]
        seed_records(clouds.accounts[shard.name], shard.zone, seeded, rendered)
    return by_project


def seeded_statuses(
    clouds: ShardedClouds,
    by_project: dict[str, list[SeededInstance]],
    shards: tuple[Shard, ...],
    envs: dict[str, dict[str, str]],
) -> dict[str, dict[str, Any]]:
    """The planner's Ready status per instance, with the project and shard the operator would record."""
    rendered = rendered_servers(clouds)
    statuses: dict[str, dict[str, Any]] = {}
    for shard in shards:
        account = clouds.accounts[shard.name]
        zone = Zone(account.zone_id(shard.zone), shard.zone)
        config, records = load_config(envs[shard.name]), account.records()
        for project in shard.projects:
            found = ready_statuses(by_project[project], rendered, zone, records, config)
            for status in found.values():
                status.update(project=project, shard=shard.name)
            statuses.update(found)
    return statuses


# --- steady state ------------------------------------------------------------------------------------
def run_sharded(cluster: Cluster, cfg: ShardedConfig, workdir: Path) -> dict[str, Any]:
    namespace = cluster.namespace(f"sharded-{cfg.instances}")
    cluster.secret(namespace, GATEWAY_SECRET)
    started = time.monotonic()
    created = cluster.create_instances(namespace, [sharded_body(i, cfg.shards) for i in range(cfg.instances)])
    instances = [api.OpenClawInstance.from_body(body) for body in created]
    print(f"  {cfg.instances} instances created in {time.monotonic() - started:.0f}s", flush=True)
    if cfg.restart:
        cluster.patch_instances(namespace, handled_marks(created))
    ours = _steady_operator(cluster, cfg, namespace, instances, workdir)
    print(f"bench:   sharded steady state measured ({ours['kept_up']=})", flush=True)
    naive = _steady_naive(cluster, cfg, created, instances, workdir)
    print("bench:   sharded baseline measured", flush=True)
    burst = run_sharded_burst(cluster, cfg, workdir)
    return {
        "instances": cfg.instances,
        "start": "restart" if cfg.restart else "first adoption",
        "layout": {s.name: {"projects": list(s.projects), "zone": s.zone} for s in cfg.shards},
        "steady_state": ours,
        "burst": burst["ours"],
        "baseline": {"steady_state": naive, "burst": burst["baseline"]},
    }


def _steady_operator(
    cluster: Cluster, cfg: ShardedConfig, namespace: str, instances: list[api.OpenClawInstance], workdir: Path
) -> dict[str, Any]:
    with ShardedClouds(cfg.time_scale, cfg.seed, shards=cfg.shards) as clouds:
        envs = {
            s.name: shard_env(clouds, cluster, s, cfg.time_scale, workdir, cfg.shards) for s in cfg.shards
        }
        by_project = seed_sharded(clouds, instances, cfg.shards, envs)
        cluster.patch_statuses(namespace, seeded_statuses(clouds, by_project, cfg.shards, envs))
        operators = {
            s.name: OperatorProcess(envs[s.name], [namespace], workdir / f"operator-shard-{s.name}.log")
            for s in cfg.shards
        }
        counts = {s.name: sum(len(by_project[p]) for p in s.projects) for s in cfg.shards}
        for operator in operators.values():
            operator.start()
        try:
            return _measure_steady(
                clouds,
                cfg,
                operators,
                by_project,
                counts,
                reconciles=lambda shard: int(operators[shard].reconciles()),
                lists=True,
            )
        finally:
            for operator in operators.values():
                operator.kill()


def _steady_naive(
    cluster: Cluster,
    cfg: ShardedConfig,
    bodies: list[dict[str, Any]],
    instances: list[api.OpenClawInstance],
    workdir: Path,
) -> dict[str, Any]:
    """One baseline per project: a naive reconciler has no notion of placement, so each gets the
    instances the operator's seeding put in its project, its project's token and its shard's account."""
    by_uid = {body["metadata"]["uid"]: body for body in bodies}
    with ShardedClouds(cfg.time_scale, cfg.seed, shards=cfg.shards) as clouds:
        envs = {
            s.name: shard_env(clouds, cluster, s, cfg.time_scale, workdir, cfg.shards) for s in cfg.shards
        }
        by_project = seed_sharded(clouds, instances, cfg.shards, envs)
        processes = {}
        for shard in cfg.shards:
            for project in shard.projects:
                seeded = by_project[project]
                processes[project] = start_naive(
                    clouds,
                    cfg.time_scale,
                    [by_uid[s.instance.metadata.uid] for s in seeded],
                    [s.server_id for s in seeded],
                    workdir,
                    f"sharded-{project}",
                    project,
                    clouds.accounts[shard.name],
                    shard.zone,
                    shard.cloudflare_token,
                )
        counts = {project: len(seeded) for project, seeded in by_project.items()}
        try:
            return _measure_steady(
                clouds,
                cfg,
                processes,
                by_project,
                counts,
                reconciles=lambda project: naive_reconciles(clouds.project_log(project)),
                lists=False,
            )
        finally:
            for process in processes.values():
                process.stop()


def naive_reconciles(log: Iterable[RequestRecord], start: float = float("-inf")) -> int:
    """Each naive reconcile starts with one GET of its server (by id, or by name before it has one)."""
    return sum(
        1
        for r in log
        if r.method == "GET"
        and r.sim_time >= start
        and (r.template == "/servers/{id}" or (r.template == "/servers" and "name=" in r.query))
    )


def _measure_steady(
    clouds: ShardedClouds,
    cfg: ShardedConfig,
    processes: dict[str, MeasuredProcess],
    by_project: dict[str, list[SeededInstance]],
    counts: dict[str, int],
    reconciles: Callable[[str], int],
    lists: bool,
) -> dict[str, Any]:
    """`processes` and `counts` are keyed alike (shard names for the operator, projects for the baseline)."""
    clock = clouds.clock
    launched = time.monotonic()
    deadline = launched + cfg.settle_timeout
    settled = False
    while time.monotonic() < deadline and not settled:
        for name, process in processes.items():
            if not process.alive():
                raise RuntimeError(f"{name} exited during start-up; log tail:\n{process.log_text()[-3000:]}")
            process.sample_rss()
        settled = all(reconciles(name) >= counts[name] for name in processes)
        time.sleep(0.5)
    start, settle_wall = clock.now(), time.monotonic() - launched
    before = {name: (p.cpu_seconds(), reconciles(name)) for name, p in processes.items()}
    rng = random.Random(cfg.seed)
    victims = [rng.choice(by_project[p]) for p in sorted(by_project)]  # one per project
    offsets = sorted(rng.uniform(0.05, 0.66) * cfg.window_seconds for _ in victims)
    deletions: list[tuple[float, str, SeededInstance]] = []
    end = start + cfg.window_seconds
    while clock.now() < end:
        if offsets and clock.now() >= start + offsets[0]:
            offsets.pop(0)
            victim = victims[len(deletions)]
            clouds.hetzner.delete_server_out_of_band(victim.server_id)
            deletions.append((clock.now(), sorted(by_project)[len(deletions)], victim))
        for process in processes.values():
            process.sample_rss()
        time.sleep(0.5)
    after = {name: (p.cpu_seconds(), reconciles(name)) for name, p in processes.items()}
    intervals = cfg.window_seconds / RESYNC_SECONDS
    projects = {p: _project_figures(clouds, p, start, end, lists) for p in sorted(by_project)}
    drift = _drift(clouds, deletions, lists)
    per_process = {}
    for name, process in processes.items():
        cpu, done = after[name][0] - before[name][0], after[name][1] - before[name][1]
        per_resync = done / max(counts[name], 1) / intervals
        own = [p for s in cfg.shards if s.name == name for p in s.projects] if lists else [name]
        per_process[name] = {
            "instances": counts[name],
            "projects": own,
            "reconciles": done,
            "reconciles_per_instance_per_resync": round(per_resync, 2),
            "cpu_seconds": round(cpu, 1),
            "cores_in_real_time": round(cpu / cfg.window_seconds, 4),
            "cpu_seconds_per_reconcile": round(cpu / done, 5) if done else None,
            "peak_rss_mb": round(process.peak_rss_mb(), 1),
            "kept_up": per_resync >= KEEPS_UP
            and all(projects[p]["listed_on_schedule"] is not False for p in own),
        }
    cloudflare = {}
    for shard in cfg.shards:
        account = clouds.accounts[shard.name]
        counted = tally(account.request_log, account.api_prefix, start, end)
        cloudflare[shard.name] = {
            "requests_per_hour": round(counted.per_hour, 1),
            "rate_limited": counted.rate_limited,
        }
    return {
        "time_scale": clock.time_scale,
        "window_sim_seconds": cfg.window_seconds,
        "startup": {"settled": settled, "wall_seconds": round(settle_wall, 1)},
        "projects": projects,
        "processes": per_process,
        "cloudflare": cloudflare,
        "drift": drift,
        "drift_detection_seconds": max(drift["noticed_seconds"])
        if len(drift["noticed_seconds"]) == len(deletions)
        else None,
        "kept_up": all(p["kept_up"] for p in per_process.values()),
    }


def _project_figures(
    clouds: ShardedClouds, project: str, start: float, end: float, lists: bool
) -> dict[str, Any]:
    log = clouds.project_log(project)
    counted = tally(log, clouds.hetzner.api_prefix, start, end)
    passes = [a for a, _ in listing_passes(log, "label_selector") if start <= a < end]
    due = int((end - start) // RESYNC_SECONDS)
    return {
        "servers": len(clouds.hetzner.servers(project)),
        "hetzner_requests_per_hour": round(counted.per_hour, 1),
        "rate_limited": counted.rate_limited,
        "by_operation": counted.by_operation,
        "list_passes": len(passes),
        "expected_list_passes": due,
        "listed_on_schedule": (len(passes) >= due - 1) if lists else None,
    }


def _drift(
    clouds: ShardedClouds, deletions: list[tuple[float, str, SeededInstance]], lists: bool
) -> dict[str, Any]:
    """Per out-of-band deletion: when its project's next full listing (operator) or the 404 to the
    baseline's GET showed it gone, and when the replacing POST /servers went out."""
    noticed, repaired = [], []
    for at, project, victim in deletions:
        log = clouds.project_log(project)
        if lists:
            seen = noticed_by_listing(listing_passes(log, "label_selector"), at)
        else:
            seen = first_answer(log, f"/servers/{victim.server_id}", 404, at)
        created = clouds.created_for(victim.instance.metadata.uid, at)
        noticed += [round(seen - at, 1)] if seen is not None else []
        repaired += [round(created - at, 1)] if created is not None else []
    return {"deletions": len(deletions), "noticed_seconds": noticed, "repair_started_seconds": repaired}


# --- burst -------------------------------------------------------------------------------------------
def project_bucket(clouds: ShardedClouds, project: str) -> float:
    """Tokens in a project's bucket now: its last answer's RateLimit-Remaining plus the refill since."""
    answered = [r for r in clouds.project_log(project) if r.rate_limit_remaining is not None]
    if not answered:
        return float(HETZNER_BUCKET)
    last = answered[-1]
    assert last.rate_limit_remaining is not None
    refilled = last.rate_limit_remaining + (clouds.clock.now() - last.sim_time) * HETZNER_REFILL
    return min(float(HETZNER_BUCKET), refilled)


def sharded_lower_bound(
    clouds: ShardedClouds, shards: tuple[Shard, ...], per_shard: dict[str, int], tokens: dict[str, float]
) -> dict[str, Any]:
    """The latest of the shards' bounds. A shard's projects are taken as one bucket holding all their
    tokens and refilled at their summed rate: that can only send earlier than split buckets would, so the
    bound stays a lower bound whatever split the operator chooses. Each shard has its own Cloudflare
    budget."""
    bounds = {
        shard.name: lower_bound_for(
            clouds,
            per_shard[shard.name],
            sum(tokens[p] for p in shard.projects),
            HETZNER_REFILL * len(shard.projects),
        )
        for shard in shards
    }
    return {"seconds": max(b["seconds"] for b in bounds.values()), "shards": bounds}


def run_sharded_burst(cluster: Cluster, cfg: ShardedConfig, workdir: Path) -> dict[str, Any]:
    namespace = cluster.namespace("sharded-burst")
    cluster.secret(namespace, GATEWAY_SECRET)
    n, shards = cfg.burst_instances, cfg.shards
    bodies = [sharded_body(i, shards, finalizer=False) for i in range(n)]
    per_shard = {s.name: sum(1 for i in range(n) if shard_of(i, shards) == s) for s in shards}
    with ShardedClouds(1.0, cfg.seed, shards=shards) as clouds:
        envs = {s.name: shard_env(clouds, cluster, s, 1.0, workdir, shards) for s in shards}
        operators = {
            s.name: OperatorProcess(envs[s.name], [namespace], workdir / f"operator-burst-{s.name}.log")
            for s in shards
        }
        for operator in operators.values():
            operator.start()
        try:
            listed = {p for s in shards for p in s.projects}
            _until(
                lambda: all(any(r.template == "/servers" for r in clouds.project_log(p)) for p in listed),
                120,
                operators.values(),
            )
            tokens = {p: project_bucket(clouds, p) for p in listed}
            cpu = {name: op.cpu_seconds() for name, op in operators.items()}
            start = clouds.clock.now()
            created = cluster.create_instances(namespace, bodies)
            ready_at: dict[str, float] = {}

            def all_ready() -> bool:
                for op in operators.values():
                    op.sample_rss()
                return note_ready(cluster, namespace, ready_at, clouds.clock.now()) == n

            _until(all_ready, cfg.burst_timeout_sim_seconds, operators.values(), pause=0.5)
            ours = _burst_figures(clouds, shards, start, ready_at, n, per_shard, tokens)
            ours["processes"] = {
                name: {
                    "cpu_seconds": round(op.cpu_seconds() - cpu[name], 1),
                    "peak_rss_mb": round(op.peak_rss_mb(), 1),
                }
                for name, op in operators.items()
            }
            ours["time_scale"] = 1.0
        finally:
            for operator in operators.values():
                operator.stop()
    return {"ours": ours, "baseline": _burst_naive(cfg, created, per_shard, workdir)}


def _burst_naive(
    cfg: ShardedConfig, created: list[dict[str, Any]], per_shard: dict[str, int], workdir: Path
) -> dict[str, Any]:
    scale, shards, n = cfg.baseline_burst_time_scale, cfg.shards, len(created)
    with ShardedClouds(scale, cfg.seed, shards=shards) as clouds:
        processes: list[NaiveProcess] = []
        for shard in shards:
            for project in shard.projects:
                mine = [b for i, b in enumerate(created) if project_of(i, shards) == project]
                processes.append(
                    start_naive(
                        clouds,
                        scale,
                        mine,
                        [None] * len(mine),
                        workdir,
                        f"burst-{project}",
                        project,
                        clouds.accounts[shard.name],
                        shard.zone,
                        shard.cloudflare_token,
                    )
                )
        try:
            _until(lambda: all(p.events("started") for p in processes), 120, processes)
            listed = [p for s in shards for p in s.projects]
            tokens = {p: project_bucket(clouds, p) for p in listed}
            start = clouds.clock.now()

            def ready() -> dict[str, float]:
                now_sim, now_wall = clouds.clock.now(), time.time()
                return {
                    str(e["uid"]): now_sim - (now_wall - float(e["wall"])) * scale  # type: ignore[arg-type]
                    for p in processes
                    for e in p.events("ready")
                }

            _until(lambda: len(ready()) >= n, cfg.burst_timeout_sim_seconds / scale, processes, pause=1.0)
            figures = _burst_figures(clouds, shards, start, ready(), n, per_shard, tokens)
            figures["time_scale"] = scale
            return figures
        finally:
            for process in processes:
                process.stop()


def _until(
    done: Callable[[], bool], timeout: float, processes: Iterable[MeasuredProcess], pause: float = 0.1
) -> bool:
    deadline = time.monotonic() + timeout
    watched = list(processes)
    while time.monotonic() < deadline and all(p.alive() for p in watched):
        if done():
            return True
        time.sleep(pause)
    return done()


def _burst_figures(
    clouds: ShardedClouds,
    shards: tuple[Shard, ...],
    start: float,
    ready_at: dict[str, float],
    n: int,
    per_shard: dict[str, int],
    tokens: dict[str, float],
) -> dict[str, Any]:
    end = clouds.clock.now()
    projects = {}
    for project in sorted(tokens):
        counted = tally(clouds.project_log(project), clouds.hetzner.api_prefix, start, end)
        projects[project] = {
            "servers": len(clouds.hetzner.servers(project)),
            "requests": counted.total,
            "rate_limited": counted.rate_limited,
            "initial_tokens": round(tokens[project], 1),
        }
    cloudflare_limited = 0
    for account in clouds.accounts.values():
        cloudflare_limited += tally(account.request_log, account.api_prefix, start, end).rate_limited
    created: dict[str, int] = {}
    for creation in clouds.creations:
        created[creation.uid] = created.get(creation.uid, 0) + 1
    bound = sharded_lower_bound(clouds, shards, per_shard, tokens)
    elapsed = max(ready_at.values()) - start if len(ready_at) == n else None
    hetzner_limited = sum(p["rate_limited"] for p in projects.values())
    return {
        "instances": n,
        "ready": len(ready_at),
        "time_to_all_ready_seconds": round(elapsed, 1) if elapsed is not None else None,
        "lower_bound_seconds": bound["seconds"],
        "lower_bound": bound,
        "ratio_to_lower_bound": round(elapsed / bound["seconds"], 3) if elapsed is not None else None,
        "rate_limited_responses": hetzner_limited + cloudflare_limited,
        "hetzner_rate_limited": hetzner_limited,
        "cloudflare_rate_limited": cloudflare_limited,
        "duplicate_servers": duplicate_servers(servers_per_instance(clouds.hetzner.servers())),
        "servers_created_more_than_once": duplicate_servers(created),
        "projects": projects,
    }

"""A fleet that is already Ready, built without provisioning it: what the operator would have left behind.

Provisioning 5,000 instances through the operator would spend the rate limit for hours, so steady-state
scenarios start from the end state instead:
- the OpenClawInstances are created through the real apiserver (with our finalizer, as the operator
  would have added it), so each gets its real metadata.uid;
- the Hetzner simulator gets, per instance, the server the operator would have created (same name, owner
  labels, type, image and location, through the simulator's own create operation) with delete and rebuild
  protection on (the operator's step after create), plus the managed firewall; no user data (the operator
  never reads it back, and 5,000 copies would only cost memory);
- the Cloudflare simulator gets the A and AAAA records with our ownership comment;
- the simulated clock jumps past the create and start actions and the app's boot, so everything runs;
- each instance's status is what the operator's own planner (`reconcile.instance.decide`) computes from
  exactly those observations, written through the status subresource. Seeding fails loudly if the planner
  would still take a step, so a seeded fleet is one the operator has nothing to do for.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import hcloud
import kopf
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner import firewalls, servers
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from hcloud.servers import BoundServer

from openclaw_operator import api, handlers
from openclaw_operator.bootstrap.firewall import managed_firewall_rules
from openclaw_operator.config import DEFAULT_PROJECT, Config
from openclaw_operator.providers.app import health_url
from openclaw_operator.providers.cloudflare import record_observation
from openclaw_operator.providers.hetzner import server_observation
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.instance import decide
from openclaw_operator.reconcile.model import (
    AppObservation,
    PlanSettings,
    ServerObservation,
    Situation,
    Zone,
    step_name,
)
from openclaw_operator.reconciler import Reconciler

GATEWAY_SECRET = "gateway-token"
SEED_CHUNK = 250  # servers created per call into the simulators' loop
_SDK = hcloud.Client("parse-only").servers  # builds SDK objects from JSON; never sends a request


class SeedingError(RuntimeError):
    pass


def observe_server(rendered: dict[str, Any]) -> ServerObservation:
    """The operator's own view of a server as the API renders it (the SDK parses its input in place)."""
    return server_observation(BoundServer(_SDK, copy.deepcopy(rendered)))


def instance_body(index: int, zone: str, finalizer: bool = True) -> dict[str, Any]:
    name = f"claw-{index:05d}"
    metadata: dict[str, Any] = {"name": name, "labels": {api.WHMCS_SERVICE_LABEL: str(10_000 + index)}}
    if finalizer:
        metadata["finalizers"] = [api.FINALIZER]
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": metadata,
        "spec": {"hostname": f"{name}.{zone}", "gatewayTokenSecretRef": {"name": GATEWAY_SECRET}},
    }


@dataclass(frozen=True)
class SeededInstance:
    instance: api.OpenClawInstance
    server_id: int


def plan_settings(config: Config) -> PlanSettings:
    """The planner settings the operator derives from this configuration (the reconciler only stores its
    collaborators when built, so one without clients is enough to read them)."""
    observer = SimpleNamespace()  # takes the attributes the reconciler hands its observers, nothing else
    return Reconciler(config, observer, *([None] * 5)).settings  # type: ignore[arg-type]


def seed_servers(
    hetzner: HetznerSimulator,
    instances: list[api.OpenClawInstance],
    config: Config,
    project: str = DEFAULT_PROJECT,
    advance_clock: bool = True,
) -> list[int]:
    """The managed firewall and one running, protected server per instance in `project`; returns the
    server ids. The clock then jumps past the create and start actions and the app's boot."""

    world = hetzner.projects[project].world
    selector = {"type": "label_selector", "label_selector": {"selector": naming.MANAGED_SELECTOR}}
    firewall = {
        "name": naming.FIREWALL_NAME,
        "labels": {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
        "rules": managed_firewall_rules(list(config.ssh_source_ranges)),
        "apply_to": [selector],
    }
    hetzner.call_in_loop(lambda: firewalls.create_firewall(world, firewall))
    bodies = [
        {
            "name": naming.server_name(instance.metadata.name, instance.metadata.uid),
            "server_type": instance.spec.server_type,
            "image": instance.spec.image.value,
            "location": instance.spec.location.value,
            "labels": naming.owner_labels(instance),
            "start_after_create": True,
        }
        for instance in instances
    ]

    def create(chunk: list[dict[str, Any]]) -> list[int]:
        ids = []
        for body in chunk:
            created = servers.create_server(world, body, None)
            server = world.servers[created["server"]["id"]]
            server.protection_delete = server.protection_rebuild = True
            ids.append(server.id)
        return ids

    # In chunks: each call holds the simulators' loop, and a busy machine must not time it out.
    ids = []
    for at in range(0, len(bodies), SEED_CHUNK):
        ids += hetzner.call_in_loop(functools.partial(create, bodies[at : at + SEED_CHUNK]))
    if advance_clock:
        advance_past_boot(hetzner)
    return ids


def advance_past_boot(hetzner: HetznerSimulator) -> None:
    seconds = hetzner.world.action_seconds
    hetzner.clock.advance(seconds["create_server"] + seconds["start_server"] + hetzner.app_boot_seconds + 1)


def seed_records(cloudflare: CloudflareSimulator, zone: str, instances: list[SeededInstance],
                 rendered: dict[int, dict[str, Any]]) -> None:  # fmt: skip
    for seeded in instances:
        server = observe_server(rendered[seeded.server_id])
        spec = seeded.instance.spec
        for type_, content in (("A", server.ipv4), ("AAAA", server.ipv6)):
            cloudflare.add_record_out_of_band(
                zone, name=spec.hostname, type=type_, content=content, ttl=spec.dns.ttl, proxied=False,
                comment=naming.record_comment(seeded.instance.metadata.uid),
            )  # fmt: skip


def ready_statuses(
    instances: list[SeededInstance],
    rendered: dict[int, dict[str, Any]],
    zone: Zone,
    records: list[dict[str, Any]],
    config: Config,
) -> dict[str, dict[str, Any]]:
    """name -> the status the operator's planner settles on for this seeded state."""
    settings = plan_settings(config)
    by_owner: dict[str, list[Any]] = {}
    for record in records:
        observed = record_observation(zone.id, SimpleNamespace(**record))
        owner = naming.record_owner(observed.comment)
        if owner:
            by_owner.setdefault(owner, []).append(observed)
    statuses = {}
    for seeded in instances:
        instance = seeded.instance
        server = observe_server(rendered[seeded.server_id])
        url = health_url(config.app_health_url, instance, server)
        app = AppObservation(True, f"the gateway answers at {url}")
        for _ in range(3):  # the first pass records ids and addresses, the next must change nothing
            situation = Situation(
                instance=instance, server=server, action=None, desired_type=None, zone=zone,
                records=tuple(by_owner.get(instance.metadata.uid, ())), app=app, settings=settings,
                now=api.now(),
            )  # fmt: skip
            decision = decide(situation)
            if decision.steps:
                steps = ", ".join(step_name(step) for step in decision.steps)
                raise SeedingError(f"{instance.metadata.name}: the planner would still act ({steps})")
            if decision.status == instance.status:
                break
            instance = instance.model_copy(update={"status": decision.status})
        ready = instance.status.condition(api.ConditionType.READY)
        if ready is None or ready.status != "True":
            raise SeedingError(
                f"{instance.metadata.name}: seeded state is not Ready: {instance.status.message}"
            )
        statuses[instance.metadata.name] = instance.status.to_api()
    return statuses


def handled_marks(created: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per instance name, the metadata patch with Kopf's diff-base annotation (the spec it last handled),
    as an operator that created and settled these instances leaves it. Without it, Kopf takes each seeded
    instance for a new one at start-up and writes the annotation for every one of them: what a first
    adoption of a fleet costs, not a restart. Built from the created bodies (the CRD's defaults in them),
    as Kopf builds it from what it watches."""
    storage = handlers.diffbase_storage()
    marks = {}
    for raw in created:
        body = kopf.Body(raw)
        patch = kopf.Patch()
        storage.store(body=body, patch=patch, essence=storage.build(body=body))
        marks[raw["metadata"]["name"]] = dict(patch)
    return marks

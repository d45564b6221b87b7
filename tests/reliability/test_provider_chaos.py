"""Provider chaos: instances are provisioned and then suspended and resized while both providers fail
10 % of requests, answer 429 storms, slow down past the operator's HTTP timeout, fail asynchronous
actions, and go down completely for two simulated minutes. Everything converges; no duplicate is ever
created; the limiter never sends while it believes the bucket is empty.

Simulated time runs 40x faster than the wall clock, so the two-minute outage lasts three
seconds of wall time. Faults are seeded (the simulators' fault generators draw from the plan's seed).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from clawhost_sandbox.simcore import Latency
from clawhost_sandbox.simserver import SimulatorServer

from tests.operator.integration.harness import Stage, wait_until
from tests.reliability.support.drive import converge, ready_now
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Expectation, ServerBirths, audit, server_owner
from tests.reliability.support.limiter import empty_bucket_report
from tests.reliability.support.proxies import LossyProxy
from tests.reliability.support.variants import variants

pytestmark = pytest.mark.controlplane

SERVERS = "/servers"
RECORDS = "/zones/{zone_id}/dns_records"
TIME_SCALE = 40.0  # the two-minute outage lasts three seconds of wall time
OUTAGE_SECONDS = 120.0  # simulated
STORM_SECONDS = 180.0
# Every answer takes a heavy-tailed time (median 0.5 simulated s, one in a hundred over 8 s); a spike makes
# one operation take 3 s of wall time, over the operator's 2 s HTTP timeout (the request is abandoned
# before the simulator carries it out; answers lost after the effect come from the LossyProxy).
BACKGROUND_LATENCY = Latency.lognormal(0.5, 1.2)
SPIKE = Latency.constant(3.0 * TIME_SCALE)
PROVIDER_TIMEOUT = "2"


@dataclass(frozen=True)
class ChaosPlan:
    instances: int
    suspends: int
    resizes: int
    seed: int
    settle_seconds: float


QUICK = ChaosPlan(instances=6, suspends=2, resizes=2, seed=10, settle_seconds=150)
FULL = ChaosPlan(instances=30, suspends=10, resizes=10, seed=30, settle_seconds=420)


def spike(sim: SimulatorServer, operation: str, on: bool) -> None:
    if on:
        sim.latency.set(operation, SPIKE)
    else:
        sim.latency.per_operation.pop(operation, None)


def arm_background_faults(stage: Stage, seed: int) -> None:
    for sim in (stage.hetzner, stage.cloudflare):
        sim.faults.seed = seed
        sim.faults.error_rate("*", "*", 0.10, status=503, code="service_error")
        sim.latency.default = BACKGROUND_LATENCY
    # The chained start after a create fails too: the server is left off, and must be powered on.
    stage.hetzner.faults.fail_actions("create_server", 2)
    stage.hetzner.faults.fail_actions("start_server", 1)


def day2_ready(expected: dict[str, dict[str, Any]]) -> Any:
    def check(body: dict[str, Any]) -> bool:
        spec = expected[body["metadata"]["name"]]
        phase = "Suspended" if spec.get("suspended") else "Running"
        return ready_now(body) and (body.get("status") or {}).get("phase") == phase

    return check


@pytest.mark.parametrize("plan", variants(QUICK, FULL))
def test_everything_converges_through_provider_chaos_without_duplicates(
    stage: Stage, figures: Figures, plan: ChaosPlan
) -> None:
    births = ServerBirths.watch(stage.hetzner)
    stage.hetzner.clock.time_scale = TIME_SCALE  # shared by both simulators
    arm_background_faults(stage, plan.seed)
    with LossyProxy(stage.hetzner.base_url) as hetzner, LossyProxy(stage.cloudflare.base_url) as cloudflare:
        hetzner.lose_answers("POST", r"/v1/servers$", 2)  # created, but the operator never hears
        cloudflare.lose_answers("POST", r"/dns_records$", 2)
        hetzner.lose_answers("DELETE", r"/v1/servers/\d+$", 1)
        cloudflare.lose_answers("DELETE", r"/dns_records/\w+$", 1)
        stage.start_operator(
            HCLOUD_ENDPOINT=hetzner.base_url + "/v1",
            CLOUDFLARE_BASE_URL=cloudflare.base_url + "/client/v4",
            CLAWHOST_PROVIDER_TIMEOUT_SECONDS=PROVIDER_TIMEOUT,
        )
        names = [f"x{i:02d}" for i in range(plan.instances)]
        uids = {name: stage.create_instance(name)["metadata"]["uid"] for name in names}
        started = time.monotonic()
        provision_through_storms_and_outage(stage)
        converge(stage, names, timeout=plan.settle_seconds)
        figures["seconds to provision"] = time.monotonic() - started
        started = time.monotonic()
        expected = change_through_failing_actions(stage, names, plan)
        converge(stage, names, timeout=plan.settle_seconds, check=day2_ready(expected))
        figures["seconds to suspend and resize"] = time.monotonic() - started
        live = Expectation(live={uids[n]: f"{n}.example.com" for n in names}, gone={})
        books = audit(stage.hetzner, stage.cloudflare, live, births)
        mismatches = state_mismatches(stage, uids, expected)

        started = time.monotonic()
        for name in names:
            stage.delete(name)
        converge(stage, [], gone=names, timeout=plan.settle_seconds)
        figures["seconds to delete"] = time.monotonic() - started
        after = audit(stage.hetzner, stage.cloudflare, Expectation(live={}, gone=live.live), births)
        lost = hetzner.lost + cloudflare.lost
        sent = {"hetzner": hetzner.arrivals, "cloudflare": cloudflare.arrivals}

    injected = Counter(
        r.fault for sim in (stage.hetzner, stage.cloudflare) for r in sim.request_log if r.fault
    )
    failed_actions = Counter(a["command"] for a in stage.hetzner.actions() if a["status"] == "error")
    spiked = sum(1 for r in stage.hetzner.request_log if (r.method, r.template) == ("POST", SERVERS))
    limiter = empty_bucket_report(stage, stage.all_logs(), sent)
    figures.update(
        {
            "instances": plan.instances,
            "5xx injected": injected["error"],
            "outage answers": injected["outage"],
            "429 storm answers": injected["rate_limit"],
            "failed actions": sum(failed_actions.values()),
            "answers lost after the effect": len(lost),
            "server creates sent": spiked,
            "limiter empty windows": sum(limiter.windows.values()),
            "requests sent into an empty bucket": limiter.sent_inside,
            "servers in the wrong state": len(mismatches),
            **books.figures,
            "leaked servers after deletion": after.figures["leaked servers"],
            "leaked records after deletion": after.figures["leaked records"],
        }
    )
    assert injected["error"] > 0 and injected["outage"] > 0 and injected["rate_limit"] > 0, injected
    assert set(failed_actions) == {"create_server", "start_server", "shutdown_server", "change_server_type"}
    assert len(lost) == 6, lost  # every planned lost answer happened
    assert limiter.windows["hetzner"] > 0 and limiter.windows["cloudflare"] > 0, limiter
    assert limiter.sent_inside == 0
    assert mismatches == []
    assert books.problems == {}, books.findings
    assert books.figures["servers"] == plan.instances
    assert after.figures["servers"] == 0 and after.problems == {}, after.findings
    stage.assert_no_secrets_leaked()


def provision_through_storms_and_outage(stage: Stage) -> None:
    """Server creates take longer than the operator waits (no effect) until a first server exists; then
    a 429 storm on each provider as soon as it is in use, each followed by a two-minute outage."""
    spike(stage.hetzner, f"POST {SERVERS}", on=True)
    wait_until(lambda: len(stage.servers()) >= 1, timeout=60, what="a first server")
    spike(stage.hetzner, f"POST {SERVERS}", on=False)
    stage.hetzner.faults.rate_limit_storm(STORM_SECONDS)
    stage.hetzner.faults.outage(STORM_SECONDS + 10, OUTAGE_SECONDS)
    wait_until(
        lambda: any(r.template == RECORDS and r.method == "POST" for r in stage.cloudflare.request_log),
        timeout=90,
        what="a first DNS write",
    )
    stage.cloudflare.faults.rate_limit_storm(STORM_SECONDS)
    stage.cloudflare.faults.outage(STORM_SECONDS + 10, OUTAGE_SECONDS)


def change_through_failing_actions(
    stage: Stage, names: list[str], plan: ChaosPlan
) -> dict[str, dict[str, Any]]:
    """Suspend some instances and resize others while a shutdown, a resize and a power-on fail once each,
    and a 30-second outage hits Hetzner; returns the spec each instance should have settled on."""
    for command in ("shutdown_server", "change_server_type", "start_server"):
        stage.hetzner.faults.fail_actions(command, 1)
    chosen = random.Random(plan.seed).sample(names, plan.suspends + plan.resizes)
    expected: dict[str, dict[str, Any]] = {name: {"serverType": "cx23"} for name in names}
    for name in chosen[: plan.suspends]:
        expected[name]["suspended"] = True
    for name in chosen[plan.suspends :]:
        expected[name]["serverType"] = "cx33"
    for name in chosen:
        stage.patch_spec(name, **expected[name])
    stage.hetzner.faults.outage(10, OUTAGE_SECONDS / 4)
    return expected


def state_mismatches(stage: Stage, uids: dict[str, str], expected: dict[str, dict[str, Any]]) -> list[str]:
    """Instances whose server's type or power state is not what their spec asks for."""
    servers = {server_owner(s): s for s in stage.servers()}
    return [
        name
        for name, uid in uids.items()
        if servers[uid]["server_type"]["name"] != expected[name]["serverType"]
        or (servers[uid]["status"] == "off") != bool(expected[name].get("suspended"))
    ]

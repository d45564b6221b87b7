"""Bad input: hypothesis generates OpenClawInstance bodies (mostly sound specs with a field or two bent
out of shape, and names of every kind) and posts them to the real apiserver while the operator runs.

Every input is either rejected by the apiserver with a message naming the field at fault, or accepted
and then handled by the operator: it settles Ready, Stalled with a message, or waiting for its token
Secret, never with an internal error; the operator process stays alive and logs no traceback. Deleting
everything afterwards leaves nothing owned behind (deletionPolicy Retain leaves released resources).
"""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings

from openclaw_operator.api import API_VERSION, KIND
from openclaw_operator.reconcile import naming
from tests.operator.integration.harness import Stage, condition
from tests.reliability.support.drive import converge
from tests.reliability.support.figures import Figures
from tests.reliability.support.inventory import Expectation, ServerBirths, audit
from tests.reliability.support.specs import TOKEN_SECRET, names, specs
from tests.reliability.support.variants import variants
from tests.support.kube import instances_path

pytestmark = pytest.mark.controlplane

WAITING_REASONS = {"GatewayTokenUnavailable"}  # a missing Secret: retried until it appears


@dataclass(frozen=True)
class FuzzPlan:
    examples: int
    seed: int
    settle_seconds: float


QUICK = FuzzPlan(examples=40, seed=40, settle_seconds=120)
FULL = FuzzPlan(examples=400, seed=400, settle_seconds=600)


# When a schema error stops validation, the apiserver adds a cause without a field saying that the
# CEL rules were skipped; it is a note about the other causes, not an error of its own.
SKIPPED_RULES = "some validation rules were not checked"


def rejection_problem(response: Any) -> str | None:
    """None when the apiserver's refusal names the field at fault; else what is wrong with it."""
    if response.status_code not in (400, 422):
        return f"unexpected answer {response.status_code}: {response.text[:500]}"
    payload = response.json()
    causes = [
        c for c in (payload.get("details") or {}).get("causes", []) if SKIPPED_RULES not in c["message"]
    ]
    fields = [cause.get("field", "") for cause in causes]
    if not fields or not all(f.startswith(("spec", "metadata.name")) for f in fields):
        return f"no field named: {payload.get('message', '')[:500]}"
    if not all(f in payload["message"] for f in fields):
        return f"message does not say {fields}: {payload['message'][:500]}"
    return None


def settled(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    if status.get("observedGeneration") != body["metadata"]["generation"]:
        return False
    return (
        condition(body, "Ready") == "True"
        or condition(body, "Stalled") == "True"
        or condition(body, "Reconciling", "reason") in WAITING_REASONS
    )


def outcome(body: dict[str, Any]) -> str:
    if condition(body, "Stalled") == "True":
        return f"Stalled/{condition(body, 'Stalled', 'reason')}"
    if condition(body, "Ready") == "True":
        return f"Ready/{body['status']['phase']}"
    return f"Waiting/{condition(body, 'Reconciling', 'reason')}"


@pytest.mark.parametrize("plan", variants(QUICK, FULL))
def test_every_input_is_rejected_with_a_field_or_handled_without_a_crash(
    stage: Stage, figures: Figures, plan: FuzzPlan
) -> None:
    token = "gw-" + secrets.token_urlsafe(24)
    secret = {
        "metadata": {"name": TOKEN_SECRET},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    path = f"/api/v1/namespaces/{stage.namespace}/secrets"
    assert stage.cluster.request("POST", path, json=secret).status_code == 201
    stage.gateway_tokens.append(token)
    births = ServerBirths.watch(stage.hetzner)
    process = stage.start_operator()
    accepted: dict[str, dict[str, Any]] = {}
    rejected: Counter[str] = Counter()
    serial = itertools.count()

    @seed(plan.seed)
    @settings(
        max_examples=plan.examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(name=names, spec=specs())
    def submit(name: str, spec: dict[str, Any]) -> None:
        unique = f"{name}-{next(serial)}"
        body = {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": unique}, "spec": spec}
        response = stage.cluster.request("POST", instances_path(stage.namespace), json=body)
        if response.status_code == 201:
            accepted[unique] = response.json()
            return
        problem = rejection_problem(response)
        assert problem is None, f"{body}\n{problem}"
        causes = response.json()["details"]["causes"]
        rejected[causes[0]["field"].split("[")[0]] += 1

    started = time.monotonic()
    submit()
    figures["seconds submitting"] = time.monotonic() - started
    bodies = converge(stage, accepted, timeout=plan.settle_seconds, check=settled)
    figures["seconds to settle"] = time.monotonic() - started - figures["seconds submitting"]
    outcomes = Counter(outcome(body) for body in bodies.values())
    logs = stage.all_logs()
    internal = [e for e in stage.events() if e.get("reason") == "InternalError"]
    stage.assert_no_secrets_leaked()

    retained = {name for name, body in bodies.items() if body["spec"]["deletionPolicy"] == "Retain"}
    for name in accepted:
        stage.delete(name)
    started = time.monotonic()
    converge(stage, [], gone=accepted, timeout=plan.settle_seconds)
    figures["seconds to delete"] = time.monotonic() - started
    released_servers = {
        s["id"]
        for s in stage.servers()
        for name in retained
        if s["name"] == naming.server_name(name, accepted[name]["metadata"]["uid"]) and not s["labels"]
    }
    released_records = {
        r["id"]
        for r in stage.records()
        if not r.get("comment") and r["name"] in {accepted[n]["spec"]["hostname"] for n in retained}
    }
    books = audit(
        stage.hetzner,
        stage.cloudflare,
        Expectation(
            live={},
            gone={body["metadata"]["uid"]: body["spec"]["hostname"] for body in accepted.values()},
            foreign_servers=frozenset(released_servers),
            foreign_records=frozenset(released_records),
        ),
        births,
    )
    figures.update(
        {
            "inputs": len(accepted) + sum(rejected.values()),
            "rejected by the apiserver": sum(rejected.values()),
            "accepted": len(accepted),
            **{f"outcome {name}": count for name, count in sorted(outcomes.items())},
            "internal errors": len(internal),
            "tracebacks": logs.count("Traceback"),
            "released by Retain": len(released_servers) + len(released_records),
            **books.figures,
        }
    )
    assert accepted and rejected, "the inputs should land on both sides of the schema"
    assert process.alive()
    assert "Traceback" not in logs and internal == [], logs[-6000:]
    assert books.problems == {}, books.findings

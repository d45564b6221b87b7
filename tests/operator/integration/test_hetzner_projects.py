"""Several Hetzner projects through the real operator, the real apiserver and one simulator holding two
projects (two tokens, as Hetzner scopes them): new instances are spread over the projects with room, a
project that answers resource_limit_exceeded is skipped until a server of it is gone, an operator quota
is never exceeded, each instance's server lives in the project its status.project names, and a crash
right after a create is adopted in that project (no second server in the emptier one).

Location fallback: a location without capacity for the type stalls a Strict instance with Hetzner's
message and moves a PreferSameRegion one to the next location of its network zone, recorded in
status.location and kept when the server is made again."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.operator.integration.harness import Stage, condition, wait_until

pytestmark = pytest.mark.controlplane


def with_second_project(stage: Stage, *, hetzner_limit: int | None, quota_b: int | None) -> dict[str, str]:
    """Project `default` (HCLOUD_TOKEN, Hetzner's own server limit `hetzner_limit`) and project `b`
    (its token in a file, the operator's quota `quota_b`); the operator environment for both."""
    token_b = "htok-b-" + secrets.token_hex(16)
    stage.hetzner.add_project("b", token_b)
    stage.hetzner.server_limit = hetzner_limit
    token_file = stage.workdir / "project-b-token"
    token_file.write_text(token_b + "\n")
    stage.gateway_tokens.append(token_b)  # scanned for leaks with the others
    entry: dict[str, Any] = {"name": "b", "tokenFile": str(token_file), "concurrency": 4}
    if quota_b is not None:
        entry["serverQuota"] = quota_b
    return {"CLAWHOST_HETZNER_PROJECTS": json.dumps([entry])}


def project_of(stage: Stage, name: str) -> str | None:
    status = stage.get(name).get("status") or {}
    return status.get("project")


def servers_by_project(stage: Stage) -> dict[str, list[str]]:
    return {
        project: sorted(s["labels"]["clawhost.dev/instance-name"] for s in stage.hetzner.servers(project))
        for project in ("default", "b")
    }


def test_instances_spread_over_projects_with_room(stage: Stage) -> None:
    env = with_second_project(stage, hetzner_limit=1, quota_b=2)
    stage.start_operator(**env)
    stage.create_instance("one")
    stage.wait_ready("one")
    stage.create_instance("two")
    stage.wait_ready("two")
    assert (project_of(stage, "one"), project_of(stage, "two")) == ("default", "b")  # least loaded
    stage.create_instance("three")  # a tie: the default first, which is full at Hetzner
    body = stage.wait_ready("three")
    assert body["status"]["project"] == "b"
    full = [r for r in stage.hetzner.request_log if r.method == "POST" and r.template == "/servers"]
    refused = [r for r in full if r.status == 403]
    assert refused and {r.project for r in refused} == {"default"}
    assert any(e["reason"] == "ProjectFull" for e in stage.events())

    stage.create_instance("four")  # the default is full, b at its quota: it waits, creating nothing
    stage.wait_for("four", lambda b: condition(b, "Reconciling", "reason") == "NoProjectCapacity")
    posts_to_b = sum(1 for r in stage.hetzner.request_log if r.template == "/servers" and r.project == "b")
    assert servers_by_project(stage) == {"default": ["one"], "b": ["three", "two"]}

    stage.delete("one")  # the default project has room again
    stage.wait_gone("one")
    body = stage.wait_ready("four", timeout=90)
    assert body["status"]["project"] == "default"
    assert servers_by_project(stage) == {"default": ["four"], "b": ["three", "two"]}
    later_posts = [r for r in stage.hetzner.request_log if r.template == "/servers" and r.project == "b"]
    assert (
        sum(1 for r in later_posts if r.method == "POST") <= posts_to_b
    )  # b was never asked beyond its quota
    for name in ("two", "three", "four"):
        status = stage.get(name)["status"]
        assert stage.hetzner.project_of_server(status["serverId"]) == status["project"]
    stage.assert_no_secrets_leaked()


def test_a_crash_after_the_create_is_adopted_in_the_recorded_project(stage: Stage) -> None:
    env = with_second_project(stage, hetzner_limit=None, quota_b=None)
    first = stage.start_operator(**env)
    stage.create_instance("first")
    stage.wait_ready("first")  # in `default`: now `b` is the emptier project
    first.stop()
    stage.operators.remove(first)  # stopped on purpose, not crashed
    crashing = stage.start_operator(crash_after="create_server", **env)
    stage.create_instance("second")
    wait_until(lambda: not crashing.alive(), timeout=60, what="the crash after the create")
    assert crashing.proc.returncode == 137
    recorded = project_of(stage, "second")
    assert recorded == "b"  # placed (and written) before the create
    stage.start_operator(**env)
    body = stage.wait_ready("second")
    assert body["status"]["project"] == "b"
    mine = [s for s in stage.hetzner.servers() if s["labels"]["clawhost.dev/instance-name"] == "second"]
    assert len(mine) == 1 and stage.hetzner.project_of_server(mine[0]["id"]) == "b"
    assert body["status"]["serverId"] == mine[0]["id"]


def test_location_fallback_both_policies(stage: Stage) -> None:
    stage.hetzner.make_unavailable("fsn1", "cx23")
    stage.start_operator()
    stage.create_instance("strict", location="fsn1")
    stage.create_instance("flexible", location="fsn1", locationPolicy="PreferSameRegion")
    body = stage.wait_ready("flexible")
    assert body["status"]["location"] == "nbg1"
    (server,) = [s for s in stage.servers() if s["labels"]["clawhost.dev/instance-name"] == "flexible"]
    assert server["location"]["name"] == "nbg1"
    assert any(e["reason"] == "LocationFallback" for e in stage.events())

    stalled = stage.wait_for("strict", lambda b: condition(b, "Stalled") == "True", what="strict Stalled")
    message = condition(stalled, "Stalled", "message") or ""
    assert condition(stalled, "Stalled", "reason") == "LocationUnavailable"
    assert "error during placement" in message and "Strict" in message  # Hetzner's words, and why
    assert "location" not in stalled["status"]
    creates = [r for r in stage.hetzner.request_log if r.method == "POST" and r.template == "/servers"]
    refused = [r for r in creates if r.status == 422]
    assert len(refused) == 2  # one each: the strict one was not asked again (frozen), the other moved on

    # Recreated after an out-of-band deletion: in the recorded location, even with capacity back in fsn1.
    stage.hetzner.make_unavailable("fsn1", "cx23", False)
    stage.hetzner.delete_server_out_of_band(server["id"])
    wait_until(
        lambda: any(
            s["labels"]["clawhost.dev/instance-name"] == "flexible" and s["id"] != server["id"]
            for s in stage.servers()
        ),
        timeout=60,
        what="the server made again",
    )
    body = stage.wait_ready("flexible")
    (again,) = [s for s in stage.servers() if s["labels"]["clawhost.dev/instance-name"] == "flexible"]
    assert again["location"]["name"] == "nbg1" and body["status"]["location"] == "nbg1"
    # The strict one goes on once asked to (capacity is back).
    stage.request_day2("strict", "reconcile")
    assert stage.wait_ready("strict")["status"]["location"] == "fsn1"

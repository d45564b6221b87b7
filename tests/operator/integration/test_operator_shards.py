"""Two operator shards on the real apiserver, each a process of its own with its own Hetzner project (one
simulator, two tokens): each acts only on the instances its clawhost.dev/shard label gives it (the
default shard also on unlabelled ones), which the simulator's request log shows per project and the
operators' logs show per instance; a shard SIGKILLed in the middle of a burst leaves its instances alone
for the other shard, and once restarted finishes them with one server each; a label moved anyway is
refused by the other shard and leaves the server in place; the chart's admission policy refuses the move.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import signal
from typing import Any

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator.api import SHARD_LABEL
from tests.chart.chartkit import render_text
from tests.operator.integration.harness import OperatorProcess, Stage, condition, wait_until

pytestmark = pytest.mark.controlplane

SHARDS = "default,b"


def start_shards(stage: Stage) -> tuple[OperatorProcess, OperatorProcess, dict[str, str]]:
    """Shard `default` on the simulator's default project (HCLOUD_TOKEN); shard `b` on project `b` only."""
    token_b = "htok-b-" + secrets.token_hex(16)
    stage.hetzner.add_project("b", token_b)
    token_file = stage.workdir / "shard-b-token"
    token_file.write_text(token_b)
    stage.gateway_tokens.append(token_b)
    env_b = {
        "CLAWHOST_SHARD": "b",
        "CLAWHOST_SHARDS": SHARDS,
        "CLAWHOST_HETZNER_PROJECTS": json.dumps([{"name": "b", "tokenFile": str(token_file)}]),
    }
    default = stage.start_operator(CLAWHOST_SHARD="default", CLAWHOST_SHARDS=SHARDS)
    shard_b = stage.start_operator(without=("HCLOUD_TOKEN",), **env_b)
    return default, shard_b, env_b


def labelled(shard: str | None) -> dict[str, Any]:
    return {} if shard is None else {"labels": {SHARD_LABEL: shard}}


def create_in(stage: Stage, name: str, shard: str | None) -> dict[str, Any]:
    """An instance created with its shard label from the start (as WHMCS or GitOps would)."""
    token = "gw-" + secrets.token_urlsafe(24)
    stage.gateway_tokens.append(token)
    stage.kube.create_secret(
        stage.namespace,
        {"metadata": {"name": f"{name}-token"}, "data": {"token": base64.b64encode(token.encode()).decode()}},
    )
    body = {
        "apiVersion": "clawhost.dev/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": name, **labelled(shard)},
        "spec": {"hostname": f"{name}.example.com", "gatewayTokenSecretRef": {"name": f"{name}-token"}},
    }
    return stage.kube.create_instance(stage.namespace, body)


def names_in_project(stage: Stage, project: str) -> set[str]:
    return {s["labels"]["clawhost.dev/instance-name"] for s in stage.hetzner.servers(project)}


def mentioned(process: OperatorProcess, namespace: str) -> set[str]:
    """Instances the operator's log has a line about (Kopf prefixes each with [namespace/name])."""
    return set(re.findall(rf"\[{re.escape(namespace)}/([a-z0-9-]+)\]", process.logs()))


def server_requests_by_project(stage: Stage) -> dict[str, set[int]]:
    """Server ids each project's token named in a request path (writes and reads alike)."""
    found: dict[str, set[int]] = {}
    for record in stage.hetzner.request_log:
        match = re.match(r"/v1/servers/(\d+)", record.path)
        if match and record.project is not None:
            found.setdefault(record.project, set()).add(int(match.group(1)))
    return found


def test_two_shards_split_the_instances(stage: Stage) -> None:
    default, shard_b, _ = start_shards(stage)
    create_in(stage, "plain", None)
    create_in(stage, "mine", "default")
    create_in(stage, "theirs", "b")
    create_in(stage, "also-theirs", "b")
    for name in ("plain", "mine", "theirs", "also-theirs"):
        stage.wait_ready(name)
    assert names_in_project(stage, "default") == {"plain", "mine"}
    assert names_in_project(stage, "b") == {"theirs", "also-theirs"}
    for name, shard in (("plain", "default"), ("mine", "default"), ("theirs", "b"), ("also-theirs", "b")):
        assert stage.get(name)["status"]["shard"] == shard
    # From the request log: no server of one shard's instances was ever named with the other's token.
    by_project = server_requests_by_project(stage)
    ids_default = {s["id"] for s in stage.hetzner.servers("default")}
    ids_b = {s["id"] for s in stage.hetzner.servers("b")}
    assert by_project.get("default", set()) <= ids_default and by_project.get("b", set()) <= ids_b
    assert mentioned(default, stage.namespace) <= {"plain", "mine"}
    assert mentioned(shard_b, stage.namespace) <= {"theirs", "also-theirs"}
    assert mentioned(shard_b, stage.namespace)  # it did log about its own
    stage.assert_no_secrets_leaked()


def test_a_killed_shard_leaves_its_burst_to_itself(stage: Stage) -> None:
    default, shard_b, env_b = start_shards(stage)
    burst = [f"burst-{i}" for i in range(6)]
    for name in burst:
        create_in(stage, name, "b")
    wait_until(lambda: len(stage.hetzner.servers("b")) >= 2, timeout=60, what="the burst under way")
    shard_b.proc.send_signal(signal.SIGKILL)
    shard_b.proc.wait(timeout=10)
    stage.operators.remove(shard_b)
    create_in(stage, "meanwhile", None)  # the default shard keeps working...
    stage.wait_ready("meanwhile")
    assert stage.hetzner.servers("default") and names_in_project(stage, "default") == {"meanwhile"}
    assert not mentioned(default, stage.namespace) & set(burst)  # ...and never touches b's instances
    stage.start_operator(without=("HCLOUD_TOKEN",), **env_b)  # Kubernetes would restart the pod
    for name in burst:
        stage.wait_ready(name, timeout=90)
    servers = stage.hetzner.servers("b")
    names = sorted(s["labels"]["clawhost.dev/instance-name"] for s in servers)
    assert names == sorted(burst)  # exactly one server each: no duplicate after the kill
    for name in burst:
        status = stage.get(name)["status"]
        assert status["shard"] == "b" and status["serverId"] in {s["id"] for s in servers}


def test_a_moved_label_makes_no_second_server_and_admission_refuses_it(
    stage: Stage, cluster: ClusterAccess
) -> None:
    start_shards(stage)
    create_in(stage, "wanderer", "b")
    ready = stage.wait_ready("wanderer")
    server_id = ready["status"]["serverId"]

    # Without the admission policy the label can move: shard b's watch reports the instance deleted (it
    # checks with the apiserver and leaves the server), the default shard refuses what status.shard says.
    stage.patch("wanderer", {"metadata": {"labels": {SHARD_LABEL: "default"}}})
    refused = stage.wait_for(
        "wanderer", lambda b: condition(b, "Stalled", "reason") == "ShardMismatch", what="the refusal"
    )
    assert "owned by operator shard b" in (condition(refused, "Stalled", "message") or "")
    assert [s["id"] for s in stage.hetzner.servers()] == [server_id]  # the one server, in project b
    assert stage.hetzner.servers("default") == []
    assert "still exists" in stage.all_logs()

    stage.patch("wanderer", {"metadata": {"labels": {SHARD_LABEL: "b"}}})  # back home: b serves it again
    stage.wait_for(
        "wanderer",
        lambda b: condition(b, "Ready") == "True" and condition(b, "Stalled") == "False",
        what="wanderer Ready at home",
    )
    assert [s["id"] for s in stage.hetzner.servers()] == [server_id]

    # With the chart's policy the apiserver refuses the move, naming the label.
    policy = render_text(
        namespace=stage.namespace, release=f"t{secrets.token_hex(3)}", show_only="templates/shard-policy.yaml"
    )
    documents = [doc for doc in yaml.safe_load_all(policy) if doc]
    cluster.kubectl("apply", "-f", "-", input=policy)
    try:

        def refused_by_admission(*dry_run: str) -> bool:
            result = cluster.kubectl(
                "-n", stage.namespace, "label", "--overwrite", "openclawinstance/wanderer",
                f"{SHARD_LABEL}=default", *dry_run, check=False,
            )  # fmt: skip
            return result.returncode != 0 and f"metadata.labels[{SHARD_LABEL}] is immutable" in result.stderr

        # A new policy takes a moment to reach the apiserver's admission chain; a dry run changes nothing.
        wait_until(lambda: refused_by_admission("--dry-run=server"), timeout=30, what="the policy in force")
        assert refused_by_admission()
        assert stage.get("wanderer")["metadata"]["labels"][SHARD_LABEL] == "b"
        stage.patch("wanderer", {"metadata": {"annotations": {"x": "y"}}})  # other changes pass
    finally:
        for doc in documents:
            cluster.kubectl("delete", doc["kind"], doc["metadata"]["name"], "--ignore-not-found", check=False)

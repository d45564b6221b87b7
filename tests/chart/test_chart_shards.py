"""The chart renders one operator Deployment per shard, each a valid operator configuration with its own
shard name and Hetzner projects, whose watches partition the instances; the admission policy that keeps
the shard label fixed; and RBAC that shards do not change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openclaw_operator.api import SHARD_LABEL
from openclaw_operator.config import Config, load_config
from openclaw_operator.reconcile.shards import label_selector, owns
from tests.chart.chartkit import SHARD_VALUES, container_env, helm, of_kind, only, render, template_args


def configs(tmp_path: Path, manifests: list[dict[str, Any]]) -> dict[str, Config]:
    """Each Deployment's environment with its mounted token files in place, as the operator loads it."""
    loaded = {}
    for deployment in of_kind(manifests, "Deployment"):
        env = container_env(deployment)
        pod = deployment["spec"]["template"]["spec"]
        mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "provider-tokens")
        volume = next(v for v in pod["volumes"] if v["name"] == "provider-tokens")
        root = tmp_path / deployment["metadata"]["name"]
        for item in volume["secret"]["items"]:
            target = Path(str(root) + mount["mountPath"]) / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(f"token-for-{item['key']}\n")
        for name, value in list(env.items()):
            if name.endswith("_FILE"):
                env[name] = str(root) + value
        env["CLAWHOST_HETZNER_PROJECTS"] = env.get("CLAWHOST_HETZNER_PROJECTS", "").replace(
            mount["mountPath"], str(root) + mount["mountPath"]
        )
        loaded[deployment["metadata"]["name"]] = load_config(env)
    return loaded


def test_one_deployment_per_shard_with_its_own_projects(tmp_path: Path) -> None:
    manifests = render(values=(SHARD_VALUES,))
    loaded = configs(tmp_path, manifests)
    assert set(loaded) == {"claw-openclaw-operator-default", "claw-openclaw-operator-eu-2"}
    default, eu2 = loaded["claw-openclaw-operator-default"], loaded["claw-openclaw-operator-eu-2"]
    assert (default.shard, eu2.shard) == ("default", "eu-2")
    assert default.shards == eu2.shards == ("default", "eu-2")
    assert [p.name for p in default.projects()] == ["default", "eu-a"]
    assert [p.name for p in eu2.projects()] == ["eu-2a", "eu-2b"]  # no HCLOUD_TOKEN: only its own
    a, b = eu2.projects()
    assert (a.token.get_secret_value(), a.server_quota, a.concurrency) == (
        "token-for-hcloud-token-eu-2a",
        500,
        16,
    )
    assert b.token.get_secret_value() == "token-for-hcloud-token-eu-2b" and b.server_quota is None
    # Distinct selectors, so the Deployments never fight over pods.
    selectors = [d["spec"]["selector"]["matchLabels"] for d in of_kind(manifests, "Deployment")]
    assert selectors[0] != selectors[1]
    for deployment in of_kind(manifests, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize(
    "labels", [{}, {SHARD_LABEL: "default"}, {SHARD_LABEL: "eu-2"}, {SHARD_LABEL: "eu-9"}, {"x": "y"}]
)
def test_the_rendered_shards_partition_the_instances(tmp_path: Path, labels: dict[str, str]) -> None:
    loaded = configs(tmp_path, render(values=(SHARD_VALUES,)))
    owners = [c.shard for c in loaded.values() if owns(c.shard, c.shards, labels)]
    assert len(owners) == 1
    assert label_selector("eu-2", ("default", "eu-2")) == f"{SHARD_LABEL}=eu-2"


def test_unsharded_render_is_one_deployment_without_shard_settings() -> None:
    deployment = only(render(), "Deployment")
    env = container_env(deployment)
    assert deployment["metadata"]["name"] == "claw-openclaw-operator"
    assert not {"CLAWHOST_SHARD", "CLAWHOST_SHARDS", "CLAWHOST_HETZNER_PROJECTS"} & set(env)
    assert SHARD_LABEL not in deployment["spec"]["selector"]["matchLabels"]


def test_shards_need_a_default_shard() -> None:
    result = helm(*template_args(sets=["shards[0].name=eu-2"]), check=False)
    assert result.returncode != 0 and "list a shard named default" in result.stderr


def test_shard_label_policy_is_rendered_unless_disabled() -> None:
    policy = only(render(), "ValidatingAdmissionPolicy")
    binding = only(render(), "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert policy["spec"]["matchConstraints"]["resourceRules"][0]["operations"] == ["UPDATE"]
    kinds = {m["kind"] for m in render(sets=["shardPolicy.enabled=false"])}
    assert not {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} & kinds


def test_shards_share_one_operator_role() -> None:
    sharded, plain = render(values=(SHARD_VALUES,)), render()
    assert (
        only(sharded, "ClusterRole", "claw-openclaw-operator")["rules"]
        == only(plain, "ClusterRole", "claw-openclaw-operator")["rules"]
    )
    assert len(of_kind(sharded, "ServiceAccount")) == 1

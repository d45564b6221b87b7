"""The apiserver refuses app specs the operator would have to refuse: an operator-owned config key, a
literal env value, an env name the operator sets; it keeps a valid config fragment exactly as written."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator import api
from openclaw_operator.bootstrap.app_files import OWNED_CONFIG_PATHS
from tests.conftest import CRD_FILE
from tests.operator.unit.test_channel_plan import OWNED_EXAMPLES
from tests.support.kube import instances_path

SPEC: dict[str, Any] = {"hostname": "a.example.com", "gatewayTokenSecretRef": {"name": "a-gateway"}}
ENV = {"name": "ANTHROPIC_API_KEY", "secretKeyRef": {"name": "keys", "key": "anthropic"}}


def body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": name},
        "spec": {**SPEC, **spec},
    }


def test_every_owned_path_has_an_admission_rule_that_names_it() -> None:
    crd = yaml.safe_load(CRD_FILE.read_text())
    text = yaml.safe_dump(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"])
    for path in OWNED_CONFIG_PATHS:
        assert f"config.{path} is owned by the operator" in text, path


@pytest.mark.controlplane
@pytest.mark.parametrize("path", OWNED_CONFIG_PATHS)
def test_an_owned_config_key_is_refused_naming_the_field(
    cluster: ClusterAccess, namespace: str, path: str
) -> None:
    response = cluster.request(
        "POST", instances_path(namespace), json=body("owned", config=OWNED_EXAMPLES[path])
    )
    assert response.status_code == 422, response.text
    message = response.json()["message"]
    assert f"config.{path} is owned by the operator" in message, message
    assert "spec.config" in message, message


@pytest.mark.controlplane
def test_a_config_fragment_is_kept_as_written(cluster: ClusterAccess, namespace: str) -> None:
    fragment = {
        "agents": {"defaults": {"model": {"primary": "anthropic/claude-opus-5"}, "maxConcurrent": 2}},
        "channels": {"telegram": {"dmPolicy": "pairing", "groups": {"*": {"requireMention": True}}}},
        "gateway": {"controlUi": {"basePath": "/ui"}},
    }
    created = cluster.request(
        "POST", instances_path(namespace), json=body("ok", config=copy.deepcopy(fragment), env=[ENV])
    )
    assert created.status_code == 201, created.text
    stored = created.json()["spec"]
    assert stored["config"] == fragment
    assert stored["env"] == [ENV]
    assert api.OpenClawInstance.from_body(created.json()).spec.config == fragment


REFUSED_ENV = [
    ("a literal value instead of a Secret", [{"name": "ANTHROPIC_API_KEY", "value": "sk-literal"}],
     "spec.env[0].secretKeyRef"),
    ("the gateway token's variable", [{**ENV, "name": "OPENCLAW_GATEWAY_TOKEN"}], "spec.env[0].name"),
    ("NODE_OPTIONS", [{**ENV, "name": "NODE_OPTIONS"}], "spec.env[0].name"),
    ("not a variable name", [{**ENV, "name": "A-B"}], "spec.env[0].name"),
    ("the same name twice", [ENV, ENV], "spec.env[1]"),
    ("a Secret key missing", [{"name": "X", "secretKeyRef": {"name": "keys"}}],
     "spec.env[0].secretKeyRef.key"),
]  # fmt: skip


@pytest.mark.controlplane
@pytest.mark.parametrize(("case", "env", "field"), REFUSED_ENV, ids=[c[0] for c in REFUSED_ENV])
def test_env_is_taken_from_secrets_only(
    cluster: ClusterAccess, namespace: str, case: str, env: list[dict[str, Any]], field: str
) -> None:
    response = cluster.request("POST", instances_path(namespace), json=body("env", env=env))
    assert response.status_code == 422, f"{case}: {response.text}"
    assert field in response.json()["message"], response.json()["message"]


REFUSED_SKILLS = [
    ("upper case", ["Weather"], "spec.skills[0]"),
    ("a path", ["../weather"], "spec.skills[0]"),
    ("a ClawHub reference (needs the registry)", ["weather", "@owner/slug"], "spec.skills[1]"),
    ("the same name twice", ["weather", "weather"], "spec.skills[1]"),
    ("too long", ["a" * 65], "spec.skills[0]"),
    ("too many", [f"s{n}" for n in range(65)], "spec.skills"),
]  # fmt: skip


@pytest.mark.controlplane
@pytest.mark.parametrize(("case", "skills", "field"), REFUSED_SKILLS, ids=[c[0] for c in REFUSED_SKILLS])
def test_bad_skill_names_are_refused_naming_the_field(
    cluster: ClusterAccess, namespace: str, case: str, skills: list[str], field: str
) -> None:
    response = cluster.request("POST", instances_path(namespace), json=body("skills", skills=skills))
    assert response.status_code == 422, f"{case}: {response.text}"
    assert field in response.json()["message"], response.json()["message"]


@pytest.mark.controlplane
def test_skills_are_kept_as_written(cluster: ClusterAccess, namespace: str) -> None:
    created = cluster.request(
        "POST", instances_path(namespace), json=body("skills-ok", skills=["weather", "coding-agent"])
    )
    assert created.status_code == 201, created.text
    assert created.json()["spec"]["skills"] == ["weather", "coding-agent"]
    assert api.OpenClawInstance.from_body(created.json()).spec.skills == ("weather", "coding-agent")

"""The chart as rendered by the real helm: lint, the Deployment's safety settings, configuration wiring,
RBAC modes and values validation. Server-side acceptance of the output is in test_chart_dryrun.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from clawhost_sandbox.controlplane import ClusterAccess

from openclaw_operator.config import ENV_FIELDS, SECRET_FILE_VARS, load_config
from openclaw_operator.reconcile.pool import parse_slots
from tests.chart.chartkit import (
    CHART_DIR,
    FULL_VALUES,
    REPO_ROOT,
    container_env,
    helm,
    of_kind,
    only,
    render,
    template_args,
)

VALUE_SETS = {"default": (), "full": (FULL_VALUES,)}


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_lint_is_clean(values: tuple[Path, ...]) -> None:
    args = ["lint", "--strict", str(CHART_DIR)]
    for path in values:
        args += ["--values", str(path)]
    result = helm(*args)
    assert "0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_chart_crd_is_the_repository_crd() -> None:
    chart_crds = sorted(path.name for path in (CHART_DIR / "crds").iterdir())
    assert chart_crds == ["openclawinstances.yaml"]
    assert (CHART_DIR / "crds" / "openclawinstances.yaml").read_bytes() == (
        REPO_ROOT / "crds" / "openclawinstances.yaml"
    ).read_bytes(), "charts/openclaw-operator/crds/ is stale: copy crds/openclawinstances.yaml into it"


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_deployment_is_a_single_hardened_kopf_pod(values: tuple[Path, ...]) -> None:
    deployment = only(render(values=values), "Deployment")
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    assert len(pod["containers"]) == 1
    container = pod["containers"][0]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert isinstance(pod["securityContext"]["runAsUser"], int) and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert container["command"] == ["openclaw-operator", "run"]
    tmp_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    tmp_volume = next(v for v in pod["volumes"] if v["name"] == tmp_mount["name"])
    assert "emptyDir" in tmp_volume


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_probe_and_ports_follow_the_configured_ports(values: tuple[Path, ...]) -> None:
    deployment = only(render(values=values), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = container_env(deployment)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports["metrics"] == int(env["CLAWHOST_METRICS_PORT"])
    probe = container["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    assert ports[probe["port"]] == int(env["CLAWHOST_HEALTH_PORT"])
    assert "readinessProbe" not in container


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_environment_uses_only_documented_variables(values: tuple[Path, ...]) -> None:
    env = container_env(only(render(values=values), "Deployment"))
    known = set(ENV_FIELDS) | set(SECRET_FILE_VARS)
    assert set(env) <= known, f"unknown operator variables: {sorted(set(env) - known)}"
    assert not {"HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN"} & set(env), "tokens must come from files"


def test_full_values_configure_the_operator_completely(tmp_path: Path) -> None:
    """The rendered environment, with the mounted token files in place, is a valid operator configuration
    carrying every value the chart was given."""
    manifests = render(values=(FULL_VALUES,))
    deployment = only(manifests, "Deployment")
    env = container_env(deployment)
    pod = deployment["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "provider-tokens")
    volume = next(v for v in pod["volumes"] if v["name"] == "provider-tokens")
    values = yaml.safe_load(FULL_VALUES.read_text())
    assert volume["secret"]["secretName"] == values["providers"]["existingSecret"]
    # Materialise the Secret volume where the env vars point, as the kubelet would.
    for item in volume["secret"]["items"]:
        target = Path(str(tmp_path) + mount["mountPath"]) / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"token-for-{item['key']}\n")
    for var in SECRET_FILE_VARS:
        env[var] = str(tmp_path) + env[var]
    env["CLAWHOST_HETZNER_PROJECTS"] = env["CLAWHOST_HETZNER_PROJECTS"].replace(
        mount["mountPath"], str(tmp_path) + mount["mountPath"]
    )
    config = load_config(env)
    assert config.hcloud_token.get_secret_value() == f"token-for-{values['providers']['hcloudTokenKey']}"
    assert config.cloudflare_api_token.get_secret_value() == (
        f"token-for-{values['providers']['cloudflareApiTokenKey']}"
    )
    assert config.managed_zones == tuple(values["managedZones"])
    assert config.ssh_source_ranges == tuple(values["sshSourceRanges"])
    assert config.resync_interval_seconds == values["resyncIntervalSeconds"]
    assert config.default_openclaw_version == values["openclaw"]["defaultVersion"]
    assert config.app_ready_check is values["appReadyCheck"]["enabled"]
    assert config.hcloud_endpoint == values["providers"]["hcloudEndpoint"]
    assert config.cloudflare_base_url == values["providers"]["cloudflareBaseUrl"]
    assert config.watch_namespaces == tuple(values["watchNamespaces"])
    assert (config.metrics_port, config.health_port) == (values["metrics"]["port"], values["health"]["port"])
    assert config.concurrency == values["concurrency"]
    assert config.kube_connections == values["kubeConnections"]
    (extra,) = values["hetznerProjects"]
    default, project = config.projects()
    assert default.name == "default" and project.name == extra["name"]
    assert project.token.get_secret_value() == f"token-for-{extra['tokenKey']}"
    assert (project.server_quota, project.concurrency) == (extra["serverQuota"], extra["concurrency"])
    assert [str(location) for location in project.locations] == extra["locations"]


def test_default_values_leave_only_the_zones_to_the_installer(cluster: ClusterAccess) -> None:
    """Defaults render and name the Secret convention; without zones the operator refuses to start, and
    NOTES.txt says so."""
    env = container_env(only(render(), "Deployment"))
    assert "CLAWHOST_MANAGED_ZONES" not in env
    # `helm template` does not render NOTES.txt; a client-side install dry-run prints it (helm 3 still
    # asks a cluster for its version, hence the kubeconfig).
    install = [
        "install",
        "claw",
        str(CHART_DIR),
        "--dry-run=client",
        "-n",
        "ops",
        f"--kubeconfig={cluster.kubeconfig}",
    ]
    assert "managedZones is empty" in helm(*install).stdout
    configured = helm(*install, "--set", "managedZones={a.io}").stdout
    assert "managedZones is empty" not in configured
    assert "kubectl wait openclawinstance/alice --for=condition=Ready" in configured


def test_cluster_wide_mode_uses_one_cluster_role() -> None:
    manifests = render()
    operator_roles = [
        r for r in of_kind(manifests, "ClusterRole") if r["metadata"]["name"] == "claw-openclaw-operator"
    ]
    assert len(operator_roles) == 1
    assert not of_kind(manifests, "Role") and not of_kind(manifests, "RoleBinding")
    binding = only(manifests, "ClusterRoleBinding")
    account = only(manifests, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": "ops"}
    ]


def test_namespaced_mode_grants_nothing_cluster_wide() -> None:
    manifests = render(sets=["watchNamespaces={shop-a,shop-b}", "rbac.aggregateToDefaultRoles=false"])
    assert not of_kind(manifests, "ClusterRole") and not of_kind(manifests, "ClusterRoleBinding")
    roles = {r["metadata"]["namespace"]: r["rules"] for r in of_kind(manifests, "Role")}
    assert set(roles) == {"shop-a", "shop-b"}
    cluster_rules = only(render(), "ClusterRole", "claw-openclaw-operator")["rules"]
    assert roles["shop-a"] == roles["shop-b"] == cluster_rules
    env = container_env(only(manifests, "Deployment"))
    assert env["CLAWHOST_WATCH_NAMESPACES"] == "shop-a,shop-b"


def test_aggregated_roles_reach_view_edit_and_admin() -> None:
    roles = {r["metadata"]["name"]: r for r in of_kind(render(), "ClusterRole")}
    view, edit = roles["claw-openclaw-operator-view"], roles["claw-openclaw-operator-edit"]
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k, v in view["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        aggregate + "view",
        aggregate + "edit",
        aggregate + "admin",
    }
    assert {k for k, v in edit["metadata"]["labels"].items() if k.startswith(aggregate) and v == "true"} == {
        aggregate + "edit",
        aggregate + "admin",
    }
    assert set(view["rules"][0]["verbs"]) == {"get", "list", "watch"}
    assert all(not r["resources"][0].endswith("/status") for r in edit["rules"]), (
        "humans must not write status"
    )


BAD_VALUES = {
    "unknown top-level key": "replicas=2",
    "zone with an underscore": "managedZones={bad_zone.com}",
    "namespace not a DNS label": "watchNamespaces={Shop}",
    "port out of range": "metrics.port=70000",
    "empty token Secret name": "providers.existingSecret=",
    "pull policy typo": "image.pullPolicy=Sometimes",
    "version not calver": "openclaw.defaultVersion=latest",
}


@pytest.mark.parametrize("assignment", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_schema_rejects_bad_values(assignment: str) -> None:
    result = helm(*template_args(sets=[assignment]), check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr


def test_optional_parts_are_off_by_default() -> None:
    kinds = {m["kind"] for m in render()}
    assert not {"ServiceMonitor", "PrometheusRule", "Secret", "Role"} & kinds
    full_kinds = {m["kind"] for m in render(values=(FULL_VALUES,))}
    assert {"ServiceMonitor", "PrometheusRule", "Secret", "ConfigMap", "Service"} <= full_kinds


def test_orphan_sweep_is_off_until_a_cluster_id_is_given() -> None:
    default = container_env(only(render(), "Deployment"))
    assert "CLAWHOST_CLUSTER_ID" not in default and default["CLAWHOST_ORPHAN_GRACE_SECONDS"] == "3600"
    sets = ["orphanSweep.clusterId=eu-prod-1", "orphanSweep.graceSeconds=600"]
    env = container_env(only(render(sets=sets), "Deployment"))
    assert (env["CLAWHOST_CLUSTER_ID"], env["CLAWHOST_ORPHAN_GRACE_SECONDS"]) == ("eu-prod-1", "600")


def test_warm_pool_slots_become_one_variable_the_operator_reads() -> None:
    default = container_env(only(render(), "Deployment"))
    assert "CLAWHOST_WARM_POOL" not in default and default["CLAWHOST_GOLDEN_IMAGES"] == "false"
    sets = [
        "goldenImages.enabled=true",
        "warmPool[0].location=fsn1",
        "warmPool[0].serverType=cx23",
        "warmPool[0].size=3",
        "warmPool[1].location=nbg1",
        "warmPool[1].serverType=cx33",
        "warmPool[1].size=0",
    ]
    env = container_env(only(render(sets=sets), "Deployment"))
    assert (env["CLAWHOST_GOLDEN_IMAGES"], env["CLAWHOST_WARM_POOL"]) == ("true", "fsn1/cx23=3,nbg1/cx33=0")
    assert [(s.location, s.server_type, s.size) for s in parse_slots(env["CLAWHOST_WARM_POOL"])] == [
        ("fsn1", "cx23", 3),
        ("nbg1", "cx33", 0),
    ]
    refused = helm(*template_args(sets=["warmPool[0].location=fsn1", "warmPool[0].size=1"]), check=False)
    assert refused.returncode != 0 and "serverType" in refused.stderr

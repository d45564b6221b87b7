"""The WHMCS module's PHPUnit suites, run by `make test`.

The unit group needs only PHP. The integration group runs the module's functions against the real
kube-apiserver with a ServiceAccount token bound to the least-privilege Role WHMCS gets
(whmcs-module/rbac/whmcs-role.yaml); a second, test-only account reads back what WHMCS may not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from clawhost_sandbox.controlplane import ClusterAccess

from tests.whmcs.kube_access import WHMCS_ACCOUNT, apply_whmcs_role, bind_role, service_account_token
from tests.whmcs.phpunit_runner import php_trixie_root, run_phpunit

VERIFIER_ACCOUNT = "whmcs-test-verifier"

pytestmark = pytest.mark.php


def test_unit_suite(tmp_path: Path) -> None:
    run = run_phpunit(tmp_path / "unit.xml")
    run.assert_all_passed()
    assert run.tests >= 100, "the unit suite lost tests"


@pytest.mark.parametrize("smarty", ["smarty3", "smarty4"])
def test_templates_render_with_each_debian_smarty(smarty: str, tmp_path: Path) -> None:
    """WHMCS 8 bundled Smarty 3.1; Debian has 3.1.47 (smarty3) and 4.3 (smarty4): both must render."""
    env = _env_without_k8s() | {"OPENCLAW_TEST_SMARTY": smarty}
    run = run_phpunit(tmp_path / "templates.xml", "--filter", "TemplatesTest", env=env)
    run.assert_all_passed()
    assert run.tests >= 8


@pytest.fixture(scope="module")
def php84() -> Path:
    root = php_trixie_root()
    if root is None:
        pytest.skip(
            "PHP 8.4 (Debian trixie tree, tests/whmcs/php-trixie.sh) cannot be built here: needs root, "
            "mmdebstrap and deb.debian.org"
        )
    return root


def test_unit_suite_on_php84(php84: Path, tmp_path: Path) -> None:
    run = run_phpunit(tmp_path / "unit84.xml", php_root=php84, env=_env_without_k8s())
    run.assert_all_passed()
    assert "PHP 8.4" in run.output
    # Attributes beside the doc-comment annotations PHPUnit 9 reads: PHPUnit 11 finds nothing deprecated.
    assert "Deprecation" not in run.output, run.output[-3000:]
    assert run.tests >= 100


def test_phpunit_failures_fail_the_wrapper(tmp_path: Path) -> None:
    # The wrapper's own guard: the integration group without its environment must fail, not skip.
    run = run_phpunit(tmp_path / "bare.xml", "--group", "integration", env=_env_without_k8s())
    assert run.returncode != 0
    assert run.failures > 0
    assert "integration tests need K8S_SERVER" in run.output
    with pytest.raises(AssertionError):
        run.assert_all_passed()


@pytest.mark.controlplane
def test_integration_suite_against_the_apiserver(
    cluster: ClusterAccess, namespace: str, other_namespace: str, tmp_path: Path
) -> None:
    apply_whmcs_role(cluster, namespace)
    grant_verifier(cluster, namespace)
    grant_missing_api_group(cluster, namespace)
    assert cluster.ca_file is not None, "the integration group needs the apiserver CA"
    env = _env_without_k8s() | {
        "K8S_SERVER": cluster.server,
        "K8S_CA_FILE": str(cluster.ca_file),
        "K8S_NAMESPACE": namespace,
        "K8S_TOKEN": service_account_token(cluster, namespace),
        "K8S_OTHER_NAMESPACE": other_namespace,
        "K8S_VERIFIER_TOKEN": service_account_token(cluster, namespace, VERIFIER_ACCOUNT),
    }
    run = run_phpunit(tmp_path / "integration.xml", "--group", "integration", env=env)
    run.assert_all_passed()
    assert run.tests >= 29
    # The same suite on PHP 8.4 (Debian trixie's php8.4 and phpunit), against the same apiserver.
    root = php_trixie_root()
    if root is None:
        print("PHP 8.4 integration run skipped: the Debian trixie tree cannot be built here")
        return
    run84 = run_phpunit(tmp_path / "integration84.xml", "--group", "integration", env=env, php_root=root)
    run84.assert_all_passed()
    assert "PHP 8.4" in run84.output
    assert "Deprecation" not in run84.output, run84.output[-3000:]


def grant_verifier(cluster: ClusterAccess, namespace: str) -> None:
    """Test-only: an account that may read Secrets, write status and hold instances with a finalizer, to
    check what WHMCS may not."""
    response = cluster.request(
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        json={"metadata": {"name": VERIFIER_ACCOUNT}},
    )
    assert response.status_code == 201, response.text
    rules = [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
        # patch: a finalizer, so that a test can read an instance WHMCS deleted (as the operator's holds it)
        {
            "apiGroups": ["clawhost.dev"],
            "resources": ["openclawinstances"],
            "verbs": ["get", "list", "patch"],
        },
        {"apiGroups": ["clawhost.dev"], "resources": ["openclawinstances/status"], "verbs": ["patch"]},
    ]
    bind_role(cluster, namespace, VERIFIER_ACCOUNT, VERIFIER_ACCOUNT, rules)


def grant_missing_api_group(cluster: ClusterAccess, namespace: str) -> None:
    """Test-only: WHMCS's rights on an API group without a CRD, as its real Role has on clawhost.dev
    before the operator is installed, so the "CRD missing" answer is a 404 and not an RBAC 403."""
    verbs = ["create", "get", "list", "patch", "delete"]
    rules = [{"apiGroups": ["missing.clawhost.dev"], "resources": ["openclawinstances"], "verbs": verbs}]
    bind_role(cluster, namespace, "whmcs-test-missing-api", WHMCS_ACCOUNT, rules)


def _env_without_k8s() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(("K8S_", "OPENCLAW_API_"))}

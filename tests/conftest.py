"""Suite-wide fixtures: the real Kubernetes control plane and a fresh namespace per test.

The control plane (etcd + kube-apiserver + kube-controller-manager built from Go modules) starts once per
session, lazily, only when a test asks for `cluster`. Set CLAWHOST_TEST_KUBECONFIG to run the same tests
against an existing cluster (e.g. kind) instead; the CRD is applied to it, and test namespaces are deleted.

`make test` runs the suite on several pytest-xdist workers (`-n`, `--dist loadfile`). Each worker is its own
process with its own session fixtures (its own control plane, on ports the kernel picks), so nothing here is
shared between workers; a test module runs whole on one worker, so a module-scoped fixture (a real gateway,
an S3 server, sshd) starts once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clawhost_sandbox.controlplane import (
    ClusterAccess,
    ControlPlane,
    existing_cluster_access,
    pid_alive,
)

from openclaw_operator.api import FINALIZER, GROUP, PLURAL, VERSION
from tests.support.kube import Kube

REPO_ROOT = Path(__file__).resolve().parent.parent
CRD_FILE = REPO_ROOT / "crds" / "openclawinstances.yaml"
EXISTING_CLUSTER_ENV = "CLAWHOST_TEST_KUBECONFIG"
_STARTED_PIDS: list[int] = []
_SURVIVORS_KEY = "controlplane_survivors"
_WORKER_SURVIVORS: list[int] = []  # on the xdist controller: what the workers reported


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Session fixtures are torn down by now: fail the run if any control-plane process survived."""
    survivors = [pid for pid in _STARTED_PIDS if pid_alive(pid)]
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # An xdist worker's exit status is not the run's: hand the survivors to the controller instead.
        workeroutput[_SURVIVORS_KEY] = survivors
        return
    survivors += _WORKER_SURVIVORS
    if survivors:
        session.config.get_terminal_writer().line(
            f"control-plane processes left behind: {survivors}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, called on the controller as a worker finishes
def pytest_testnodedown(node: Any, error: object) -> None:
    _WORKER_SURVIVORS.extend(getattr(node, "workeroutput", {}).get(_SURVIVORS_KEY, []))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterAccess]:
    existing = os.environ.get(EXISTING_CLUSTER_ENV)
    plane: ControlPlane | None = None
    if existing:
        access = existing_cluster_access(Path(existing))
    else:
        plane = ControlPlane(tmp_path_factory.mktemp("controlplane"))
        access = plane.start()
        _STARTED_PIDS.extend(plane.pids())
    try:
        install_crd(access)
        yield access
    finally:
        if plane is not None:
            plane.stop()


def install_crd(access: ClusterAccess) -> None:
    access.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    access.wait_crd_established(f"{PLURAL}.{GROUP}")
    # Discovery lags a moment behind Established; wait until the resource is actually served.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if access.request("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}").status_code == 200:
            return
        time.sleep(0.2)
    raise RuntimeError("CRD established but not served")


@contextlib.contextmanager
def fresh_namespace(cluster: ClusterAccess, prefix: str = "t") -> Iterator[str]:
    """A new namespace, deleted afterwards (after stripping our finalizer from instances left in it)."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    kube = Kube(cluster)
    kube.create_namespace(name)
    yield name
    # Instances left behind by a failed test still carry our finalizer; strip it so the namespace can go.
    for item in kube.instances(name):
        finalizers = [f for f in item["metadata"].get("finalizers", []) if f != FINALIZER]
        kube.patch_instance(name, item["metadata"]["name"], {"metadata": {"finalizers": finalizers or None}})
    kube.delete_namespace(name)
    kube.close()


@pytest.fixture
def namespace(cluster: ClusterAccess) -> Iterator[str]:
    with fresh_namespace(cluster) as name:
        yield name


@pytest.fixture
def other_namespace(cluster: ClusterAccess) -> Iterator[str]:
    """A second namespace, e.g. one a namespaced credential has no rights in."""
    with fresh_namespace(cluster, "t-other") as name:
        yield name

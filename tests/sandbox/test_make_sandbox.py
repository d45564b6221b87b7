"""`make sandbox DETACH=1` on a fresh clone of the repository: every example becomes Ready, `.sandbox/env`
lets a script drive and inspect everything, and `make sandbox-down` leaves no process behind.

The clone gets its own virtualenv with its own package (so the clone's code runs, not this checkout's);
only the third-party dependencies are borrowed from the running virtualenv, which keeps the test offline
and fast. The control-plane binaries come from the machine's build cache, as for `make controlplane`.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from clawhost_sandbox.controlplane import existing_cluster_access, pid_alive

from openclaw_operator.api import GROUP, PLURAL, VERSION
from tests.image.wheelhouse import pip, wheelhouse
from tests.sandbox.support import example_instances, processes_under

REPO_ROOT = Path(__file__).resolve().parents[2]
# What a script finds in .sandbox/env (issue 7): cluster, simulators, WHMCS credentials, the operator.
ENV_KEYS = [
    "KUBECONFIG",
    "HCLOUD_ENDPOINT",
    "HCLOUD_TOKEN",
    "CLOUDFLARE_BASE_URL",
    "CLOUDFLARE_API_TOKEN",
    "CLAWHOST_MANAGED_ZONES",
    "WHMCS_API_SERVER",
    "WHMCS_NAMESPACE",
    "WHMCS_TOKEN",
    "WHMCS_CA_FILE",
    "OPERATOR_METRICS_URL",
    "OPERATOR_PID",
    "SANDBOX_PID",
]


@pytest.fixture
def checkout(tmp_path: Path) -> Iterator[Path]:
    clone = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True)
    venv = clone / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # The clone's own packages (operator, development package), editable, built offline
    # (the build backend comes from the wheelhouse).
    offline = ["--no-index", "--find-links", str(wheelhouse())]
    pip(venv / "bin" / "python", "install", "-q", "--no-deps", *offline, "-e", str(clone / "operator"))
    pip(
        venv / "bin" / "python",
        "install",
        "-q",
        "--no-deps",
        *offline,
        "-e",
        str(clone / "operator" / "sandbox"),
    )
    (venv / ".installed").touch()  # the Makefile's stamp: the venv is up to date
    yield clone
    for pid in processes_under(clone):  # only if the test failed before its own cleanup
        os.kill(pid, signal.SIGKILL)


def make(clone: Path, *targets: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "KUBECONFIG")}
    return subprocess.run(
        ["make", "--no-print-directory", *targets], cwd=clone, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip


def read_env(path: Path) -> dict[str, str]:
    script = f"set -a; source {shlex.quote(str(path))}; env -0"
    output = subprocess.run(["bash", "-c", script], env={}, capture_output=True, text=True, check=True).stdout
    return dict(item.split("=", 1) for item in output.split("\0") if "=" in item)


def check_running_sandbox(clone: Path, env: dict[str, str]) -> None:
    access = existing_cluster_access(Path(env["KUBECONFIG"]))
    items: list[dict[str, Any]] = access.request("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}").json()["items"]
    ready = {
        item["metadata"]["name"]
        for item in items
        for c in item.get("status", {}).get("conditions", [])
        if c["type"] == "Ready" and c["status"] == "True"
    }
    assert ready == example_instances(clone), f"not Ready: {example_instances(clone) - ready}"
    # The simulators hold the servers and records those instances own.
    bearer = {"Authorization": f"Bearer {env['HCLOUD_TOKEN']}"}
    servers = requests.get(env["HCLOUD_ENDPOINT"] + "/servers", headers=bearer, timeout=10)
    assert servers.status_code == 200 and len(servers.json()["servers"]) == len(ready)
    # The WHMCS credentials work, and only as far as the WHMCS role allows.
    namespace, base = env["WHMCS_NAMESPACE"], env["WHMCS_API_SERVER"]

    def as_whmcs(path: str) -> int:
        bearer = {"Authorization": f"Bearer {env['WHMCS_TOKEN']}"}
        return requests.get(base + path, headers=bearer, verify=env["WHMCS_CA_FILE"], timeout=10).status_code

    assert as_whmcs(f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}") == 200
    assert as_whmcs(f"/api/v1/namespaces/{namespace}/secrets") == 403
    metrics = requests.get(env["OPERATOR_METRICS_URL"], timeout=5).text
    assert f'clawhost_instances{{phase="Running"}} {float(len(ready))}' in metrics
    # Every instance answers through its own real gateway and Caddy, with the sandbox's CA.
    served = gateway_addresses(env)
    hostnames = {item["spec"]["hostname"] for item in items}
    assert set(served) == hostnames
    for hostname, address in served.items():
        assert gateway_page(env, hostname, address).startswith("200 <!doctype html>"), hostname


def gateway_addresses(env: dict[str, str]) -> dict[str, str]:
    lines = Path(env["REALAPP_HOSTS_FILE"]).read_text().splitlines()
    return dict(line.split() for line in lines if line.strip())


def gateway_page(env: dict[str, str], hostname: str, address: str) -> str:
    """`<status> <start of the body>` of https://<hostname>/, or curl's complaint."""
    result = subprocess.run(
        ["curl", "-sS", "-m", "10", "--cacert", env["REALAPP_CA_FILE"],
         "--resolve", f"{hostname}:443:{address}", "-w", "\n%{http_code}", f"https://{hostname}/"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    body, _, status = result.stdout.rpartition("\n")
    return f"{status} {body[:15]}" if result.returncode == 0 else result.stderr


@pytest.mark.timeout(900)
def test_make_sandbox_detached_on_a_fresh_clone(checkout: Path) -> None:
    up = make(checkout, "sandbox", "DETACH=1", timeout=700)
    state_file = checkout / ".sandbox" / "sandbox.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    started = [*state.get("pids", {}).values(), *state.get("controlplane_pids", [])]
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        assert f"All {len(example_instances(checkout))} instance(s) are Ready" in up.stdout
        env = read_env(checkout / ".sandbox" / "env")
        assert set(ENV_KEYS) <= set(env)
        assert {int(env["OPERATOR_PID"]), int(env["SANDBOX_PID"])} <= set(started)
        assert all(pid_alive(pid) for pid in started) and len(started) >= 5
        assert Path(env["KUBECONFIG"]).is_relative_to(checkout), "the sandbox must live in the checkout"
        check_running_sandbox(checkout, env)
        served = gateway_addresses(env)
    finally:
        down = make(checkout, "sandbox-down", timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not [pid for pid in started if pid_alive(pid)], "a sandbox process outlived `make sandbox-down`"
    assert processes_under(checkout) == []
    assert not (checkout / ".sandbox" / "env").exists()
    for hostname, address in served.items():  # the servers' networks went with their processes
        assert "200" not in gateway_page(env, hostname, address)

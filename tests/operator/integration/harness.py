"""The operator as a real subprocess against the real apiserver and both simulators, and helpers to drive
OpenClawInstances through the Kubernetes API the way WHMCS or kubectl would."""

from __future__ import annotations

import base64
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.controlplane import ClusterAccess
from clawhost_sandbox.hetzner.simulator import HetznerSimulator

from openclaw_operator.api import GROUP
from tests.support.kube import Kube

REPO = Path(__file__).resolve().parents[3]
OPERATOR = REPO / ".venv" / "bin" / "openclaw-operator"
PYTHON = REPO / ".venv" / "bin" / "python"
ZONE = "example.com"
TIME_SCALE = 20.0  # simulated seconds per wall second: a server boots in well under a second
# Every test operator runs the orphan sweep with no grace period: whatever a test does, the sweep is
# there at once to get it wrong (deleting a live or foreign server) if it ever would.
CLUSTER_ID = "integration"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OperatorProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    metrics_port: int
    health_port: int

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@dataclass
class Stage:
    """One test's world: a namespace, both simulators, and the operators started in it."""

    cluster: ClusterAccess
    namespace: str
    hetzner: HetznerSimulator
    cloudflare: CloudflareSimulator
    hetzner_token: str
    cloudflare_token: str
    workdir: Path
    gateway_tokens: list[str] = field(default_factory=list)
    operators: list[OperatorProcess] = field(default_factory=list)

    @functools.cached_property
    def kube(self) -> Kube:
        return Kube(self.cluster)

    # --- the operator --------------------------------------------------------------------------------
    def operator_env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("HCLOUD_", "CLOUDFLARE_", "CLAWHOST_"))
        }
        env.update(
            {
                "KUBECONFIG": str(self.cluster.kubeconfig),
                "HCLOUD_TOKEN": self.hetzner_token,
                "HCLOUD_ENDPOINT": self.hetzner.url,
                "CLOUDFLARE_API_TOKEN": self.cloudflare_token,
                "CLOUDFLARE_BASE_URL": self.cloudflare.url,
                "CLAWHOST_MANAGED_ZONES": ZONE,
                "CLAWHOST_RESYNC_INTERVAL_SECONDS": "2",
                "CLAWHOST_ACTION_POLL_SECONDS": "0.3",
                "CLAWHOST_SHUTDOWN_TIMEOUT_SECONDS": "5",
                "CLAWHOST_APP_HEALTH_URL": self.hetzner.base_url + "/_sim/app/{server_id}/healthz",
                "CLAWHOST_METRICS_PORT": str(free_port()),
                "CLAWHOST_HEALTH_PORT": str(free_port()),
                "CLAWHOST_LISTEN_ADDRESS": "127.0.0.1",
                "CLAWHOST_CLUSTER_ID": CLUSTER_ID,
                "CLAWHOST_ORPHAN_GRACE_SECONDS": "0",
            }
        )
        env.update(extra)
        return env

    def start_operator(
        self,
        *args: str,
        crash_after: str | None = None,
        without: tuple[str, ...] = (),
        hosts: Path | None = None,
        **extra: str,
    ) -> OperatorProcess:
        """`crash_after` (`create_server`, `delete_record:2`, ...): the operator exits with 137 right after
        that provider write succeeded (clawhost_sandbox.crashing_operator), before status hears of it.
        `without`: variables of the usual environment to leave out (an operator without HCLOUD_TOKEN).
        `hosts`: host names resolve through that file, as the sandbox's (clawhost_sandbox.named_operator)."""
        env = self.operator_env(**extra)
        for name in without:
            env.pop(name, None)
        # Numbered by the logs already written: a SIGKILLed operator leaves the list but keeps its log.
        log_path = self.workdir / f"operator-{len(list(self.workdir.glob('operator-*.log')))}.log"
        command = [str(OPERATOR)]
        if crash_after is not None:
            command = [str(PYTHON), "-m", "clawhost_sandbox.crashing_operator", "--after", crash_after]
        elif hosts is not None:
            command = [str(PYTHON), "-m", "clawhost_sandbox.named_operator", "--hosts", str(hosts)]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*command, "run", "--namespace", self.namespace, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        process = OperatorProcess(
            proc, log_path, int(env["CLAWHOST_METRICS_PORT"]), int(env["CLAWHOST_HEALTH_PORT"])
        )
        self.operators.append(process)
        return process

    def stop_operators(self) -> None:
        for process in self.operators:
            process.stop()

    def all_logs(self) -> str:
        return "\n".join(process.logs() for process in self.operators)

    # --- instances -----------------------------------------------------------------------------------
    def create_instance(self, name: str, hostname: str | None = None, **spec: Any) -> dict[str, Any]:
        token = "gw-" + secrets.token_urlsafe(24)
        self.gateway_tokens.append(token)
        secret = {
            "metadata": {"name": f"{name}-token"},
            "data": {"token": base64.b64encode(token.encode()).decode()},
        }
        self.kube.create_secret(self.namespace, secret)
        body = {
            "apiVersion": f"{GROUP}/v1alpha1",
            "kind": "OpenClawInstance",
            "metadata": {"name": name},
            "spec": {
                "hostname": hostname or f"{name}.{ZONE}",
                "gatewayTokenSecretRef": {"name": f"{name}-token"},
                **spec,
            },
        }
        return self.kube.create_instance(self.namespace, body)

    def get(self, name: str) -> dict[str, Any]:
        found = self.kube.instance(self.namespace, name)
        assert found is not None, f"{name} does not exist"
        return found

    def exists(self, name: str) -> bool:
        return self.kube.instance(self.namespace, name) is not None

    def patch(self, name: str, body: dict[str, Any]) -> None:
        self.kube.patch_instance(self.namespace, name, body)

    def patch_spec(self, name: str, **spec: Any) -> None:
        self.patch(name, {"spec": spec})

    def request_day2(self, name: str, what: str) -> str:
        value = f"{time.time():.6f}"
        self.patch(name, {"metadata": {"annotations": {f"{GROUP}/{what}-requested-at": value}}})
        return value

    def delete(self, name: str) -> None:
        assert self.kube.delete_instance(self.namespace, name), f"{name} does not exist"

    def events(self) -> list[dict[str, Any]]:
        return self.kube.events(self.namespace)

    def wait_for(
        self, name: str, check: Callable[[dict[str, Any]], bool], timeout: float = 60, what: str = ""
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            body = self.get(name)
            if check(body):
                return body
            for process in self.operators:
                assert process.alive() or process.proc.returncode == 137, (
                    "operator exited:\n" + process.logs()
                )
            time.sleep(0.2)
        status = json.dumps(body.get("status"), indent=1)
        raise AssertionError(
            f"timed out waiting for {what or name}; status:\n{status}\nlogs:\n{self.all_logs()[-6000:]}"
        )

    def wait_ready(self, name: str, timeout: float = 60) -> dict[str, Any]:
        def ready(body: dict[str, Any]) -> bool:
            meta, status = body["metadata"], body.get("status") or {}
            return (
                condition(body, "Ready") == "True" and status.get("observedGeneration") == meta["generation"]
            )

        return self.wait_for(name, ready, timeout, f"{name} Ready")

    def wait_gone(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.exists(name):
                return
            time.sleep(0.2)
        raise AssertionError(f"{name} was not deleted; logs:\n{self.all_logs()[-6000:]}")

    # --- providers -----------------------------------------------------------------------------------
    def servers(self) -> list[dict[str, Any]]:
        return self.hetzner.servers()

    def records(self) -> list[dict[str, Any]]:
        return self.cloudflare.records(ZONE)

    def secrets_in_play(self) -> list[str]:
        return [self.hetzner_token, self.cloudflare_token, *self.gateway_tokens]

    def assert_no_secrets_leaked(self) -> None:
        """No token in the operator's logs, in any Event, or in any instance's status or metadata."""
        listing = self.kube.instances(self.namespace)
        instances = [{"metadata": i["metadata"], "status": i.get("status")} for i in listing]
        places = {
            "logs": self.all_logs(),
            "events": json.dumps(self.events()),
            "instances": json.dumps(instances),
        }
        for where, text in places.items():
            assert text, f"nothing to scan in {where}"
            for secret in self.secrets_in_play():
                assert secret not in text, f"a token leaked into {where}"

    def requests_since(self, mark_hetzner: int, mark_cloudflare: int) -> list[tuple[str, str, str, int]]:
        """(provider, method, template, status) of API requests after the marks (app probes excluded)."""
        hetzner = [r for r in self.hetzner.request_log[mark_hetzner:] if not r.path.startswith("/_sim/")]
        found = [("hetzner", r.method, r.template, r.status) for r in hetzner]
        found += [
            ("cloudflare", r.method, r.template, r.status)
            for r in self.cloudflare.request_log[mark_cloudflare:]
        ]
        return found


def condition(body: dict[str, Any], type_: str, field_: str = "status") -> str | None:
    for entry in (body.get("status") or {}).get("conditions", []):
        if entry["type"] == type_:
            value: str = entry[field_]
            return value
    return None


def wait_until(check: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


PYTHON = sys.executable

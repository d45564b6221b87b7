"""The real operator as a subprocess (`openclaw-operator run`), configured by environment like in production,
pointed at the simulators and the local apiserver, and measured from outside (psutil, /proc, its metrics).

Time scaling: the simulators run `time_scale` times faster than the wall clock, so every interval the
operator is configured with is divided by the same factor. What the operator does not let us configure
(Kopf's internals, its backoff constants, its limiter's refill estimate) stays in wall time, which makes it
look `time_scale` times slower in simulated terms: a handicap, never an advantage.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
import requests
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.controlplane import ClusterAccess, free_port
from clawhost_sandbox.hetzner.simulator import APP_HEALTH_TEMPLATE, HetznerSimulator
from prometheus_client.parser import text_string_to_metric_families

from openclaw_operator.config import DEFAULT_PROJECT

HETZNER_TOKEN = "bench-hetzner-token-0123456789abcdef"
CLOUDFLARE_TOKEN = "bench-cloudflare-token-0123456789abcdef"


def project_token(project: str) -> str:
    """The bench's API token of a Hetzner project (`default` is HCLOUD_TOKEN's, HETZNER_TOKEN)."""
    return HETZNER_TOKEN if project == DEFAULT_PROJECT else f"bench-hetzner-{project}-token-0123456789abcdef"


RESYNC_SECONDS = 300.0  # the operator's default, in real (simulated) seconds
POLL_SECONDS = 2.0
SHUTDOWN_TIMEOUT_SECONDS = 120.0
OPERATOR_BIN = Path(sys.executable).with_name("openclaw-operator")
REPO_ROOT = Path(__file__).resolve().parent.parent


def operator_env(
    hetzner: HetznerSimulator,
    cloudflare: CloudflareSimulator,
    access: ClusterAccess,
    zones: list[str],
    time_scale: float,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The operator's whole configuration (docs/architecture.md), intervals divided by the time scale."""
    base = {key: value for key, value in os.environ.items() if not key.startswith(("CLAWHOST_", "HCLOUD_"))}
    base.pop("CLOUDFLARE_API_TOKEN", None)
    return {
        **base,
        "KUBECONFIG": str(access.kubeconfig),
        "HCLOUD_TOKEN": HETZNER_TOKEN,
        "HCLOUD_ENDPOINT": hetzner.url,
        "CLOUDFLARE_API_TOKEN": CLOUDFLARE_TOKEN,
        "CLOUDFLARE_BASE_URL": cloudflare.url,
        "CLAWHOST_MANAGED_ZONES": ",".join(zones),
        "CLAWHOST_APP_HEALTH_URL": hetzner.base_url + APP_HEALTH_TEMPLATE,
        "CLAWHOST_RESYNC_INTERVAL_SECONDS": str(RESYNC_SECONDS / time_scale),
        "CLAWHOST_ACTION_POLL_SECONDS": str(POLL_SECONDS / time_scale),
        "CLAWHOST_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_TIMEOUT_SECONDS / time_scale),
        "CLAWHOST_LISTEN_ADDRESS": "127.0.0.1",
        "CLAWHOST_METRICS_PORT": str(free_port()),
        "CLAWHOST_HEALTH_PORT": str(free_port()),
        **(extra or {}),
    }


@dataclass
class MeasuredProcess:
    """A child process measured from outside; `start()` again after a kill restarts it identically."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    samples: list[float] = field(default_factory=list)  # RSS samples, MB

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup handlers, no final status write; what a node failure or OOM kill does."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def stop(self, grace: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return float(times.user + times.system)

    def sample_rss(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.samples.append(psutil.Process(self.pid).memory_info().rss / 2**20)

    def peak_rss_mb(self) -> float:
        """The kernel's high-water mark (VmHWM) where available, else the highest sample."""
        with contextlib.suppress(OSError, ValueError, StopIteration):
            status = Path(f"/proc/{self.pid}/status").read_text()
            line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
            return int(line.split()[1]) / 1024
        return max(self.samples, default=0.0)

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""


class OperatorProcess(MeasuredProcess):
    """`openclaw-operator run`, watching the given namespaces; its reconcile count comes from its metrics."""

    def __init__(
        self,
        env: dict[str, str],
        namespaces: list[str],
        log_path: Path,
        profile: Path | None = None,
        memory_report: Path | None = None,
    ) -> None:
        argv = [str(OPERATOR_BIN), "run"]
        if memory_report is not None:  # where the memory goes (bench/memprobe.py), on SIGUSR1
            argv = [sys.executable, "-m", "bench.memprobe", str(memory_report), "run"]
            env = {
                **env,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
            }
        elif profile is not None:  # where the CPU goes, for `python -m bench.run --profile`
            argv = [
                sys.executable,
                "-m",
                "cProfile",
                "-o",
                str(profile),
                "-m",
                "openclaw_operator.cli",
                "run",
            ]
        for namespace in namespaces:
            argv += ["--namespace", namespace]
        super().__init__(argv, env, log_path)

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.env['CLAWHOST_METRICS_PORT']}/metrics"

    def metrics(self) -> dict[str, float]:
        """Metric samples summed over their labels, by sample name (e.g. `..._count`)."""
        try:
            text = requests.get(self.metrics_url, timeout=5).text
        except requests.RequestException:
            return {}
        totals: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
        return totals

    def reconciles(self) -> float:
        return self.metrics().get("clawhost_reconcile_duration_seconds_count", 0.0)

    def wait_for_reconciles(self, count: float, timeout: float) -> bool:
        """Until the operator has run at least `count` reconcile passes (False if it died or timed out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if self.reconciles() >= count:
                return True
            self.sample_rss()
            time.sleep(0.5)
        return False


class NaiveProcess(MeasuredProcess):
    """The baseline reconciler (bench/naive.py); its events are JSON lines in its log."""

    def __init__(
        self,
        config_path: Path,
        log_path: Path,
        hetzner_token: str = HETZNER_TOKEN,
        cloudflare_token: str = CLOUDFLARE_TOKEN,
    ) -> None:
        env = {**os.environ, "HCLOUD_TOKEN": hetzner_token, "CLOUDFLARE_API_TOKEN": cloudflare_token,
               "PYTHONPATH": str(REPO_ROOT)}  # fmt: skip
        super().__init__([sys.executable, "-m", "bench.naive", str(config_path)], env, log_path)

    def events(self, kind: str) -> list[dict[str, object]]:
        found = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if event.get("event") == kind:
                        found.append(event)
        return found

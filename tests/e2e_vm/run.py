"""One full e2e run: render the user-data, prepare the cached inputs, serve the stand-ins, boot the guest
and wait until OpenClaw answers through Caddy. The tests in test_e2e_vm.py then check it from the host.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openclaw_operator import api
from openclaw_operator.bootstrap.render import PACKAGES, BootstrapSettings, render_user_data
from tests.e2e_vm import image
from tests.e2e_vm.guest import Accelerator, Guest, choose_accelerator, write_seed
from tests.e2e_vm.sites import bootstrap_script, build_sites
from tests.e2e_vm.standins import RunningStandins, StandinConfig, serve_standins

HOSTNAME = "alice.example.com"
CADDY_ROOT_CERT = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"
# Under TCG on a loaded 2-core host the first boot (packages, npm install of 334 packages) takes a while.
BOOT_DEADLINE_SECONDS = 60 * 60


@dataclass
class E2ERun:
    run_dir: Path
    guest: Guest
    standins: RunningStandins
    token: str
    user_data: str
    accelerator: Accelerator
    timings: dict[str, float] = field(default_factory=dict)
    stages: dict[str, float] = field(default_factory=dict)
    caddy_root: Path | None = None

    def curl(
        self, path: str, *args: str, scheme: str = "https", verify: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """curl to the guest's Caddy through the hostfwd, with the host name (SNI, Host) of the instance."""
        port = self.guest.ports[443 if scheme == "https" else 80]
        tls = ["--cacert", str(self.caddy_root)] if verify and self.caddy_root else ["--insecure"]
        command = [
            "curl",
            "-sS",
            "--max-time",
            "20",
            "--resolve",
            f"{HOSTNAME}:{port}:127.0.0.1",
            *tls,
            *args,
        ]
        return subprocess.run(
            [*command, f"{scheme}://{HOSTNAME}:{port}{path}"], capture_output=True, text=True, timeout=60
        )

    def status_code(self, path: str, *args: str, scheme: str = "https") -> int:
        done = self.curl(path, "-o", "/dev/null", "-w", "%{http_code}", *args, scheme=scheme)
        return int(done.stdout or 0)

    def wait_healthy(self, deadline_seconds: float, *, verify: bool) -> float:
        """Seconds until /healthz answers 200 through Caddy; fails early if cloud-init ends in error."""
        start = time.monotonic()
        last_status_check = 0.0
        while time.monotonic() - start < deadline_seconds:
            if not self.guest.alive():
                raise AssertionError(f"qemu exited; serial log tail:\n{self.guest.serial_tail()}")
            done = self.curl("/healthz", "-o", "/dev/null", "-w", "%{http_code}", verify=verify)
            if done.stdout == "200":
                return time.monotonic() - start
            if time.monotonic() - last_status_check > 60:
                last_status_check = time.monotonic()
                self._fail_if_cloud_init_failed()
            time.sleep(3)
        raise AssertionError(
            f"not healthy within {deadline_seconds:.0f} s; serial:\n{self.guest.serial_tail()}"
        )

    def _fail_if_cloud_init_failed(self) -> None:
        try:
            done = self.guest.ssh("cloud-init status --format json", timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return
        if done.returncode == 255 or not done.stdout.strip():
            return  # no SSH yet
        status = json.loads(done.stdout)
        if status.get("status") in ("error", "done"):
            log = self.guest.ssh("sudo tail -n 60 /var/log/cloud-init-output.log", check=False).stdout
            raise AssertionError(f"cloud-init is {status.get('status')} but OpenClaw is not healthy:\n{log}")

    def collect_logs(self) -> None:
        for name, command in (
            ("cloud-init-output.log", "sudo cat /var/log/cloud-init-output.log"),
            ("cloud-init.log", "sudo cat /var/log/cloud-init.log"),
            ("journal.txt", "sudo journalctl -b --no-pager -o short-unix"),
        ):
            try:
                done = self.guest.ssh(command, timeout=120, check=False)
                (self.run_dir / name).write_text(done.stdout, encoding="utf-8")
            except subprocess.TimeoutExpired:
                pass

    def report(self) -> dict[str, Any]:
        return {
            "accelerator": self.accelerator.name,
            "accelerator_reason": self.accelerator.reason,
            "seconds": {key: round(value, 1) for key, value in self.timings.items()},
            "guest_stages_seconds_since_kernel_start": {key: round(v, 1) for key, v in self.stages.items()},
            "run_dir": str(self.run_dir),
        }


def render_for_e2e(ssh_public_key: str, token: str) -> str:
    """The user-data of a minimal instance (examples/minimal.yaml) with the harness's SSH key."""
    body = {
        "metadata": {"name": "alice", "uid": "e2e-vm-0000"},
        "spec": {
            "hostname": HOSTNAME,
            "gatewayTokenSecretRef": {"name": "alice-gateway"},
            "sshKeys": [ssh_public_key],
        },
    }
    return render_user_data(api.OpenClawInstance.from_body(body), BootstrapSettings(), token)


def script_variable(user_data: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", bootstrap_script(user_data), flags=re.MULTILINE)
    assert match, f"the bootstrap script sets no {name}"
    return match.group(1)


@contextmanager
def e2e_run() -> Iterator[E2ERun]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = image.cache_root() / "runs" / stamp
    run_dir.mkdir(parents=True)
    key = run_dir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-vm", "-f", str(key)], check=True
    )
    token = secrets.token_urlsafe(32)
    user_data = render_for_e2e(key.with_suffix(".pub").read_text(encoding="utf-8").strip(), token)
    versions = image.realapp_versions()
    node_major = script_variable(user_data, "NODE_MAJOR")
    assert versions["NODE_VERSION"].split(".")[0] == node_major, (
        "versions.env's Node is not the rendered major"
    )

    prepare = time.monotonic()
    ca = image.seam_ca()
    base = image.base_image(ca, PACKAGES)
    nodejs = image.nodejs_deb(versions["NODE_VERSION"])
    store = image.npm_store(script_variable(user_data, "OPENCLAW_VERSION"))
    sites = build_sites(run_dir, user_data, base, nodejs)
    timings = {"prepare (cached inputs, stand-in trees)": time.monotonic() - prepare}

    with serve_standins(
        StandinConfig(sites=sites, npm_store=store), ca.server_cert, ca.server_key
    ) as standins:
        accelerator = choose_accelerator(base.kernel)
        seed = write_seed(run_dir, user_data, instance_id=f"e2e-{stamp}", hostname="alice")
        guest = Guest(
            run_dir, base.disk, base.kernel, base.initrd, seed, accelerator,
            standins.https_port, standins.http_port, key,
        )  # fmt: skip
        run = E2ERun(run_dir, guest, standins, token, user_data, accelerator, timings)
        guest.start()
        try:
            run.timings["boot → healthy (qemu start to /healthz 200 through Caddy)"] = run.wait_healthy(
                BOOT_DEADLINE_SECONDS, verify=False
            )
            root = run_dir / "caddy-root.crt"
            root.write_text(guest.ssh(f"sudo cat {CADDY_ROOT_CERT}").stdout, encoding="utf-8")
            run.caddy_root = root
            run.stages = guest_stages(guest)
            yield run
        finally:
            if guest.alive():
                run.collect_logs()
            guest.stop()
            if os.environ.get("CLAWHOST_E2E_VM_KEEP_DISK") != "1":  # gigabytes per run; the logs stay
                (run_dir / "overlay.qcow2").unlink(missing_ok=True)
                shutil.rmtree(sites, ignore_errors=True)
            (run_dir / "report.json").write_text(json.dumps(run.report(), indent=2) + "\n", encoding="utf-8")


def guest_stages(guest: Guest) -> dict[str, float]:
    """Per-stage times of the first boot, from the guest's own journal and cloud-init status, in seconds
    since its kernel started (the guest's clock, so host load does not skew them)."""
    now, uptime = guest.ssh("date +%s.%N; cut -d' ' -f1 /proc/uptime").stdout.split()
    boot = float(now) - float(uptime)
    stages: dict[str, float] = {}
    status = json.loads(guest.ssh("cat /run/cloud-init/status.json").stdout).get("v1", {})
    for stage in ("init-local", "init", "modules-config", "modules-final"):
        info = status.get(stage) or {}
        if info.get("start"):
            stages[f"cloud-init {stage} start"] = float(info["start"]) - boot
        if info.get("finished"):
            stages[f"cloud-init {stage} end"] = float(info["finished"]) - boot
    journal = guest.ssh("sudo journalctl -b -u cloud-final --no-pager -o short-unix", check=False).stdout
    marks = {
        "vendor apt repositories fetched": r"https://deb\.nodesource\.com",
        "nodejs and caddy installed": r"Setting up (nodejs|caddy) ",
        "npm install done": r"added \d+ packages",
        "bootstrap reports OpenClaw up": r"clawhost-bootstrap: OpenClaw .* is up",
    }
    for label, pattern in marks.items():
        times = [float(line.split()[0]) for line in journal.splitlines() if re.search(pattern, line)]
        if times:
            stages[label] = max(times) - boot
    return stages

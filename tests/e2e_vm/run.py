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
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openclaw_operator import api
from openclaw_operator.bootstrap.render import (
    PACKAGES,
    BootstrapSettings,
    Stage,
    render_install_user_data,
    render_user_data,
)
from tests.e2e_vm import image
from tests.e2e_vm.guest import Accelerator, Guest, choose_accelerator, write_seed
from tests.e2e_vm.sites import bootstrap_script, build_sites
from tests.e2e_vm.standins import RunningStandins, StandinConfig, serve_standins
from tests.e2e_vm.testca import SeamCA
from tests.e2e_vm.timings import collect_guest_record, stage_seconds

HOSTNAME = "alice.example.com"
CADDY_ROOT_CERT = "/var/lib/caddy/.local/share/caddy/pki/authorities/local/root.crt"
RESULTS_DIR = image.REPO_ROOT / "bench" / "results"
# Under TCG on a loaded 2-core host the first boot took 47 min, 34 of them in npm install (docs/e2e-vm.md).
BOOT_DEADLINE_SECONDS = 90 * 60
# What the golden builder's install stage writes last, before cloud-init powers it off (the bootstrap).
INSTALL_DONE_LOG = "clawhost-bootstrap: install stage done"


@dataclass
class E2ERun:
    run_dir: Path
    guest: Guest
    standins: RunningStandins
    token: str
    user_data: str
    accelerator: Accelerator
    timings: dict[str, float] = field(default_factory=dict)
    guest_record: dict[str, Any] = field(default_factory=dict)  # timings.collect_guest_record
    caddy_root: Path | None = None
    conditions: dict[str, Any] = field(default_factory=dict)
    served_before_boot: int = 0  # stand-in requests answered before this guest started (a golden builder's)

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

    def wait_healthy(self, deadline_seconds: float, *, verify: bool, first_boot: bool = False) -> float:
        """Seconds until /healthz answers 200 through Caddy. Fails early when it never can: on the first
        boot when cloud-init has ended (in error, or done without a healthy gateway); later, when systemd
        has given up on the gateway. Only the first boot's cloud-init says anything: after a reboot its
        status is `done` from the start, long before a gateway under TCG answers."""
        start = time.monotonic()
        last_check = 0.0
        while time.monotonic() - start < deadline_seconds:
            if not self.guest.alive():
                raise AssertionError(f"qemu exited; serial log tail:\n{self.guest.serial_tail()}")
            done = self.curl("/healthz", "-o", "/dev/null", "-w", "%{http_code}", verify=verify)
            if done.stdout == "200":
                return time.monotonic() - start
            if time.monotonic() - last_check > 60:
                last_check = time.monotonic()
                if first_boot:
                    self._fail_if_cloud_init_ended()
                else:
                    self._fail_if_the_gateway_was_given_up()
            time.sleep(3)
        raise AssertionError(
            f"not healthy within {deadline_seconds:.0f} s; serial:\n{self.guest.serial_tail()}"
        )

    def _fail_if_cloud_init_ended(self) -> None:
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

    def _fail_if_the_gateway_was_given_up(self) -> None:
        """A unit in `failed` stays down (exit 78, RestartPreventExitStatus); one between restarts is
        `activating`, which is worth waiting for."""
        try:
            done = self.guest.ssh("systemctl is-active openclaw-gateway", timeout=30, check=False)
        except subprocess.TimeoutExpired:
            return
        if done.stdout.strip() == "failed":
            journal = self.guest.ssh(
                "sudo journalctl -u openclaw-gateway -n 60 --no-pager -o cat", check=False
            ).stdout
            raise AssertionError(f"systemd gave up on the gateway:\n{journal}")

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
        """The run's measurements: host wall-clock seconds, the first boot's stages from the guest's clock,
        the conditions they were taken under, and the raw guest record the stages come from."""
        return {
            "accelerator": self.accelerator.name,
            "accelerator_reason": self.accelerator.reason,
            "conditions": self.conditions,
            "versions": {
                "openclaw": script_variable(self.user_data, "OPENCLAW_VERSION"),
                "node": image.realapp_versions()["NODE_VERSION"],
                "guest": "Debian 13 (trixie), mmdebstrap image, cloud-init from Debian",
            },
            "boot": "golden (personalise stage on the builder's disk)"
            if "golden" in self.run_dir.name
            else "cold (full install on the base image)",
            "host_load_average_at_report": [round(load, 2) for load in os.getloadavg()],
            "host_seconds": {key: round(value, 1) for key, value in self.timings.items()},
            "first_boot_stages_seconds": stage_seconds(self.guest_record) if self.guest_record else {},
            "raw_guest_record": self.guest_record,
            "run_dir": str(self.run_dir),
        }


def render_for_e2e(ssh_public_key: str, token: str, stage: Stage = Stage.COLD) -> str:
    """The user-data of a minimal instance (examples/minimal.yaml) with the harness's SSH key."""
    body = {
        "metadata": {"name": "alice", "uid": "e2e-vm-0000"},
        "spec": {
            "hostname": HOSTNAME,
            "gatewayTokenSecretRef": {"name": "alice-gateway"},
            "sshKeys": [ssh_public_key],
        },
    }
    return render_user_data(api.OpenClawInstance.from_body(body), BootstrapSettings(), token, stage=stage)


def script_variable(user_data: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", bootstrap_script(user_data), flags=re.MULTILINE)
    assert match, f"the bootstrap script sets no {name}"
    return match.group(1)


@dataclass
class PreparedInputs:
    """What a boot needs from the host, built (or taken from the cache) before qemu starts."""

    ca: SeamCA
    base: image.BaseImage
    store: Path
    sites: Path
    timings: dict[str, float]

    def serve(self) -> AbstractContextManager[RunningStandins]:
        config = StandinConfig(sites=self.sites, npm_store=self.store)
        return serve_standins(config, self.ca.server_cert, self.ca.server_key)


def prepare_inputs(run_dir: Path, user_data: str) -> PreparedInputs:
    """The image, the nodejs .deb, the npm store and the stand-in trees for what `user_data` fetches."""
    versions = image.realapp_versions()
    prepare = time.monotonic()
    ca = image.seam_ca()
    base = image.base_image(ca, PACKAGES)
    nodejs = image.nodejs_deb(versions["NODE_VERSION"])
    store = image.npm_store(script_variable(user_data, "OPENCLAW_VERSION"))
    sites = build_sites(run_dir, user_data, base, nodejs)
    timings = {"prepare (cached inputs, stand-in trees)": time.monotonic() - prepare}
    return PreparedInputs(ca, base, store, sites, timings)


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

    inputs = prepare_inputs(run_dir, user_data)
    base, sites, timings = inputs.base, inputs.sites, inputs.timings

    with inputs.serve() as standins:
        accelerator = choose_accelerator(base.kernel)
        seed = write_seed(run_dir, user_data, instance_id=f"e2e-{stamp}", hostname="alice")
        guest = Guest(
            run_dir, base.disk, base.kernel, base.initrd, seed, accelerator,
            standins.https_port, standins.http_port, key,
        )  # fmt: skip
        run = E2ERun(run_dir, guest, standins, token, user_data, accelerator, timings)
        run.conditions = host_conditions(guest)
        label = "boot → healthy (qemu start to /healthz 200 through Caddy)"
        with boot_to_healthy(run, label, sites, (run_dir / "overlay.qcow2",)):
            yield run


@contextmanager
def boot_to_healthy(run: E2ERun, label: str, sites: Path, disks: tuple[Path, ...]) -> Iterator[E2ERun]:
    """Start the run's guest and wait for its first health (timed as `label`), Caddy's root and the
    guest's timing record; afterwards its logs and report stay, its disks and stand-in trees go (gigabytes
    per run) unless CLAWHOST_E2E_VM_KEEP_DISK=1."""
    guest = run.guest
    guest.start()
    try:
        run.timings[label] = run.wait_healthy(BOOT_DEADLINE_SECONDS, verify=False, first_boot=True)
        root = run.run_dir / "caddy-root.crt"
        root.write_text(guest.ssh(f"sudo cat {CADDY_ROOT_CERT}").stdout, encoding="utf-8")
        run.caddy_root = root
        # The stages need cloud-init's end, which comes a little after the first health.
        guest.ssh("cloud-init status --wait", timeout=1800, check=False)
        run.guest_record = collect_guest_record(guest)
        yield run
    finally:
        if guest.alive():
            run.collect_logs()
        guest.stop()
        if os.environ.get("CLAWHOST_E2E_VM_KEEP_DISK") != "1":
            for disk in disks:
                disk.unlink(missing_ok=True)
            shutil.rmtree(sites, ignore_errors=True)
        report = json.dumps(run.report(), indent=2) + "\n"
        (run.run_dir / "report.json").write_text(report, encoding="utf-8")


@contextmanager
def golden_e2e_run() -> Iterator[E2ERun]:
    """The golden path (issue 18), measured the way the operator makes it: a builder boots the install
    stage's user-data and powers itself off; its disk, as Hetzner's snapshot would keep it, backs a new
    guest with another instance id and the personalise stage's user-data, timed to /healthz 200 through
    Caddy. The builder's time is reported too; the stand-ins serve only it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = image.cache_root() / "runs" / f"{stamp}-golden"
    builder_dir = run_dir / "builder"
    builder_dir.mkdir(parents=True)
    key = run_dir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-vm", "-f", str(key)], check=True
    )
    token = secrets.token_urlsafe(32)
    settings = BootstrapSettings()
    install = render_install_user_data(settings, settings.default_openclaw_version)
    user_data = render_for_e2e(
        key.with_suffix(".pub").read_text(encoding="utf-8").strip(), token, Stage.PERSONALISE
    )
    inputs = prepare_inputs(run_dir, install)  # the builder is the one that fetches
    base, sites, timings = inputs.base, inputs.sites, inputs.timings

    with inputs.serve() as standins:
        accelerator = choose_accelerator(base.kernel)
        ports = (standins.https_port, standins.http_port, key)
        builder_seed = write_seed(builder_dir, install, instance_id=f"builder-{stamp}", hostname="builder")
        builder = Guest(builder_dir, base.disk, base.kernel, base.initrd, builder_seed, accelerator, *ports)
        builder.start()
        try:
            timings["golden build (qemu start to the builder powered off)"] = builder.wait_powered_off(
                BOOT_DEADLINE_SECONDS
            )
        finally:
            builder.stop()
        serial = builder.serial_log.read_text(encoding="utf-8", errors="replace")
        assert INSTALL_DONE_LOG in serial, (
            f"the builder powered off without its install:\n{builder.serial_tail()}"
        )
        served_to_builder = len(standins.requests())

        seed = write_seed(run_dir, user_data, instance_id=f"e2e-golden-{stamp}", hostname="alice")
        # The builder's overlay is the snapshot: the server's own overlay is made on top of it.
        guest = Guest(
            run_dir, builder_dir / "overlay.qcow2", base.kernel, base.initrd, seed, accelerator, *ports
        )
        run = E2ERun(run_dir, guest, standins, token, user_data, accelerator, timings)
        run.served_before_boot = served_to_builder
        run.conditions = host_conditions(guest)
        label = "golden boot → healthy (qemu start to /healthz 200 through Caddy)"
        disks = (run_dir / "overlay.qcow2", builder_dir / "overlay.qcow2")
        with boot_to_healthy(run, label, sites, disks):
            yield run


def host_conditions(guest: Guest) -> dict[str, Any]:
    """What the timings depend on besides the guest: the host's CPUs and load, qemu, the guest's size."""
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        "unknown",
    )  # fmt: skip
    return {
        "host_cpus": os.cpu_count(),
        "host_cpu_model": model,
        "host_load_average_at_start": [round(load, 2) for load in os.getloadavg()],
        "qemu": qemu.splitlines()[0] if qemu else "unknown",
        "guest_vcpus": guest.cpus,
        "guest_memory_mb": guest.memory_mb,
    }


def record_results(report: dict[str, Any], token: str) -> Path:
    """Append a run's report to bench/results/e2e-vm-<date>.json (a list of runs: the raw material for a
    boot model, issue 18). Refuses to write a report that contains the gateway token."""
    text = json.dumps(report)
    assert token not in text, "the e2e report contains the gateway token"
    path = RESULTS_DIR / f"e2e-vm-{datetime.now(UTC).date().isoformat()}.json"
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"] if path.exists() else []
    runs.append(report)
    path.write_text(json.dumps({"runs": runs}, indent=1) + "\n", encoding="utf-8")
    return path


def print_and_record(run: E2ERun, tests_failed: int, writer: Any, title: str) -> None:
    """After a module's checks: append the run's report to bench/results and print its timings."""
    report = run.report()
    report["tests_failed_in_session"] = tests_failed
    results = record_results(report, run.token)
    writer.line("")
    writer.line(f"{title} under {run.accelerator.name} ({run.accelerator.reason}):", bold=True)
    for label, seconds in {**report["host_seconds"], **report["first_boot_stages_seconds"]}.items():
        writer.line(f"  {seconds:8.1f} s  {label}")
    writer.line(f"raw measurements appended to {results}; logs in {run.run_dir}")

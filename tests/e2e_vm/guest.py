"""The qemu guest: accelerator choice, NoCloud seed, user-mode network with only the seam's forwards, SSH.

The guest reaches nothing but the stand-ins (`restrict=on` plus `guestfwd`); the host reaches the guest's
22, 80, 443 and, to show they are closed, 18789 and 8080, through `hostfwd` on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.e2e_vm import seam

GUEST_PORTS = (22, 80, 443, 18789, 8080)
KERNEL_COMMAND_LINE = "root=LABEL=root ro console=ttyS0 net.ifnames=0"
# The network the guest gets from cloud-init: DHCPv4 only (slirp's DHCPv6 never answers, and waiting for
# it held up network-online for minutes).
NETWORK_CONFIG = {"version": 2, "ethernets": {"eth0": {"dhcp4": True, "dhcp6": False}}}


@dataclass(frozen=True)
class Accelerator:
    name: str  # "kvm" or "tcg"
    reason: str


def choose_accelerator(kernel: Path, probe_seconds: float = 30) -> Accelerator:
    """KVM when it boots a kernel here, software emulation (TCG) otherwise.

    `CLAWHOST_E2E_VM_ACCEL=kvm|tcg` decides without looking. A nested PVM host (`kvm_pvm`) hangs a stock
    kernel, so it is recognised by name; any other /dev/kvm must boot the kernel to its root-mount panic
    within `probe_seconds` (no initrd: the kernel panics at once and -no-reboot ends qemu).
    """
    forced = os.environ.get("CLAWHOST_E2E_VM_ACCEL")
    if forced in ("kvm", "tcg"):
        return Accelerator(forced, "CLAWHOST_E2E_VM_ACCEL")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return Accelerator("tcg", "/dev/kvm is not usable")
    if Path("/sys/module/kvm_pvm").exists():
        return Accelerator("tcg", "/dev/kvm is nested PVM (kvm_pvm), on which a stock kernel hangs")
    command = [
        "qemu-system-x86_64", "-accel", "kvm", "-m", "512", "-nographic", "-no-reboot", "-serial", "stdio",
        "-monitor", "none", "-kernel", str(kernel), "-append", "console=ttyS0 panic=-1",
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=probe_seconds, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Accelerator("tcg", f"a KVM probe boot did not finish within {probe_seconds:.0f} s")
    if b"Linux version" in done.stdout:
        return Accelerator("kvm", "a KVM probe boot reached the kernel")
    return Accelerator("tcg", f"a KVM probe boot failed (exit {done.returncode})")


def write_seed(directory: Path, user_data: str, instance_id: str, hostname: str) -> Path:
    """A NoCloud seed (ISO 9660 labelled cidata) with the user-data exactly as rendered."""
    files = directory / "seed"
    files.mkdir(parents=True, exist_ok=True)
    (files / "user-data").write_text(user_data, encoding="utf-8")
    meta = {"instance-id": instance_id, "local-hostname": hostname}
    (files / "meta-data").write_text(yaml.safe_dump(meta), encoding="utf-8")
    (files / "network-config").write_text(yaml.safe_dump(NETWORK_CONFIG), encoding="utf-8")
    seed = directory / "seed.iso"
    names = ["user-data", "meta-data", "network-config"]
    subprocess.run(
        ["genisoimage", "-quiet", "-output", str(seed), "-volid", "cidata", "-joliet", "-rock", *names],
        cwd=files,
        check=True,
    )
    return seed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Guest:
    """One qemu process over a copy-on-write overlay of the base image."""

    run_dir: Path
    disk: Path
    kernel: Path
    initrd: Path
    seed: Path
    accelerator: Accelerator
    standin_https_port: int
    standin_http_port: int
    ssh_key: Path
    memory_mb: int = 4096
    cpus: int = 2
    ports: dict[int, int] = field(default_factory=dict)  # guest port -> host port
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def serial_log(self) -> Path:
        return self.run_dir / "serial.log"

    def command(self) -> list[str]:
        forwards = [f"hostfwd=tcp:127.0.0.1:{host}-:{guest}" for guest, host in self.ports.items()]
        forwards += seam.guestfwd_rules(self.standin_https_port, self.standin_http_port)
        netdev = ",".join(["user", "id=net0", "restrict=on", *forwards])
        accel = "kvm" if self.accelerator.name == "kvm" else "tcg,thread=multi"
        return [
            "qemu-system-x86_64", "-machine", "q35", "-accel", accel, "-cpu", "max",
            "-smp", str(self.cpus), "-m", str(self.memory_mb), "-nographic", "-vga", "none",
            "-monitor", "none", "-serial", f"file:{self.serial_log}", "-rtc", "base=utc",
            "-kernel", str(self.kernel), "-initrd", str(self.initrd), "-append", KERNEL_COMMAND_LINE,
            "-drive", f"file={self.run_dir / 'overlay.qcow2'},if=virtio,format=qcow2,discard=unmap",
            "-drive", f"file={self.seed},if=virtio,format=raw,readonly=on",
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
        ]  # fmt: skip

    def start(self) -> None:
        overlay = self.run_dir / "overlay.qcow2"
        subprocess.run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "qcow2",
                "-b",
                str(self.disk),
                str(overlay),
                "8G",
            ],
            check=True,
        )
        self.ports = {port: free_port() for port in GUEST_PORTS}
        self.started_at = time.monotonic()
        with open(self.run_dir / "qemu.log", "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_powered_off(self, deadline_seconds: float) -> float:
        """Seconds until the guest powers itself off (qemu exits 0), as a golden builder does."""
        assert self.process is not None, "the guest was never started"
        try:
            code = self.process.wait(timeout=deadline_seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the guest did not power off within {deadline_seconds:.0f} s:\n{self.serial_tail()}"
            ) from None
        assert code == 0, f"qemu exited {code}:\n{self.serial_tail()}"
        return time.monotonic() - self.started_at

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ssh_command(self, remote: str, *, user: str = "clawadmin", extra: tuple[str, ...] = ()) -> list[str]:
        return [
            "ssh", "-p", str(self.ports[22]), "-i", str(self.ssh_key), "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=15", "-o", "BatchMode=yes", *extra, f"{user}@127.0.0.1", remote,
        ]  # fmt: skip

    def ssh(
        self, remote: str, *, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.ssh_command(remote),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"ssh {remote!r} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
        return done

    def wait_for_ssh(self, deadline_seconds: float) -> None:
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"qemu exited; serial log tail:\n{self.serial_tail()}")
            try:
                if self.ssh("true", timeout=30, check=False).returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                pass
            time.sleep(5)
        raise AssertionError(
            f"no SSH within {deadline_seconds:.0f} s; serial log tail:\n{self.serial_tail()}"
        )

    def serial_tail(self, lines: int = 40) -> str:
        if not self.serial_log.exists():
            return "(no serial log)"
        text = self.serial_log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def require_tools() -> list[str]:
    """The host commands the full run needs and lacks (install-deps.sh installs them)."""
    tools = ("qemu-system-x86_64", "qemu-img", "mmdebstrap", "genisoimage", "socat", "sshpass", "npm")
    tools += ("apt-ftparchive", "dpkg-deb", "gpg", "openssl", "ssh", "curl", "mkfs.ext4", "sfdisk")
    return [tool for tool in tools if shutil.which(tool) is None]

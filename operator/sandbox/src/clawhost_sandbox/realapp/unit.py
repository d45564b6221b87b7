"""systemd's side of the gateway unit, emulated: its control group (a memory cgroup) and its stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from clawhost_sandbox.controlplane import die_with_parent
from clawhost_sandbox.realapp.errors import RealAppUnavailable
from clawhost_sandbox.realapp.files import ServerFiles


@dataclass(frozen=True)
class StopResult:
    """How a stop went, in systemd's words: `result` is "success" when the main process ended within
    TimeoutStopSec with a clean status (0, a SuccessExitStatus, or SIGTERM), "timeout" when it had to be
    SIGKILLed, else "exit-code" or "signal"."""

    seconds: float
    returncode: int  # negative = ended by that signal, as subprocess reports it
    killed_after_timeout: bool
    leftover_pids: tuple[int, ...]  # processes of the "control group" alive after the main one ended
    result: str


def stop_unit(main: subprocess.Popen[bytes], unit: ControlGroup, files: ServerFiles) -> StopResult:
    """`systemctl stop` for this unit. KillMode=mixed: SIGTERM to the main process only, up to
    TimeoutStopSec for it to exit, then SIGKILL to everything left in the control group. control-group:
    SIGTERM to every process of it at once. Either way, what is left once the main process is gone is
    SIGKILLed (and reported)."""
    began = time.monotonic()
    if files.kill_mode == "mixed":
        _signal(main.pid, signal.SIGTERM)
    else:
        for pid in unit.pids():
            _signal(pid, signal.SIGTERM)
    killed = False
    try:
        main.wait(timeout=files.stop_timeout)
    except subprocess.TimeoutExpired:
        killed = True
        for pid in unit.pids():
            _signal(pid, signal.SIGKILL)
        main.wait()
    seconds = time.monotonic() - began
    leftovers = tuple(unit.pids())
    unit.kill_all()
    code = main.returncode
    clean = code == 0 or str(code) in files.success_exit_statuses or code == -signal.SIGTERM
    result = "timeout" if killed else "success" if clean else "signal" if code < 0 else "exit-code"
    return StopResult(seconds, code, killed, leftovers, result)


class ControlGroup:
    """The unit's control group: a memory cgroup below this process's own (v2, or v1's memory hierarchy
    as systemd uses it on a v1 host). It finds every process of the unit, also those that left the
    session (OpenClaw's spawn broker does), and reports the unit's peak memory."""

    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version

    @classmethod
    def create(cls, name: str) -> ControlGroup:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, own = line.split(":", 2)
            if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
                path, version = Path("/sys/fs/cgroup") / own.lstrip("/") / name, 2
                break
            if "memory" in controllers.split(","):
                path, version = Path("/sys/fs/cgroup/memory") / own.lstrip("/") / name, 1
                break
        else:
            raise RealAppUnavailable("no memory cgroup to run the gateway's unit in")
        try:
            path.mkdir()
        except OSError as exc:
            raise RealAppUnavailable(f"cannot create the cgroup {path}: {exc}") from exc
        return cls(path, version)

    def limit(self, high: int | None, maximum: int | None) -> None:
        """MemoryHigh and MemoryMax, in bytes (None: no limit)."""
        if self.version == 2:
            for name, value in (("memory.high", high), ("memory.max", maximum)):
                (self.path / name).write_text("max" if value is None else str(value))
        elif maximum is not None:
            (self.path / "memory.limit_in_bytes").write_text(str(maximum))

    def join_and_die_with_parent(self) -> None:
        # Runs in the child between fork and exec.
        (self.path / "cgroup.procs").write_text("0")
        die_with_parent()

    def pids(self) -> list[int]:
        with contextlib.suppress(FileNotFoundError):
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        return []

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int((self.path / name).read_text())
        return 0

    def kill_all(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, SIGKILL after `grace`, then SIGKILL to anything left in its session."""
    _signal(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal(process.pid, signal.SIGKILL)
        process.wait()
    for pid in _session_members_by_sid(process.pid):
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: the fields start after its closing one.
    return text[text.rindex(")") + 2 :].split()


def _session_members_by_sid(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            # state, ppid, pgrp, session, ...; a zombie has exited already
            if stat is not None and stat[0] != "Z" and int(stat[3]) == session:
                members.append(int(entry.name))
    return members


def proc_status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])  # kB
    return values

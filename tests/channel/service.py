"""A stand-in for systemd's part in the channel tests: start, stop and restart one gateway as the unit
would (its EnvironmentFiles read the way systemd reads them, one process, SIGTERM then wait), and show
its log. There is no systemd in the test container; everything the agent does besides asking for a
(re)start is the real thing.

With a file ROOT/restart-always, the gateway runs under a small supervisor that starts it again 5 s
after it exits (not after exit 78, nor when stopped), as the unit's Restart=always, RestartSec=5 and
RestartPreventExitStatus=78 do: on the loaded 2-core machine OpenClaw sometimes misses its own 5 s
start-up limit ("state lease heartbeat did not become ready") and exits, and systemd would start it again.

  python service.py ROOT start|stop|restart|running|log
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path


def environment_file(path: Path) -> dict[str, str]:
    """KEY="value" lines as the renderer writes them: systemd and a POSIX shell both unquote them alike."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            continue
        name, _, raw = line.partition("=")
        (value,) = shlex.split(raw) or [""]
        values[name.strip()] = value
    return values


RESTART_SECONDS = 5  # the unit's RestartSec
NO_RESTART_EXIT = 78  # the unit's RestartPreventExitStatus (a configuration OpenClaw refuses)


def start(root: Path) -> None:
    if not (root / "restart-always").exists():
        launch(root, own_group=True)
        return
    with (root / "supervisor.log").open("ab") as log:
        subprocess.Popen(
            [sys.executable, __file__, str(root), "supervise"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its process group: the supervisor and the gateway, stopped together
        )
    deadline = time.monotonic() + 30
    while not (root / "gateway.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def supervise(root: Path) -> None:
    stopping = False

    def stop_requested(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True  # the gateway got the same SIGTERM (one process group)

    signal.signal(signal.SIGTERM, stop_requested)
    (root / "supervisor.pid").write_text(str(os.getpid()))
    while True:
        code = launch(root, own_group=False).wait()
        if stopping or code == NO_RESTART_EXIT:
            return
        print(f"gateway exited with {code}; starting it again in {RESTART_SECONDS} s", flush=True)
        time.sleep(RESTART_SECONDS)
        if stopping:
            return


def launch(root: Path, own_group: bool) -> subprocess.Popen[bytes]:
    unit = (root / "unit.env").read_text().split("\n")
    argv = shlex.split(unit[0])
    home = root / "home/openclaw"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    env.update(environment_file(root / "unit-environment"))
    env.update(environment_file(root / "etc/openclaw/gateway.env"))
    log = open(root / "gateway.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        argv, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=own_group
    )
    (root / "gateway.pid").write_text(str(process.pid))
    (root / "starts").open("a").write(f"{process.pid}\n")
    return process


def stop(root: Path) -> None:
    supervisor = root / "supervisor.pid"
    if supervisor.exists():
        stop_supervised(root, int(supervisor.read_text()))
        supervisor.unlink()
        return
    pid_file = root / "gateway.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink()
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not running(root):
            break
        time.sleep(0.2)
    else:
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink()


def stop_supervised(root: Path, supervisor: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not running(root) and not alive(supervisor):
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor, signal.SIGKILL)
    (root / "gateway.pid").unlink(missing_ok=True)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def running(root: Path) -> bool:
    pid_file = root / "gateway.pid"
    if not pid_file.exists():
        return False
    try:
        state = Path(f"/proc/{int(pid_file.read_text())}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def main() -> None:
    root, command = Path(sys.argv[1]), sys.argv[2]
    if command in ("stop", "restart"):
        stop(root)
    if command in ("start", "restart"):
        start(root)
    if command == "supervise":
        supervise(root)
    if command == "running":  # `systemctl is-active`: exit 0 while the gateway's process lives
        sys.exit(0 if running(root) else 3)
    if command == "log":
        lines = (root / "gateway.log").read_text(errors="replace").splitlines()
        print("\n".join(lines[-20:]))


if __name__ == "__main__":
    main()

"""A stand-in for systemd's part in the channel tests: start, stop and restart one gateway as the unit
would (its EnvironmentFiles read the way systemd reads them, one process, SIGTERM then wait), and show
its log. There is no systemd in the test container; everything the agent does besides asking for a
(re)start is the real thing.

  python service.py ROOT start|stop|restart|running|log
"""

from __future__ import annotations

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


def start(root: Path) -> None:
    unit = (root / "unit.env").read_text().split("\n")
    argv = shlex.split(unit[0])
    home = root / "home/openclaw"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home)}
    env.update(environment_file(root / "unit-environment"))
    env.update(environment_file(root / "etc/openclaw/gateway.env"))
    log = open(root / "gateway.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        argv, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    (root / "gateway.pid").write_text(str(process.pid))
    (root / "starts").open("a").write(f"{process.pid}\n")


def stop(root: Path) -> None:
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
    if command == "running":  # `systemctl is-active`: exit 0 while the gateway's process lives
        sys.exit(0 if running(root) else 3)
    if command == "log":
        lines = (root / "gateway.log").read_text(errors="replace").splitlines()
        print("\n".join(lines[-20:]))


if __name__ == "__main__":
    main()

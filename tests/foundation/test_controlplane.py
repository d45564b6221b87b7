"""The local control plane starts, answers, and leaves no process behind, even when its parent is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clawhost_sandbox.controlplane import pid_alive

pytestmark = pytest.mark.controlplane
CLI = str(Path(sys.executable).with_name("clawhost-sandbox"))

STARTER = """
import json, sys, time
from pathlib import Path
from clawhost_sandbox.controlplane import ControlPlane
plane = ControlPlane(Path(sys.argv[1]))
access = plane.start()
print(json.dumps({"pids": plane.pids(), "server": access.server}), flush=True)
time.sleep(600)
"""


def wait_until_gone(pids: list[int], timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(pid) for pid in pids):
        time.sleep(0.2)
    return [pid for pid in pids if pid_alive(pid)]


def test_a_killed_parent_takes_the_control_plane_with_it(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    started = json.loads(starter.stdout.readline())
    pids: list[int] = started["pids"]
    assert len(pids) == 3 and all(pid_alive(pid) for pid in pids)
    os.kill(starter.pid, signal.SIGKILL)  # no cleanup code runs in the parent
    starter.wait()
    assert wait_until_gone(pids) == []


def test_cli_up_and_down_leave_nothing_running(tmp_path: Path) -> None:
    directory = tmp_path / "cp"
    up = subprocess.run(
        [CLI, "controlplane", "up", "--dir", str(directory)],
        capture_output=True,
        text=True,
    )
    assert up.returncode == 0, up.stdout + up.stderr
    kubeconfig = Path(up.stdout.strip().splitlines()[-1])
    assert kubeconfig == directory / "kubeconfig" and kubeconfig.exists()
    state = json.loads((directory / "controlplane.json").read_text())
    pids = list(state["pids"].values())
    kubectl = Path(state["bin_dir"]) / "kubectl"
    namespaces = subprocess.run(
        [str(kubectl), f"--kubeconfig={kubeconfig}", "get", "namespaces", "-o", "name"],
        capture_output=True,
        text=True,
    )
    assert "namespace/default" in namespaces.stdout
    # A second `up` in the same directory refuses instead of starting a second control plane.
    again = subprocess.run(
        [CLI, "controlplane", "up", "--dir", str(directory)],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1 and "already running" in again.stdout
    down = subprocess.run(
        [CLI, "controlplane", "down", "--dir", str(directory)],
        capture_output=True,
        text=True,
    )
    assert down.returncode == 0 and "stopped 3 processes" in down.stdout
    assert wait_until_gone(pids) == []

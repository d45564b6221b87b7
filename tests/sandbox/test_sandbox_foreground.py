"""`sandbox up` in the foreground, as a newcomer runs it: the live table ends with every example Ready and
the next steps, and Ctrl-C (SIGINT to the terminal's foreground process group) stops every process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from clawhost_sandbox.controlplane import pid_alive

from tests.sandbox.support import example_instances, processes_under

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = REPO_ROOT / ".venv" / "bin" / "clawhost-sandbox"


@pytest.mark.timeout(600)
def test_foreground_sandbox_shows_progress_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    directory = tmp_path / "sandbox"
    process = subprocess.Popen(
        # The live table and Ctrl-C, not the apps: the stand-in keeps it quick (test_make_sandbox runs
        # the real gateways).
        [str(CLI), "up", "--dir", str(directory), "--examples", str(REPO_ROOT / "examples"),
         "--app", "stand-in"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        start_new_session=True,  # its own process group, as in a terminal
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 400
        while not any("Ctrl-C stops everything" in line for line in lines):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines[-40:])
            time.sleep(0.5)
        state = json.loads((directory / "sandbox.json").read_text())
        started = [*state["pids"].values(), *state["controlplane_pids"]]
        assert all(pid_alive(pid) for pid in started)
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=90) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    reader.join(timeout=10)
    output = "".join(lines)
    table_header = next(line for line in lines if line.startswith("NAME"))
    assert table_header.split() == ["NAME", "PHASE", "READY", "IP", "HOSTNAME", "ELAPSED"]
    assert f"All {len(example_instances(REPO_ROOT))} instance(s) are Ready" in output
    assert "WHMCS token: " in output
    assert "kubectl -n customers patch openclawinstance alice" in output
    assert output.rstrip().endswith("sandbox: stopped everything")
    assert not [pid for pid in started if pid_alive(pid)]
    assert processes_under(directory) == []

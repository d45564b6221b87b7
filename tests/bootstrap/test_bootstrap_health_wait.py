"""The bootstrap's last step: wait for the gateway's first `/readyz` 200 on loopback.

The step is cut out of the rendered script and run by bash against a real HTTP listener on 127.0.0.1. The
one command faked is `systemctl` (no systemd here): a script on PATH whose `is-failed` answers what the
test says, as systemd would for a unit it has given up on.
"""

from __future__ import annotations

import http.server
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openclaw_operator.bootstrap.render import BOOTSTRAP_SCRIPT
from tests.bootstrap.userdata import render

# The gateway's first start took 148 s under emulation on a loaded host (docs/e2e-vm.md); the budget
# must outlast that and a systemd restart after it.
SLOWEST_FIRST_START_SECONDS = 148 + 5


def wait_step(budget_seconds: int | None = None) -> str:
    """Step 7 of the rendered script, with its budget replaced when `budget_seconds` is given."""
    script = render().content(BOOTSTRAP_SCRIPT)
    start = script.index("# 7. ")
    end = script.index('log "OpenClaw ${OPENCLAW_VERSION} is up"\nexit 0\n', start)
    step = script[start:end] + 'log "OpenClaw ${OPENCLAW_VERSION} is up"\nexit 0\n'
    if budget_seconds is not None:
        step, count = re.subn(
            r"^READY_WAIT_SECONDS=\d+$", f"READY_WAIT_SECONDS={budget_seconds}", step, flags=re.M
        )
        assert count == 1, "the wait step has no READY_WAIT_SECONDS"
    return step


def rendered_budget() -> int:
    match = re.search(r"^READY_WAIT_SECONDS=(\d+)$", wait_step(), flags=re.M)
    assert match, "the wait step has no READY_WAIT_SECONDS"
    return int(match.group(1))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def gateway_after(port: int, delay_seconds: float) -> Iterator[None]:
    """A listener answering /readyz 200 on `port`, opened only after `delay_seconds` (until then the
    port refuses connections, as while systemd restarts a gateway that exited)."""
    servers: list[http.server.HTTPServer] = []

    def serve() -> None:
        time.sleep(delay_seconds)
        server = http.server.HTTPServer(("127.0.0.1", port), _Ready)
        servers.append(server)
        server.serve_forever(poll_interval=0.1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        while thread.is_alive() and not servers:
            time.sleep(0.05)
        for server in servers:
            server.shutdown()
            server.server_close()


def run_step(
    tmp_path: Path, step: str, port: int, *, unit_failed: bool
) -> tuple[subprocess.CompletedProcess[str], float]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    systemctl = bin_dir / "systemctl"
    answer = 0 if unit_failed else 1
    systemctl.write_text(f'#!/bin/sh\n[ "$1" = is-failed ] && exit {answer}\nexit 0\n', encoding="utf-8")
    systemctl.chmod(0o755)
    # What the script defines before step 7 and the step uses.
    prelude = (
        f"set -euo pipefail\nGATEWAY_PORT={port}\nOPENCLAW_VERSION=0.0.0\n"
        'log() { echo "clawhost-bootstrap: $*"; }\n'
    )
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", prelude + step],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
    )
    return done, time.monotonic() - started


def test_the_budget_outlasts_the_slowest_first_start_measured() -> None:
    assert rendered_budget() > 2 * SLOWEST_FIRST_START_SECONDS


def test_the_wait_outlasts_a_gateway_that_is_down_for_a_while(tmp_path: Path) -> None:
    port, step = free_port(), wait_step(budget_seconds=60)
    with gateway_after(port, delay_seconds=5):
        done, seconds = run_step(tmp_path, step, port, unit_failed=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "clawhost-bootstrap: OpenClaw 0.0.0 is up" in done.stdout
    assert "Failed to connect" in done.stderr  # it asked while the port was closed, and kept asking
    assert seconds >= 4


def test_the_wait_ends_at_its_budget(tmp_path: Path) -> None:
    done, seconds = run_step(tmp_path, wait_step(budget_seconds=3), free_port(), unit_failed=False)
    assert done.returncode == 1
    assert "the gateway was not ready on /readyz within 3 s" in done.stdout
    assert seconds >= 3


def test_the_wait_ends_at_once_when_systemd_gave_up_on_the_gateway(tmp_path: Path) -> None:
    done, seconds = run_step(tmp_path, wait_step(), free_port(), unit_failed=True)
    assert done.returncode == 1
    assert "systemd will not restart it" in done.stdout
    assert seconds < rendered_budget() / 5

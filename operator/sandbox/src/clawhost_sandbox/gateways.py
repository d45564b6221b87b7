"""The sandbox's real servers: for every simulated Hetzner server that is running, the real OpenClaw gateway
behind the real Caddy (clawhost_sandbox.realapp), started from the user-data the operator sent to Hetzner.

One thread watches the simulator and starts and stops servers one at a time: a gateway start takes most of a
core for several seconds, and each process's parent-death signal is tied to the thread that started it, so
that thread lives as long as the fleet. A server that stops running (off, rebuilt, deleted) loses its
gateway; one rebuilt with new user-data gets a new one. Host names resolve to the servers through
`hosts_file` (for clawhost_sandbox.named_operator), and one CA (`ca`) signs every server's certificate.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.realapp import (
    GatewayError,
    Installation,
    LocalCA,
    RealAppUnavailable,
    RealServer,
    ServerFiles,
)

log = logging.getLogger(__name__)
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class Gateway:
    server_id: int
    hostname: str
    address: str
    started_seconds: float
    rss_mb: float


class Gateways:
    def __init__(self, hetzner: HetznerSimulator, installation: Installation, directory: Path) -> None:
        self.hetzner = hetzner
        self.installation = installation
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca = LocalCA.create(directory / "ca")
        self.hosts_file = directory / "hosts"
        # What the operator trusts: the system's CAs and the servers' one.
        self.ca_bundle = directory / "ca-bundle.pem"
        self._running: dict[int, tuple[str, RealServer]] = {}  # server id -> (its user-data, the server)
        self._failed: dict[int, str] = {}  # server id -> why its gateway did not come up (not retried)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gateways", daemon=True)

    def start(self) -> None:
        system = SYSTEM_CA_BUNDLE.read_text() if SYSTEM_CA_BUNDLE.exists() else ""
        self.ca_bundle.write_text(system + self.ca.certificate.read_text())
        self._write_hosts()
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def gateways(self) -> list[Gateway]:
        with self._lock:
            servers = dict(self._running)
        result = []
        for server_id, (_, server) in sorted(servers.items()):
            try:
                rss = server.memory().rss_bytes / 2**20
            except RuntimeError:
                continue  # stopped meanwhile
            result.append(
                Gateway(server_id, server.hostname, server.address, server.started_seconds or 0, rss)
            )
        return result

    def failures(self) -> dict[int, str]:
        with self._lock:
            return dict(self._failed)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._sync()
                except Exception:  # a failed look at the simulator: try again next round
                    log.exception("gateways: syncing with the Hetzner simulator failed")
                self._stop.wait(1.0)
        finally:
            with self._lock:
                servers, self._running = list(self._running.values()), {}
            for _, server in servers:
                server.close()

    def _sync(self) -> None:
        running = {server["id"] for server in self.hetzner.servers() if server["status"] == "running"}
        for server_id, (user_data, server) in list(self._running.items()):
            if server_id not in running or self.hetzner.user_data(server_id) != user_data:
                with self._lock:
                    del self._running[server_id]
                server.close()
                self._write_hosts()
        for server_id in sorted(running - self._running.keys() - self._failed.keys()):
            if self._stop.is_set():
                return
            created_with = self.hetzner.user_data(server_id)
            if created_with:
                self._start(server_id, created_with)

    def _start(self, server_id: int, user_data: str) -> None:
        directory = self.directory / f"server-{server_id}"
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        server = RealServer(self.installation, ServerFiles.from_user_data(user_data), directory, ca=self.ca)
        try:
            server.start()
        except (GatewayError, RealAppUnavailable) as error:
            with self._lock:
                self._failed[server_id] = str(error)
            log.error("gateways: server %d's gateway did not come up: %s", server_id, error)
            return
        with self._lock:
            self._running[server_id] = (user_data, server)
        self._write_hosts()
        log.info("gateways: server %d (%s) runs at %s", server_id, server.hostname, server.address)

    def _write_hosts(self) -> None:
        with self._lock:
            lines = [f"{server.hostname} {server.address}\n" for _, server in self._running.values()]
        scratch = self.hosts_file.with_suffix(".new")
        scratch.write_text("".join(lines))
        scratch.replace(self.hosts_file)

"""The stand-in servers on the host's loopback: one HTTPS and one HTTP server for every stand-in host.

A request is served by its Host header: the npm registry from the npm store (packuments and tarballs),
every other host from a static tree `<sites>/<host>/<path>` (the apt repositories, Debian's index).
Static files answer `If-Modified-Since` with 304, which is how apt learns that Debian's index is the one
it already has. Every request is recorded, so a test can show that the guest really used the stand-ins.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from tests.e2e_vm.npmstore import store_path

NPM_HOST = "registry.npmjs.org"


@dataclass(frozen=True)
class ServedRequest:
    scheme: str
    host: str
    method: str
    path: str
    status: int


@dataclass
class StandinConfig:
    sites: Path
    npm_store: Path
    # Extra Host names served as another host (the fast tests reach the npm stand-in as 127.0.0.1).
    aliases: Mapping[str, str] = field(default_factory=dict)
    requests: list[ServedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(SimpleHTTPRequestHandler):
    config: StandinConfig
    scheme: str
    protocol_version = "HTTP/1.1"

    def _host(self) -> str:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        if host.startswith("["):
            host = host.strip("[]")
        return self.config.aliases.get(host, host)

    def translate_path(self, path: str) -> str:
        host = self._host()
        path = unquote(urlsplit(path).path)
        if host == NPM_HOST:
            return str(self._npm_file(path))
        if not host or "/" in host or host.startswith("."):
            return str(self.config.sites / "unknown-host")
        target = (self.config.sites / host / path.lstrip("/")).resolve()
        if not target.is_relative_to(self.config.sites.resolve()):
            return str(self.config.sites / "outside")
        return str(target)

    def _npm_file(self, path: str) -> Path:
        name, separator, file_name = path.lstrip("/").partition("/-/")
        if separator:
            return self.config.npm_store / "tarballs" / quote(name, safe="@") / Path(file_name).name
        return store_path(self.config.npm_store, name)

    def guess_type(self, path: str | Any) -> str:
        if str(path).endswith(".json"):
            return "application/json"
        return super().guess_type(path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = int(code) if str(code).isdigit() else 0
        record = ServedRequest(self.scheme, self._host(), self.command or "", self.path, status)
        with self.config.lock:
            self.config.requests.append(record)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass(frozen=True)
class RunningStandins:
    https_port: int
    http_port: int
    config: StandinConfig

    def requests(self) -> list[ServedRequest]:
        with self.config.lock:
            return list(self.config.requests)


@contextmanager
def serve_standins(config: StandinConfig, cert: Path, key: Path) -> Iterator[RunningStandins]:
    """Both servers on 127.0.0.1 (ephemeral ports), each in its own thread, for the `with` block."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    servers = []
    for scheme in ("https", "http"):
        handler = type(f"{scheme}Handler", (_Handler,), {"config": config, "scheme": scheme})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        if scheme == "https":
            # The handshake happens in the request's thread, so one slow client cannot stall the rest.
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        servers.append(server)
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    try:
        yield RunningStandins(servers[0].server_address[1], servers[1].server_address[1], config)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()

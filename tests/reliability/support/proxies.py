"""Faults between the operator and what it talks to, where the simulators cannot put them.

- `LossyProxy`: plain HTTP in front of a provider simulator. It can carry a request out and then hang up
  instead of answering: the provider did it, the operator never heard. That is what a timeout after a
  create looks like in real life, and the classic way to get a duplicate server.
- `TcpRelay`: bytes in both directions between the operator and the kube-apiserver (TLS passes through
  untouched). `sever()` cuts every open connection at once, watch streams included, mid-stream.

Each runs its own event loop in a thread, so the test thread and the simulators' loop stay free.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}
T = TypeVar("T")


class _LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=30)
        self.loop.close()


@dataclass
class _LossRule:
    method: str
    path: re.Pattern[str]
    left: int


class LossyProxy:
    """`with LossyProxy(sim.base_url) as proxy:` then point the operator at `proxy.base_url + prefix`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.base_url = ""
        self.lost: list[tuple[str, str, int]] = []  # (method, path, the status the operator never saw)
        self.arrivals: list[float] = []  # wall time each request reached the proxy (= when it was sent)
        self._rules: list[_LossRule] = []
        self._thread = _LoopThread("lossy-proxy")
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    def lose_answers(self, method: str, path_pattern: str, count: int) -> None:
        """Hang up instead of answering the next `count` successful requests whose path matches."""
        self._rules.append(_LossRule(method, re.compile(path_pattern), count))

    def __enter__(self) -> LossyProxy:
        self._thread.start()
        self._thread.run(self._start())
        return self

    def __exit__(self, *_: object) -> None:
        self._thread.run(self._stop())
        self._thread.stop()

    async def _start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _take_loss(self, method: str, path: str, status: int) -> bool:
        if status >= 300:
            return False
        for rule in self._rules:
            if rule.left > 0 and rule.method == method and rule.path.search(path):
                rule.left -= 1
                self.lost.append((method, path, status))
                return True
        return False

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.arrivals.append(time.time())
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        body = await request.read()
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body or None
        ) as upstream:
            payload = await upstream.read()
            if self._take_loss(request.method, request.path, upstream.status):
                _hang_up(request)
            response = web.Response(status=upstream.status, body=payload)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers[key] = value
            return response


def _hang_up(request: web.Request) -> NoReturn:
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


class TcpRelay:
    """`with TcpRelay(port) as relay:` listens on `relay.port` and relays to 127.0.0.1:`port`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.accepted = 0  # connections the operator opened through the relay
        self.severed = 0  # connections cut by sever()
        self._thread = _LoopThread("tcp-relay")
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> TcpRelay:
        self._thread.start()
        self._thread.run(self._start())
        return self

    def __exit__(self, *_: object) -> None:
        self.sever()
        self._thread.run(self._stop())
        self._thread.stop()

    def sever(self) -> int:
        """Cut every open connection (RST, no goodbye); new connections are accepted as before."""
        return self._thread.run(self._sever())

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._pair, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _sever(self) -> int:
        writers = list(self._open)
        for writer in writers:
            writer.transport.abort()
        self._open.clear()
        cut = len(writers) // 2  # two writers per connection
        self.severed += cut
        return cut

    async def _pair(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, server_writer))
        await asyncio.gather(
            _pump(client_reader, server_writer, self._open), _pump(server_reader, client_writer, self._open)
        )


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, open_: set[Any]) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        open_.discard(writer)
        writer.transport.abort()

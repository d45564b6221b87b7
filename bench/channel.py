"""The channel's transport: asyncssh inside the operator vs one OpenSSH `ssh` process per request (the
client it replaced), per-call latency and memory, against a real sshd whose forced command echoes the
request (tests/channel/echo_sshd.py). The figures are the transport's alone: the real agent on a server
adds the same time to either client.

`python -m bench.channel` writes bench/results/<date>-channel.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from openclaw_operator.providers.channel import ChannelClient
from tests.channel.echo_sshd import EchoSshd, echo_sshd, keygen

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUEST = {"op": "state"}
Call = Callable[[], Awaitable[Any]]


def asyncssh_call(key: Path, sshd: EchoSshd) -> Call:
    client = ChannelClient(str(key), port=sshd.port, user=sshd.user, concurrency=64)
    return lambda: client.call("127.0.0.1", sshd.host_key, REQUEST)


def openssh_call(key: Path, sshd: EchoSshd, scratch: Path) -> Call:
    """The previous adapter's command line, host key pinned in a known_hosts file."""
    known_hosts = scratch / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_key}\n")
    argv = [
        "ssh", "-T", "-p", str(sshd.port), "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=15", "-o", "LogLevel=ERROR",
        "-F", "/dev/null", f"{sshd.user}@127.0.0.1",
    ]  # fmt: skip

    async def call() -> Any:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await process.communicate(json.dumps(REQUEST).encode())
        assert process.returncode == 0 and json.loads(out)["ok"], err
        return out

    return call


class PeakMemory:
    """This process and its `ssh` children, sampled every 10 ms: the most resident memory seen, in MiB."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.peak = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            total = self.me.memory_info().rss
            for child in self.me.children():  # the ssh clients; sshd and its sessions are the server's
                with contextlib.suppress(psutil.NoSuchProcess):
                    if child.name() == "ssh":
                        total += child.memory_info().rss
            self.peak = max(self.peak, total / 2**20)
            time.sleep(0.01)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


async def measure(call: Call, calls: int, parallel: int) -> dict[str, float]:
    await call()  # warm: first connection, imports
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    before = psutil.Process().memory_info().rss / 2**20
    with PeakMemory() as memory:
        started = time.perf_counter()
        await asyncio.gather(*(call() for _ in range(parallel)))
        burst = time.perf_counter() - started
    return {
        "median_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        f"parallel_{parallel}_seconds": round(burst, 2),
        f"parallel_{parallel}_extra_rss_mib": round(memory.peak - before, 1),
    }


def import_cost() -> float:
    """Resident MiB asyncssh (with cryptography) adds to an interpreter that already holds the operator's
    other dependencies: what the operator now carries instead of spawning ssh."""
    probe = (
        "import psutil; p = psutil.Process(); import kopf, hcloud, cloudflare, kubernetes, aiohttp, pydantic;"
        "a = p.memory_info().rss; import asyncssh; print((p.memory_info().rss - a) / 2**20)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return round(float(done.stdout), 1)


def run(calls: int, parallel: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-channel-") as scratch:
        root = Path(scratch)
        key = keygen(root / "operator", "bench")
        with echo_sshd(root, key.with_suffix(".pub").read_text()) as sshd:
            return {
                "asyncssh": asyncio.run(measure(asyncssh_call(key, sshd), calls, parallel)),
                "openssh_subprocess": asyncio.run(measure(openssh_call(key, sshd, root), calls, parallel)),
                "asyncssh_import_rss_mib": import_cost(),
                "calls": calls,
                "parallel": parallel,
            }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.channel", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    results = run(args.calls, args.parallel)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    results["date"] = stamp
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stamp}-channel.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        f"| {name} | {r['median_ms']} | {r['p95_ms']} | {r[f'parallel_{args.parallel}_seconds']} | "
        f"{r[f'parallel_{args.parallel}_extra_rss_mib']} |"
        for name, r in (("asyncssh", results["asyncssh"]), ("ssh subprocess", results["openssh_subprocess"]))
    ]
    table = "\n".join(
        [
            f"# Channel transport, {stamp} ({args.calls} sequential calls, {args.parallel} in parallel)",
            "",
            f"| client | median ms | p95 ms | {args.parallel} parallel, s | extra RSS at peak, MiB |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Importing the channel (asyncssh, cryptography) adds {results['asyncssh_import_rss_mib']} MiB "
            "to the operator once.",
        ]
    )
    (args.out / f"{stamp}-channel.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

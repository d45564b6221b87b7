"""The backup store at fleet scale (`python -m bench.backup_store`): what the operator pays for it.

Against the real S3 server of the tests (versitygw, tests/s3/build.sh): the memory the adapter adds to an
operator process that already has aiohttp (the app probe's), presigned URLs per second, and one listing of
every instance's backups at 5,000 instances (one object each): requests and seconds. Writes
bench/results/<date>-backup-store.json.

`make bench` runs it through `run_backup_store` in a process of its own, so the memory figure is the
adapter's and not whatever the bench's own process imported before.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent


def _rss() -> int:
    return int(psutil.Process().memory_info().rss)


def _put(url: str) -> None:
    request = urllib.request.Request(url, data=b"x" * 64, method="PUT")  # noqa: S310 (loopback)
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (loopback)
        pass


def measure(instances: int) -> dict[str, Any]:
    # The baseline: what every operator process has loaded anyway (aiohttp for the app probe, metrics).
    import aiohttp  # noqa: F401

    from openclaw_operator import metrics

    before = _rss()
    from openclaw_operator.providers.backup_store import BackupStore  # noqa: F401

    import_kib = (_rss() - before) // 1024
    from tests.support.s3 import start_s3  # the test fixture (and pytest) after the measurement

    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        server = stack.enter_context(contextlib.contextmanager(start_s3)(Path(scratch)))
        store = server.store()
        keys = [store.key_for("fleet", f"i{n:05d}", f"uid-{n:05d}", "b-1") for n in range(instances)]
        started = time.perf_counter()
        urls = [store.presign_put(key) for key in keys]
        presign_per_second = len(urls) / (time.perf_counter() - started)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(_put, urls))

        def listings() -> float:
            return sum(
                sample.value
                for family in metrics.PROVIDER_REQUESTS.collect()
                for sample in family.samples
                if sample.name.endswith("_total") and sample.labels.get("operation") == "GET /{bucket}"
            )

        async def list_all() -> tuple[int, float]:
            async with store:
                began = time.perf_counter()
                found = await store.list(store.prefix + "instances/")
                return len(found), time.perf_counter() - began

        sent = listings()
        found, list_seconds = asyncio.run(list_all())
        return {
            "instances": instances,
            "import_kib_over_aiohttp": import_kib,
            "presigned_urls_per_second": round(presign_per_second),
            "list_objects": found,
            "list_requests": listings() - sent,
            "list_seconds": round(list_seconds, 3),
        }


def run_backup_store(instances: int, workdir: Path) -> dict[str, Any]:
    """`measure` in a fresh interpreter (see the module's last paragraph); its JSON result."""
    out = workdir / "backup-store"
    subprocess.run(
        [sys.executable, "-m", "bench.backup_store", "--instances", str(instances), "--out", str(out)],
        check=True,
        cwd=REPO_ROOT,
    )
    (result,) = out.glob("*-backup-store.json")
    found: dict[str, Any] = json.loads(result.read_text())
    return found


def backup_store_markdown(results: dict[str, Any]) -> str:
    return (
        "## Backup store (S3, versitygw)\n\n"
        "| instances | LIST requests for every backup | list s | presigned URLs/s | RSS over aiohttp KiB |\n"
        "| --- | --- | --- | --- | --- |\n"
        f"| {results['instances']:,} | {results['list_requests']:g} | {results['list_seconds']} "
        f"| {results['presigned_urls_per_second']:,} | {results['import_kib_over_aiohttp']:,} |\n"
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backup_store", description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    result = measure(args.instances)
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{datetime.now(UTC):%Y-%m-%d}-backup-store.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

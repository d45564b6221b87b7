"""A real S3-compatible server for tests: versitygw (built by tests/s3/build.sh from the Go module proxy)
with its posix backend in a scratch directory, on a free loopback port, with one bucket.

Import `s3_server` into a test directory's conftest to use it there (tests/s3, tests/backup).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openclaw_operator.providers.backup_store import BackupStore, Credentials, sigv4_headers

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tests/s3/build.sh"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    root: Path  # the posix backend's directory: <root>/<bucket>/<key>

    def store(self, **overrides: str) -> BackupStore:
        values = {
            "endpoint": self.endpoint,
            "bucket": self.bucket,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            **overrides,
        }
        return BackupStore(**values)


def versitygw_binary() -> Path | None:
    done = subprocess.run([str(BUILD_SCRIPT), "--where"], capture_output=True, text=True, check=False)
    binary = Path(done.stdout.strip()) / "versitygw"
    return binary if (binary.parent / ".complete").exists() and binary.exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_bucket(endpoint: str, bucket: str, creds: Credentials) -> int:
    url = f"{endpoint}/{bucket}"
    request = urllib.request.Request(url, method="PUT", headers=sigv4_headers(creds, "PUT", url))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def start_s3(directory: Path, bucket: str = "clawhost-backups") -> Iterator[S3Server]:
    """Start versitygw, create the bucket, yield, stop. Skips (with the reason) without the binary."""
    binary = versitygw_binary()
    if binary is None:
        pytest.skip(f"versitygw is not built: run {BUILD_SCRIPT.relative_to(REPO)} (or `make s3server`)")
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    creds = Credentials("clawhost-test-" + secrets.token_hex(4), secrets.token_urlsafe(24), REGION)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # the root user's key and secret through the environment: never on a command line
        "ROOT_ACCESS_KEY": creds.access_key,
        "ROOT_SECRET_KEY": creds.secret_key,
    }
    log = (directory / "versitygw.log").open("wb")
    process = subprocess.Popen(
        [str(binary), "--port", f"127.0.0.1:{port}", "--region", REGION, "--quiet", "posix", str(data)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while _create_bucket(endpoint, bucket, creds) != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "versitygw did not start:\n" + (directory / "versitygw.log").read_text()[-2000:]
                )
            time.sleep(0.1)
        yield S3Server(endpoint, bucket, creds.access_key, creds.secret_key, data)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    yield from start_s3(tmp_path_factory.mktemp("s3"))

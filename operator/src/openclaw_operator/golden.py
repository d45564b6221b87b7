"""`openclaw-operator golden build`: one golden snapshot per run (a Kubernetes Job; docs/golden-images.md).

A builder server boots the base image with the bootstrap's install stage only; cloud-init powers it off
once the install finished (`power_state`, conditional on the script's last line), which is all the build
watches: no SSH, no agent. Then the builder is snapshotted with the inputs' labels and deleted, and only
the newest few snapshots per inputs hash are kept. The builder carries a deadline label: a build that
crashes leaves it behind, and the next build of the same inputs (same deterministic name) or the
operator's orphan sweep, once the deadline passed, deletes it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import SecretStr

from openclaw_operator.bootstrap.render import install_stage_hash, render_install_user_data
from openclaw_operator.bootstrap.settings import MIN_OPENCLAW_VERSION, BootstrapSettings
from openclaw_operator.bootstrap.versions import UnsafeVersionError
from openclaw_operator.providers.errors import Failure
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconcile import golden
from openclaw_operator.reconcile.model import ImageStatus, ServerStatus, SnapshotObservation

log = logging.getLogger(__name__)

# The measured cold install is about a minute natively (hetzner/boot.py in the sandbox) and took 47 min
# under emulation; 30 min leaves room for slow mirrors without keeping a failed builder for long.
DEFAULT_TIMEOUT_SECONDS = 1800.0


class BuildFailed(Exception):
    """The build did not produce a snapshot; the builder has been deleted (or will be, at its deadline)."""


@dataclass(frozen=True)
class BuildRequest:
    """One build. A snapshot can be used in every location of its project; it makes servers of any type
    of its architecture whose disk is at least the builder's, so the builder is the smallest disk."""

    location: str
    server_type: str
    openclaw_version: str
    base_image: str = "ubuntu-24.04"
    # snapshots kept per inputs hash: the newest, and one to fall back to while a new one is checked
    keep: int = golden.DEFAULT_KEEP
    timeout: float = DEFAULT_TIMEOUT_SECONDS  # seconds from the start to an available snapshot
    poll: float = 10.0
    cluster: str | None = None  # CLAWHOST_CLUSTER_ID: the orphan sweep judges only its own builders


@dataclass(frozen=True)
class BuildResult:
    snapshot: SnapshotObservation
    inputs: golden.GoldenInputs
    deleted_snapshots: tuple[int, ...]
    seconds: float


async def build(
    provider: HetznerProvider,
    settings: BootstrapSettings,
    request: BuildRequest,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> BuildResult:
    started = clock()
    user_data = render_install_user_data(settings, request.openclaw_version)  # refuses an unsafe version
    inputs = golden.GoldenInputs(
        request.base_image,
        request.openclaw_version,
        settings.node_major,
        install_stage_hash(request.base_image, request.openclaw_version, settings),
    )
    server_type = await provider.server_type(request.server_type)
    if server_type is None:
        raise BuildFailed(f"Hetzner has no server type named {request.server_type}")
    name = golden.builder_name(inputs.inputs_hash)
    leftover = await provider.server_by_name(name)
    if leftover is not None:
        if golden.BUILDER_LABEL not in leftover.labels:
            raise BuildFailed(f"a server named {name} exists and is not a golden builder; left untouched")
        log.warning("deleting builder %s (%d) of an earlier build that did not finish", name, leftover.id)
        await _delete_builder(provider, leftover.id, sleep, request.poll)
    deadline = started + request.timeout
    labels = golden.builder_labels(inputs, server_type.architecture, request.cluster, deadline)
    server, _ = await provider.create_server(
        name=name,
        server_type=request.server_type,
        image=request.base_image,
        location=request.location,
        labels=labels,
        user_data=user_data,
    )
    log.info("builder %s (%d) created for inputs %s", name, server.id, inputs.inputs_hash)
    try:
        await _until(
            lambda: provider.get_server(server.id),
            lambda s: s is not None and s.status == ServerStatus.OFF,
            deadline,
            clock,
            sleep,
            request.poll,
            f"the install stage on builder {name} did not finish (power off) within {request.timeout:g}s",
        )
        description = f"clawhost golden openclaw {request.openclaw_version} on {request.base_image}"
        image, _ = await provider.create_snapshot(
            server.id, description, inputs.labels(server_type.architecture, request.cluster)
        )
        snapshot = await _until(
            lambda: provider.get_snapshot(image.id),
            lambda s: s is not None and s.status == ImageStatus.AVAILABLE,
            deadline,
            clock,
            sleep,
            request.poll,
            f"snapshot {image.id} of builder {name} was not available within {request.timeout:g}s",
        )
        assert snapshot is not None
    finally:
        await _delete_builder(provider, server.id, sleep, request.poll)
    kept = await provider.list_snapshots(golden.GOLDEN_SELECTOR)
    deleted = []
    for old in golden.superseded(kept, request.keep):
        if await provider.delete_snapshot(old.id):
            deleted.append(old.id)
    return BuildResult(snapshot, inputs, tuple(deleted), round(clock() - started, 1))


T = TypeVar("T")


async def _until(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    deadline: float,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    poll: float,
    failure: str,
) -> T:
    while True:
        value = await read()
        if done(value):
            return value
        if clock() >= deadline:
            raise BuildFailed(failure)
        await sleep(poll)


async def _delete_builder(
    provider: HetznerProvider, server_id: int, sleep: Callable[[float], Awaitable[None]], poll: float
) -> None:
    """Delete and wait until it is gone, so a build that follows can reuse the name."""
    await provider.delete_server(server_id)
    while await provider.get_server(server_id) is not None:
        await sleep(poll)


# --- the command ---------------------------------------------------------------------------------------
def configure(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="golden_command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "build",
        help="build one golden snapshot (run as a Kubernetes Job)",
        description=(
            "Build a golden snapshot: a builder server runs the bootstrap's install stage and powers off, "
            "is snapshotted with its inputs' labels and deleted; older snapshots of the same inputs "
            "beyond --keep are deleted. Reads HCLOUD_TOKEN or HCLOUD_TOKEN_FILE, HCLOUD_ENDPOINT, "
            "CLAWHOST_CLUSTER_ID and CLAWHOST_MIN_OPENCLAW_VERSION like the operator."
        ),
    )
    run.add_argument("--location", required=True)
    run.add_argument("--server-type", required=True, help="the smallest disk of its architecture")
    run.add_argument("--openclaw-version", required=True)
    run.add_argument("--base-image", default="ubuntu-24.04")
    run.add_argument("--keep", type=int, default=golden.DEFAULT_KEEP, help="snapshots kept per inputs")
    run.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds")
    run.add_argument("--poll", type=float, default=10.0, help="seconds between status reads")
    run.set_defaults(func=_build_command)


def _build_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    token = os.environ.get("HCLOUD_TOKEN")
    if token_file := os.environ.get("HCLOUD_TOKEN_FILE"):
        token = Path(token_file).read_text(encoding="utf-8").strip()
    if not token:
        print("golden build: HCLOUD_TOKEN or HCLOUD_TOKEN_FILE is required", file=sys.stderr)
        return 2
    named = ("location", "server_type", "openclaw_version", "base_image", "keep", "timeout", "poll")
    request = BuildRequest(
        **{name: getattr(args, name) for name in named}, cluster=os.environ.get("CLAWHOST_CLUSTER_ID") or None
    )
    settings = BootstrapSettings(
        min_openclaw_version=os.environ.get("CLAWHOST_MIN_OPENCLAW_VERSION", MIN_OPENCLAW_VERSION)
    )
    provider = HetznerProvider(
        SecretStr(token),
        os.environ.get("HCLOUD_ENDPOINT", "https://api.hetzner.cloud/v1"),
        RateLimiter("hetzner"),
        concurrency=2,
        timeout=30.0,
    )
    try:
        result = asyncio.run(build(provider, settings, request))
    except (BuildFailed, UnsafeVersionError, Failure) as exc:
        print(f"golden build failed: {exc}", file=sys.stderr)
        return 1
    finally:
        provider.close()
    print(
        json.dumps(
            {
                "snapshot": result.snapshot.id,
                "inputs": result.inputs.inputs_hash,
                "labels": result.snapshot.labels,
                "deleted_snapshots": list(result.deleted_snapshots),
                "seconds": result.seconds,
            }
        )
    )
    return 0

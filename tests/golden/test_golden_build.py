"""`golden build` against the Hetzner simulator through the real hcloud SDK adapter: the builder runs the
install stage and powers itself off (cloud-init's power_state, modelled by the simulator), is snapshotted
with the inputs' labels and deleted; older snapshots beyond --keep go; a failed install or a crashed build
leaves no builder for long (the build's own cleanup, the next build, the orphan sweep)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from clawhost_sandbox.hetzner.boot import INSTALL_ADDS_GB, MEASURED, BootModel
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.hetzner.world import SNAPSHOT_COMPRESSION, SYSTEM_IMAGE_USED_GB
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread
from pydantic import SecretStr

from openclaw_operator.bootstrap.render import BootstrapSettings, install_stage_hash
from openclaw_operator.golden import BuildFailed, BuildRequest, build
from openclaw_operator.kube import KubeClient
from openclaw_operator.observe import Observer
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconcile import golden, naming
from openclaw_operator.reconcile.model import ImageStatus
from openclaw_operator.sweep import OrphanSweep
from tests.operator.unit.test_orphan_sweep import FakeKube

TOKEN = "htok-golden-build-0123456789abcdef"
SETTINGS = BootstrapSettings()
VERSION = SETTINGS.default_openclaw_version
REQUEST = BuildRequest(location="fsn1", server_type="cx23", openclaw_version=VERSION, cluster="c1", poll=5.0)


@dataclass
class Sim:
    hetzner: HetznerSimulator
    clock: SimClock
    provider: HetznerProvider

    async def sleep(self, seconds: float) -> None:
        """The build's waits pass in simulated time at once."""
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    def servers(self) -> list[dict[str, object]]:
        return list(self.hetzner.snapshot()["servers"])


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    clock = SimClock()
    hetzner = HetznerSimulator(token=TOKEN, clock=clock, latency=LatencyModel.none())
    await hetzner.start()
    provider = HetznerProvider(SecretStr(TOKEN), hetzner.url, RateLimiter("hetzner"), 4, 10)
    try:
        yield Sim(hetzner, clock, provider)
    finally:
        provider.close()
        await hetzner.stop()


async def test_a_build_snapshots_the_installed_builder_and_deletes_it(sim: Sim) -> None:
    result = await build(sim.provider, SETTINGS, REQUEST, clock=sim.clock.now, sleep=sim.sleep)
    snapshot = result.snapshot
    assert snapshot.status == ImageStatus.AVAILABLE
    wanted = install_stage_hash("ubuntu-24.04", VERSION, SETTINGS)
    assert snapshot.labels == {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.CLUSTER_LABEL: "c1",
        golden.GOLDEN_LABEL: "true",
        golden.INPUTS_LABEL: wanted,
        golden.OPENCLAW_VERSION_LABEL: VERSION,
        golden.NODE_VERSION_LABEL: "24",
        golden.BASE_IMAGE_LABEL: "ubuntu-24.04",
        golden.ARCHITECTURE_LABEL: "x86",
    }
    # The builder powered off only after the install stage wrote its data: the snapshot holds it.
    assert snapshot.size_gb == round((SYSTEM_IMAGE_USED_GB + INSTALL_ADDS_GB) * SNAPSHOT_COMPRESSION, 2)
    assert sim.servers() == []  # the builder is gone
    # What the operator would choose for a new server of these inputs.
    inputs = golden.GoldenInputs("ubuntu-24.04", VERSION, 24, wanted)
    listed = await sim.provider.list_snapshots(golden.GOLDEN_SELECTOR)
    chosen = golden.choose(listed, inputs)
    assert chosen is not None and chosen.id == snapshot.id
    # It took the measured install (boot model) plus create, start and snapshot, in simulated seconds.
    assert result.seconds >= MEASURED.install


async def test_the_newest_keep_snapshots_per_inputs_survive(sim: Sim) -> None:
    built = [
        (await build(sim.provider, SETTINGS, REQUEST, clock=sim.clock.now, sleep=sim.sleep)) for _ in range(3)
    ]
    listed = await sim.provider.list_snapshots(golden.GOLDEN_SELECTOR)
    assert sorted(s.id for s in listed) == sorted(b.snapshot.id for b in built[1:])
    assert built[2].deleted_snapshots == (built[0].snapshot.id,)


async def test_a_failed_install_times_out_and_deletes_its_builder(sim: Sim) -> None:
    # An install that never finishes: the guest never powers off.
    sim.hetzner.world.boot_model = BootModel(cold=60, golden=10, install=10 * REQUEST.timeout)
    with pytest.raises(BuildFailed, match="did not finish"):
        await build(sim.provider, SETTINGS, REQUEST, clock=sim.clock.now, sleep=sim.sleep)
    assert sim.servers() == []
    assert await sim.provider.list_snapshots(golden.GOLDEN_SELECTOR) == []


async def crashed_builder(sim: Sim, deadline: float) -> int:
    inputs = golden.GoldenInputs(
        "ubuntu-24.04", VERSION, 24, install_stage_hash("ubuntu-24.04", VERSION, SETTINGS)
    )
    server, _ = await sim.provider.create_server(
        name=golden.builder_name(inputs.inputs_hash),
        server_type="cx23",
        image="ubuntu-24.04",
        location="fsn1",
        labels=golden.builder_labels(inputs, "x86", "c1", deadline),
        user_data="#cloud-config\n{}\n",
    )
    return server.id


async def test_the_next_build_deletes_a_crashed_builds_builder(sim: Sim) -> None:
    leftover = await crashed_builder(sim, deadline=sim.clock.now() + 3600)
    result = await build(sim.provider, SETTINGS, REQUEST, clock=sim.clock.now, sleep=sim.sleep)
    assert result.snapshot.status == ImageStatus.AVAILABLE
    assert leftover not in [s["id"] for s in sim.servers()] and sim.servers() == []


async def test_the_orphan_sweep_deletes_a_builder_past_its_deadline_only(sim: Sim) -> None:
    expired = await crashed_builder(sim, deadline=1000.0)
    sim.clock.advance(30)
    observer = Observer(sim.provider, cast(CloudflareProvider, None), (), 300.0, 2.0)
    sweep = OrphanSweep(
        observer, lambda: cast(KubeClient, FakeKube()), lambda _: None, "c1", grace=0, namespaces=(),
        wall_clock=lambda: 999.0,
    )  # fmt: skip
    await observer.refresh()
    await sweep.sweep()
    sim.clock.advance(10)
    assert [s["id"] for s in sim.servers()] == [expired]  # its build may still be running: kept
    sweep = OrphanSweep(
        observer, lambda: cast(KubeClient, FakeKube()), lambda _: None, "c1", grace=0, namespaces=(),
        wall_clock=lambda: 1001.0,
    )  # fmt: skip
    await sweep.sweep()
    sim.clock.advance(10)
    assert sim.servers() == []


def test_the_command_builds_and_prints_the_snapshot(tmp_path: Path) -> None:
    """`openclaw-operator golden build` as a Job runs it: token from a file, JSON on stdout."""
    clock = SimClock(time_scale=500.0)  # the measured install and the snapshot copy take a few minutes
    hetzner = HetznerSimulator(token=TOKEN, clock=clock, latency=LatencyModel.none())
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with SimulatorThread(hetzner):
        done = subprocess.run(
            [sys.executable, "-m", "openclaw_operator.cli", "golden", "build", "--location", "nbg1",
             "--server-type", "cx23", "--openclaw-version", VERSION, "--poll", "0.05"],
            env={**os.environ, "HCLOUD_TOKEN_FILE": str(token_file), "HCLOUD_ENDPOINT": hetzner.url,
                 "PYTHONPATH": ":".join(sys.path)},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        printed = json.loads(done.stdout)
        images = hetzner.snapshot()["images"]
    assert [image["id"] for image in images] == [printed["snapshot"]]
    assert printed["inputs"] == install_stage_hash("ubuntu-24.04", VERSION, SETTINGS)
    assert TOKEN not in done.stdout + done.stderr

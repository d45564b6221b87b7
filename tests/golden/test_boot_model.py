"""The simulator's boot model (clawhost_sandbox/hetzner/boot.py) is the recorded TCG boot, split at its
journal marks and scaled by the one measured TCG/native ratio, and the simulator boots each kind of
server in its model time: a cold install, a golden personalisation, a builder that powers itself off."""

from __future__ import annotations

import json

import pytest
from clawhost_sandbox.hetzner import boot
from clawhost_sandbox.hetzner.boot import MEASURED, TCG_STAGES, BootModel
from clawhost_sandbox.hetzner.images import create_image
from clawhost_sandbox.hetzner.servers import create_server
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock

from openclaw_operator.bootstrap.render import BootstrapSettings, render_install_user_data
from tests.bootstrap.userdata import REPO_ROOT

RECORD = REPO_ROOT / "bench" / "results" / "e2e-vm-2026-12-04.json"
RUN = "20261204T182103Z"  # the first run with every host check passed
RESEARCH_NPM = "334 packages in 46 s"  # research/openclaw-real-software-2026-12.md, quoted in boot.py
TOKEN = "htok-boot-model-0123456789abcdef"


def test_the_stages_are_the_recorded_ones() -> None:
    (run,) = [r for r in json.loads(RECORD.read_text())["runs"] if r["run_dir"].endswith(RUN)]
    stages = run["first_boot_stages_seconds"]
    marks = {name: at for name, (at, _) in run["raw_guest_record"]["journal_marks"].items()}
    events = {
        (e["name"], e["event_type"]): e["timestamp"] for e in run["raw_guest_record"]["cloud_init_events"]
    }
    scripts_start = events[("modules-final/config-scripts-user", "start")]
    fetched = marks["vendor repositories first fetched"]
    recorded = {
        "kernel": stages["kernel (to systemd in the root filesystem)"],
        "systemd to cloud-init": stages["systemd to cloud-init init-local"],
        "cloud-init modules (users, SSH, files)": stages[
            "cloud-init init-local, init, modules-config (network, users, SSH, files)"
        ],
        "cloud-init packages": stages["cloud-init package update, upgrade, install (Debian)"],
        "bootstrap: firewall, sshd, repository keys": fetched - scripts_start,
        "bootstrap: apt nodejs caddy": marks["apt (nodejs, caddy) last line"] - fetched,
        "bootstrap: npm install openclaw": stages["bootstrap: npm install -g openclaw"],
        "bootstrap: state dir, daemon-reload, enable": run["gateway_first_start_journal"]["unit started"]
        - marks["npm install done"],
    }
    assert recorded.keys() == TCG_STAGES.keys()
    for name, seconds in recorded.items():
        assert TCG_STAGES[name] == pytest.approx(seconds, abs=0.01), name
    # The split bootstrap adds up to the record's one bootstrap stage (to the end of apt).
    split = (
        TCG_STAGES["bootstrap: firewall, sshd, repository keys"] + TCG_STAGES["bootstrap: apt nodejs caddy"]
    )
    assert split == pytest.approx(
        stages["bootstrap: firewall, sshd, vendor repositories, apt install nodejs caddy"], abs=0.1
    )


def test_the_scaling_is_the_one_measured_ratio() -> None:
    assert pytest.approx(246.8 / 46.0) == boot.TCG_SLOWDOWN
    assert str(int(boot.NPM_NATIVE_SECONDS)) in RESEARCH_NPM
    native = {name: seconds / boot.TCG_SLOWDOWN for name, seconds in TCG_STAGES.items()}
    assert MEASURED.cold == pytest.approx(sum(native.values()) + boot.GATEWAY_FIRST_HEALTH_SECONDS, abs=0.05)
    skipped = ("cloud-init packages", "bootstrap: apt nodejs caddy", "bootstrap: npm install openclaw")
    assert MEASURED.golden == pytest.approx(MEASURED.cold - sum(native[name] for name in skipped), abs=0.1)
    assert MEASURED.golden < MEASURED.install < MEASURED.cold
    # A different slowdown (a quieter host) moves every figure, none is pinned.
    assert BootModel.measured(slowdown=2.0).cold > MEASURED.cold


def test_the_simulator_boots_each_kind_in_its_model_time() -> None:
    clock = SimClock()
    hetzner = HetznerSimulator(token=TOKEN, clock=clock, latency=LatencyModel.none(), boot_model=MEASURED)
    world = hetzner.world

    def create(name: str, image: object, user_data: str) -> int:
        body = {
            "name": name,
            "server_type": "cx23",
            "image": image,
            "location": "fsn1",
            "user_data": user_data,
        }
        return int(create_server(world, body, None)["server"]["id"])

    def healthy(server_id: int) -> bool:
        world.settle()
        return world.app_healthy(world.servers[server_id], hetzner.app_boot_seconds)

    up = world.action_seconds["create_server"] + world.action_seconds["start_server"]
    cold = create("cold", "ubuntu-24.04", "#cloud-config\n{}\n")
    builder = create("builder", "ubuntu-24.04", render_install_user_data(BootstrapSettings(), "2026.9.6"))
    clock.advance(up + MEASURED.install - 0.5)
    world.settle()
    assert world.servers[builder].status == "running"
    clock.advance(1.0)
    world.settle()
    assert world.servers[builder].status == "off"  # powered itself off after the install stage
    image = create_image(world, world.servers[builder], {"labels": {"clawhost.dev/golden": "true"}})
    clock.advance(600)
    world.settle()
    golden = create("golden", image["image"]["id"], "#cloud-config\n{}\n")
    copy = world.restore_seconds_per_gb * (world.images[image["image"]["id"]].image_size or 0)
    clock.advance(up + copy + MEASURED.golden - 0.5)
    assert not healthy(golden)
    clock.advance(1.0)
    assert healthy(golden)
    assert world.servers[cold].boot_seconds == MEASURED.cold and healthy(cold)  # long since booted

"""The bootstrap's two stages (docs/golden-images.md): the install stage a golden builder runs holds
nothing of any customer, the personalise stage a server from a golden snapshot runs installs nothing,
together they are the cold install (whose bytes tests/bootstrap's golden files pin), cloud-init accepts
both, and the install stage's hash moves with exactly the inputs that change what it installs."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from openclaw_operator.bootstrap.render import (
    BOOTSTRAP_SCRIPT,
    INSTALL_DONE_FILE,
    TOKEN_FILE,
    BootstrapSettings,
    Stage,
    install_stage_hash,
    render_install_user_data,
    render_user_data,
)
from openclaw_operator.bootstrap.templating import template_text
from tests.bootstrap.test_bootstrap_cloud_init import cloud_init_schema
from tests.bootstrap.userdata import REPO_ROOT, TOKEN, instance, parse

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm2B8C3l0m4d0uR0bmQ8Rr0JtG7vW8kqO3zY6cVb2Jx ops@example.org"
CHANNEL_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq0a8wQmQ8Rr0JtG7vW8kqO3zY6cVb2JxHm2B8C3l0m channel"
SETTINGS = BootstrapSettings(channel_public_key=CHANNEL_KEY, channel_source_ranges=("10.0.0.0/8",))
VERSION = SETTINGS.default_openclaw_version


def customer() -> tuple[str, str, str]:
    spec = instance(hostname="shop.customer.example", sshKeys=[KEY])
    cold = render_user_data(spec, SETTINGS, TOKEN)
    personalised = render_user_data(spec, SETTINGS, TOKEN, stage=Stage.PERSONALISE)
    return cold, personalised, render_install_user_data(SETTINGS, VERSION)


def script(user_data: str) -> str:
    return parse(user_data).content(BOOTSTRAP_SCRIPT)


def test_the_install_stage_names_no_customer() -> None:
    _, _, install = customer()
    for secret_or_identity in (TOKEN, "shop.customer.example", KEY, CHANNEL_KEY, "clawadmin"):
        assert secret_or_identity not in install
    config = parse(install).config
    assert [entry["path"] for entry in config["write_files"]] == [BOOTSTRAP_SCRIPT]
    assert "users" not in config
    assert config["packages"] and config["package_update"] and config["package_upgrade"]
    assert "openclaw@${OPENCLAW_VERSION}" in script(install) and f"OPENCLAW_VERSION={VERSION}" in install
    # The builder powers itself off only once the script's last line ran: off means installed.
    assert config["power_state"]["mode"] == "poweroff"
    assert config["power_state"]["condition"] == ["test", "-f", INSTALL_DONE_FILE]
    assert INSTALL_DONE_FILE in script(install).splitlines()[-2]
    for start in ("systemctl enable --now openclaw-gateway", "passwd --lock root", "/readyz"):
        assert start not in script(install)


def test_the_personalise_stage_installs_nothing_and_starts_everything() -> None:
    cold, personalised, _ = customer()
    config = parse(personalised).config
    assert not {"packages", "package_update", "package_upgrade", "power_state"} & config.keys()
    text = script(personalised)
    for install_step in ("npm install", "apt-get", "add_repository nodesource", "install nodejs caddy"):
        assert install_step not in text.replace("APT=(apt-get", "")
    for step in ("systemctl enable --now openclaw-gateway.service", "passwd --lock root", "sshd -t"):
        assert step in text
    # It still refuses a snapshot whose Node.js or OpenClaw is not the one it expects.
    assert "expected Node.js" in text and 'is not installed at /usr/bin/openclaw"' in text
    # Everything else is the cold user-data's, file for file.
    cold_files = {e["path"]: e for e in parse(cold).config["write_files"]}
    personal_files = {e["path"]: e for e in config["write_files"]}
    assert cold_files.keys() == personal_files.keys()
    assert all(cold_files[p] == personal_files[p] for p in cold_files if p != BOOTSTRAP_SCRIPT)
    assert parse(personalised).content(TOKEN_FILE) == parse(cold).content(TOKEN_FILE)
    assert {k: v for k, v in parse(cold).config.items() if k not in ("packages", "write_files")} == {
        **{k: v for k, v in config.items() if k != "write_files"},
        "package_update": True,
        "package_upgrade": True,
    }


def test_install_then_personalise_runs_every_step_of_the_cold_install() -> None:
    cold, personalised, install = customer()
    install_lines, personal_lines = script(install).splitlines(), script(personalised).splitlines()
    golden_only = install_lines[len(install_lines) - 9 :]
    assert golden_only[0].startswith("# Golden build only")
    # Each stage is the cold script with lines left out, in the same order; together they leave out none.
    for stage_lines in (install_lines[: -len(golden_only)], personal_lines):
        assert _subsequence(stage_lines, script(cold).splitlines())
    assert set(script(cold).splitlines()) <= set(install_lines) | set(personal_lines)
    assert "#@stage" not in cold + personalised + install
    assert template_text("clawhost-bootstrap.sh.tmpl").count("#@stage") >= 4


def _subsequence(part: list[str], whole: list[str]) -> bool:
    remaining = iter(whole)
    return all(line in remaining for line in part)


def test_cloud_init_accepts_both_stages(tmp_path: Path) -> None:
    _, personalised, install = customer()
    for user_data in (install, personalised):
        result = cloud_init_schema(user_data, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Valid cloud-config" in result.stdout


def test_every_stage_script_is_valid_bash(tmp_path: Path) -> None:
    for name, user_data in zip(("cold", "personalise", "install"), customer(), strict=True):
        path = tmp_path / name
        path.write_text(script(user_data))
        result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{name}: {result.stderr}"


def test_install_stage_hash_moves_with_the_install_inputs_only() -> None:
    base = install_stage_hash("ubuntu-24.04", VERSION, SETTINGS)
    assert len(base) == 32 and int(base, 16) >= 0
    changed = {
        "base image": install_stage_hash("debian-12", VERSION, SETTINGS),
        "openclaw version": install_stage_hash("ubuntu-24.04", "2026.9.5", SETTINGS),
        "node line": install_stage_hash("ubuntu-24.04", VERSION, replace(SETTINGS, node_major=26)),
    }
    assert len({base, *changed.values()}) == 4, changed
    # Settings the personalise stage applies leave the install (and its snapshot) as it was.
    for same in (
        replace(SETTINGS, admin_user="ops"),
        replace(SETTINGS, channel_public_key=None, channel_source_ranges=()),
        replace(SETTINGS, automatic_reboot_time=None),
        replace(SETTINGS, heap_fraction=0.7, swap_size_mb=0),
        replace(SETTINGS, default_openclaw_version="2026.9.5"),
    ):
        assert install_stage_hash("ubuntu-24.04", VERSION, same) == base


def test_install_stage_hash_is_stable_across_processes() -> None:
    code = (
        "from openclaw_operator.bootstrap.render import BootstrapSettings, install_stage_hash;"
        f"print(install_stage_hash('ubuntu-24.04', {VERSION!r}, BootstrapSettings()))"
    )
    runs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            cwd=REPO_ROOT,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert runs == {install_stage_hash("ubuntu-24.04", VERSION, BootstrapSettings())}

"""What a rendered server runs: the gateway's config, its systemd unit, the TLS proxy, the host firewall,
SSH, updates and swap. Each test reads the rendered files back the way the server's software would."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from openclaw_operator.bootstrap import render as render_module
from openclaw_operator.bootstrap.firewall import GATEWAY_PORT, PUBLIC_TCP_PORTS
from openclaw_operator.bootstrap.render import (
    BOOTSTRAP_SCRIPT,
    GATEWAY_CONFIG_FILE,
    TOKEN_FILE,
    BootstrapInputError,
    BootstrapSettings,
)
from openclaw_operator.bootstrap.templating import fill
from openclaw_operator.bootstrap.versions import UnsafeVersionError
from tests.bootstrap.userdata import (
    CRD_SPEC,
    instance,
    nft_chain,
    render,
    sshd_settings,
    unit_directives,
    unit_environment,
    unit_value,
)

UNIT_FILE = "/etc/systemd/system/openclaw-gateway.service"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHm2B8C3l0m4d0uR0bmQ8Rr0JtG7vW8kqO3zY6cVb2Jx ops@example.org"


def test_patterns_are_the_crds() -> None:
    assert CRD_SPEC["hostname"]["pattern"] == render_module.HOSTNAME_PATTERN
    assert CRD_SPEC["hostname"]["maxLength"] == render_module.HOSTNAME_MAX_LENGTH
    assert CRD_SPEC["sshKeys"]["items"]["pattern"] == render_module.SSH_KEY_PATTERN
    assert CRD_SPEC["sshKeys"]["items"]["maxLength"] == render_module.SSH_KEY_MAX_LENGTH


def test_gateway_config() -> None:
    user_data = render(instance(hostname="claw.customer.example"))
    entry = user_data.file(GATEWAY_CONFIG_FILE)
    config = json.loads(entry["content"])
    gateway = config["gateway"]
    assert gateway["mode"] == "local"
    assert gateway["bind"] == "loopback"
    assert gateway["port"] == GATEWAY_PORT
    assert gateway["auth"] == {"mode": "token"}
    assert gateway["trustedProxies"] == ["127.0.0.1", "::1"]
    assert gateway["controlUi"] == {"allowedOrigins": ["https://claw.customer.example"]}
    assert gateway["terminal"] == {"enabled": False}
    assert config["discovery"] == {"mdns": {"mode": "off"}}
    assert (entry["owner"], entry["permissions"], entry.get("defer")) == ("openclaw:openclaw", "0600", True)


def test_gateway_unit_restarts_except_on_config_error() -> None:
    unit = unit_directives(render().content(UNIT_FILE))
    assert unit_value(unit, "Service", "Restart") == "always"
    assert unit_value(unit, "Service", "RestartPreventExitStatus") == "78"
    assert int(unit_value(unit, "Service", "RestartSec")) > 0
    assert unit_value(unit, "Unit", "StartLimitIntervalSec") == "0"
    assert unit_value(unit, "Install", "WantedBy") == "multi-user.target"


def test_gateway_unit_lets_the_gateway_drain_on_stop() -> None:
    # OpenClaw drains active agent turns for up to 315 s after SIGTERM; its service audit requires
    # KillMode=mixed and TimeoutStopSec of 330 or more. NODE_COMPILE_CACHE makes openclaw.mjs re-spawn the
    # gateway as a child it SIGKILLs 2 s after SIGTERM (tests/realapp shows the process tree).
    unit = unit_directives(render().content(UNIT_FILE))
    assert unit_value(unit, "Service", "KillMode") == "mixed"
    assert int(unit_value(unit, "Service", "TimeoutStopSec")) >= 330
    assert "NODE_COMPILE_CACHE" not in unit_environment(unit)


@pytest.mark.parametrize(("server_type", "high", "maximum"), [("cpx11", 1344, 1536), ("ccx33", 28224, 32256)])
def test_gateway_unit_memory_limits_follow_the_plan(server_type: str, high: int, maximum: int) -> None:
    unit = unit_directives(render(instance(serverType=server_type)).content(UNIT_FILE))
    assert unit_value(unit, "Service", "MemoryHigh") == f"{high}M"
    assert unit_value(unit, "Service", "MemoryMax") == f"{maximum}M"


def test_gateway_unit_runs_unprivileged_with_the_token_from_the_root_only_file() -> None:
    user_data = render()
    unit = unit_directives(user_data.content(UNIT_FILE))
    assert unit_value(unit, "Service", "User") == "openclaw"
    assert unit_value(unit, "Service", "EnvironmentFile") == TOKEN_FILE
    assert unit_value(unit, "Service", "ExecStart") == f"/usr/bin/openclaw gateway --port {GATEWAY_PORT}"
    assert unit_value(unit, "Service", "NoNewPrivileges") == "yes"
    environment = unit_environment(unit)
    assert environment["OPENCLAW_DISABLE_BONJOUR"] == "1"
    assert environment["HOME"] == "/home/openclaw"
    users = {user["name"]: user for user in user_data.config["users"]}
    assert users["openclaw"]["shell"] == "/usr/sbin/nologin"
    assert "sudo" not in users["openclaw"] and "groups" not in users["openclaw"]


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / "openclaw-gateway.service"
    unit.write_text(render().content(UNIT_FILE))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    # The one complaint expected here: OpenClaw is not installed on the test machine.
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/usr/bin/openclaw is not executable" not in line
    ]
    assert complaints == []


@pytest.mark.parametrize(("server_type", "heap_mb"), [("cpx11", 1024), ("cx23", 2048), ("ccx33", 16384)])
def test_heap_is_sized_to_the_plan(server_type: str, heap_mb: int) -> None:
    unit = unit_directives(render(instance(serverType=server_type)).content(UNIT_FILE))
    assert unit_environment(unit)["NODE_OPTIONS"] == f"--max-old-space-size={heap_mb}"


@pytest.mark.parametrize(("server_type", "has_swap"), [("cpx11", True), ("cx23", True), ("cpx31", False)])
def test_swap_on_small_plans_only(server_type: str, has_swap: bool) -> None:
    config = render(instance(serverType=server_type)).config
    assert ("swap" in config) == has_swap
    if has_swap:
        assert config["swap"] == {"filename": "/swapfile", "size": "2048M", "maxsize": "2048M"}


def test_tls_proxy_for_the_hostname_without_http3() -> None:
    caddyfile = render(instance(hostname="claw.customer.example")).content("/etc/caddy/Caddyfile")
    lines = [
        line.strip() for line in caddyfile.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    # A global block that turns HTTP/3 off (both firewalls open TCP 443 only), then one site, addressed
    # by host name only: Caddy then serves HTTPS with an automatic certificate and redirects HTTP to it.
    # No port or scheme in the address, which would turn either off.
    assert lines[:5] == ["{", "servers {", "protocols h1 h2", "}", "}"]
    assert [line for line in lines[5:] if line.endswith("{")] == ["claw.customer.example {"]
    # Every path goes to the gateway. Caddy's reverse_proxy replaces a client's X-Forwarded-For by
    # itself; a header_up for it is redundant and warned about at every load.
    assert f"reverse_proxy 127.0.0.1:{GATEWAY_PORT}" in lines
    directives = "\n".join(lines)
    assert "header_up" not in directives
    assert not any(word in directives for word in ("handle", "respond", "auto_https", "http://", "h3"))


def test_host_firewall_admits_only_ssh_http_https() -> None:
    nftables = render().content("/etc/nftables.conf")
    assert "flush ruleset" in nftables
    inbound = nft_chain(nftables, "input")
    assert "policy drop;" in inbound
    ports = re.findall(r"tcp dport \{ ([0-9, ]+) \} accept", inbound)
    assert ports == ["22, 80, 443"]
    assert tuple(int(port) for port in ports[0].split(", ")) == PUBLIC_TCP_PORTS
    assert "udp dport 68" in inbound and re.findall(r"udp dport", inbound) == ["udp dport"]
    assert str(GATEWAY_PORT) not in nftables
    assert "policy drop;" in nft_chain(nftables, "forward")
    assert "ip daddr 169.254.169.254 meta skuid != 0 reject" in nft_chain(nftables, "output")


def test_ssh_keys_only_for_the_admin() -> None:
    keys = [KEY, KEY.replace("ops@", "dev@")]
    user_data = render(instance(sshKeys=keys), BootstrapSettings(admin_user="ops"))
    sshd = sshd_settings(user_data.content("/etc/ssh/sshd_config.d/10-clawhost.conf"))
    assert sshd["passwordauthentication"] == "no"
    assert sshd["kbdinteractiveauthentication"] == "no"
    assert sshd["permitrootlogin"] == "no"
    assert sshd["authenticationmethods"] == "publickey"
    assert sshd["allowusers"] == "ops"
    assert sshd["allowtcpforwarding"] == "local"
    config = user_data.config
    assert config["ssh_pwauth"] is False and config["disable_root"] is True
    admin = next(user for user in config["users"] if user["name"] == "ops")
    assert admin["ssh_authorized_keys"] == keys
    assert admin["lock_passwd"] is True
    assert all(user["lock_passwd"] is True and "passwd" not in user for user in config["users"])
    assert "chpasswd" not in config and "password" not in config
    # The drop-in must sort before cloud-init's 50-cloud-init.conf: sshd keeps the first value it reads.
    assert "10-clawhost.conf" < "50-cloud-init.conf"
    assert "passwd --lock root" in user_data.content(BOOTSTRAP_SCRIPT)


def test_unattended_security_upgrades_cover_every_added_repository() -> None:
    user_data = render()
    assert "unattended-upgrades" in user_data.config["packages"]
    conf = user_data.content("/etc/apt/apt.conf.d/52clawhost-unattended-upgrades")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in conf
    script = user_data.content(BOOTSTRAP_SCRIPT)
    added = re.findall(r'^add_repository [a-z]+ https://([^/]+)/\S+ \\\n\s+"https://([^/]+)/', script, re.M)
    assert len(added) == 2, "NodeSource and Caddy"
    for key_host, repository_host in added:
        assert key_host == repository_host, "keys come from the repository's own host"
        assert f'"site={repository_host}";' in conf
    assert "install nodejs caddy" in script
    assert 'Unattended-Upgrade::Automatic-Reboot "true";' in conf
    never = render(settings=BootstrapSettings(automatic_reboot_time=None))
    assert 'Automatic-Reboot "false";' in never.content("/etc/apt/apt.conf.d/52clawhost-unattended-upgrades")


def test_pinned_versions_reach_the_install_script() -> None:
    pinned = render(instance(openclawVersion="2026.8.2"), BootstrapSettings(node_major=26))
    script = pinned.content(BOOTSTRAP_SCRIPT)
    assert "OPENCLAW_VERSION=2026.8.2\n" in script
    assert "NODE_MAJOR=26\nNODE_MINIMUM=26.1.0\n" in script
    assert 'npm install "${npm_flags[@]}" "openclaw@${OPENCLAW_VERSION}"' in script
    assert "node_${NODE_MAJOR}.x nodistro main" in script
    assert pinned.config["runcmd"] == [[BOOTSTRAP_SCRIPT]]
    assert pinned.file(BOOTSTRAP_SCRIPT)["permissions"] == "0700"
    assert "NODE_MINIMUM=24.16.0\n" in render().content(BOOTSTRAP_SCRIPT)
    defaulted = render(settings=BootstrapSettings(default_openclaw_version="2026.8.1"))
    assert "OPENCLAW_VERSION=2026.8.1\n" in defaulted.content(BOOTSTRAP_SCRIPT)


def test_scripts_are_valid_shell() -> None:
    user_data = render()
    for path, shell in ((BOOTSTRAP_SCRIPT, "bash"), ("/usr/local/sbin/openclaw-admin", "sh")):
        result = subprocess.run([shell, "-n"], input=user_data.content(path), text=True, capture_output=True)
        assert result.returncode == 0, f"{path}: {result.stderr}"


def test_every_file_is_a_readable_literal_block() -> None:
    user_data = render(instance(sshKeys=[KEY]))
    assert user_data.text.count("  content: |\n") == len(user_data.config["write_files"])


def test_version_older_than_minimum_is_refused() -> None:
    with pytest.raises(
        UnsafeVersionError, match=r"OpenClaw 2026\.1\.29 is older than the minimum safe release 2026\.7\.1"
    ):
        render(instance(openclawVersion="2026.1.29"))
    with pytest.raises(UnsafeVersionError, match=r"minimum safe release 2026\.9\.1"):
        render(instance(openclawVersion="2026.8.2"), BootstrapSettings(min_openclaw_version="2026.9.1"))


def test_unsafe_default_version_is_refused_when_the_spec_names_none() -> None:
    settings_ = BootstrapSettings(default_openclaw_version="2026.2.26")
    with pytest.raises(UnsafeVersionError, match=r"OpenClaw 2026\.2\.26 is older"):
        render(settings=settings_)
    render(instance(openclawVersion="2026.9.5"), settings_)  # a safe spec version needs no default


@pytest.mark.parametrize(
    "spec",
    [
        {"hostname": "claw.example.com {\n  respond 200\n}\nx.example.com"},
        {"hostname": "Claw.Example.com"},
        {"hostname": "localhost"},
        {"hostname": ("a" * 63 + ".") * 4 + "com"},  # 259 characters
        {"sshKeys": [KEY + "\nssh-ed25519 AAAAC3Nza attacker"]},
        {"sshKeys": ["ssh-dss AAAAB3NzaC1kc3M= legacy"]},
    ],
)
def test_values_that_would_inject_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(BootstrapInputError):
        render(instance(**spec))


@pytest.mark.parametrize(
    "bad_setting",
    [
        {"node_major": 23},
        {"node_major": 22},  # OpenClaw's engines dropped 22
        {"node_major": 25},
        {"admin_user": "root"},
        {"admin_user": "bad user"},
        {"heap_fraction": 0.95},
        {"automatic_reboot_time": "25:00"},
        {"min_openclaw_version": "x"},
    ],
)
def test_settings_are_checked(bad_setting: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BootstrapSettings(**bad_setting)  # type: ignore[arg-type]


def test_template_filling_is_strict() -> None:
    with pytest.raises(KeyError, match="missing values"):
        fill("Caddyfile.tmpl", hostname="a.example")
    with pytest.raises(KeyError, match="unused values"):
        fill("openclaw-admin.sh.tmpl", hostname="a.example")


key_comments = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=200
)


@settings(max_examples=60, deadline=None)
@given(key_comments)
# Characters YAML treats specially: line separators, tabs, comment and mapping markers, quotes, non-ASCII.
@example("a\x85b\u2028c\u2029d")
@example("tab\there # not a comment: 'quoted' \"double\" {flow} [seq] &anchor *alias !tag |")
@example("clé été ☃")
@example("")
def test_any_allowed_key_comment_survives_yaml(comment: str) -> None:
    key = KEY.rsplit(" ", 1)[0] + " " + comment
    assume(re.fullmatch(render_module.SSH_KEY_PATTERN, key))
    user_data = render(instance(sshKeys=[key]))
    admin = next(user for user in user_data.config["users"] if user["name"] == "clawadmin")
    assert admin["ssh_authorized_keys"] == [key]
    assert yaml.safe_load(user_data.text) == user_data.config

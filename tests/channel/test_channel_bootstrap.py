"""The channel's server side as the bootstrap renders it: the agent, its settings, its key (only from the
operator's ranges), sudo for exactly one program, and sshd's Match block, checked by the real sshd."""

from __future__ import annotations

import ast
import base64
import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from openclaw_operator.bootstrap import app_files
from openclaw_operator.bootstrap.render import USER_DATA_LIMIT_BYTES, render_user_data
from openclaw_operator.bootstrap.settings import BootstrapSettings
from tests.bootstrap.test_bootstrap_cloud_init import cloud_init_schema, largest_instance
from tests.bootstrap.userdata import TOKEN, instance, parse

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDqyIFLdcC2kC9Rxm4Nf4jG4x4rb5Ih0j3T9m3wqjZ2v clawhost-operator"
RANGES = ("203.0.113.0/24", "2001:db8::/48")
CHANNEL = BootstrapSettings(channel_public_key=KEY, channel_source_ranges=RANGES)


def sshd_config(settings: BootstrapSettings) -> str:
    return parse(render_user_data(instance(), settings, TOKEN)).content(
        "/etc/ssh/sshd_config.d/10-clawhost.conf"
    )


def test_without_a_channel_key_the_server_gets_no_agent() -> None:
    user_data = parse(render_user_data(instance(), BootstrapSettings(), TOKEN))
    paths = {entry["path"] for entry in user_data.config["write_files"]}
    assert not paths & {app_files.AGENT_PATH, app_files.AGENT_KEYS_PATH, "/etc/sudoers.d/clawhost-agent"}
    assert "clawhost-agent" not in sshd_config(BootstrapSettings())


def test_the_shipped_agent_is_the_source_program_without_its_docstrings() -> None:
    """The channel and backup tests run the shipped copy (it is what cloud-init writes); this checks it
    is the whole program and leaves out only what a server does not need."""
    shipped = app_files.agent_source()
    source = Path(app_files.__file__).with_name("server_agent.py").read_text()
    assert shipped.startswith("#!/usr/bin/python3\n")

    def definitions(text: str) -> list[str]:
        return [
            node.name
            for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef | ast.ClassDef)
        ]

    assert definitions(shipped) == definitions(source)
    assert '"""' not in shipped and "# " not in shipped.split("\n", 1)[1]
    assert len(shipped) < 0.8 * len(source)
    compile(shipped, "clawhost-agent", "exec")


def test_with_a_channel_key_the_agent_its_key_and_one_sudo_rule_are_written() -> None:
    user_data = parse(render_user_data(instance(), CHANNEL, TOKEN))
    agent = user_data.file(app_files.AGENT_PATH)
    assert (agent["encoding"], agent["permissions"], agent["owner"]) == ("gz+b64", "0755", "root:root")
    assert gzip.decompress(base64.b64decode(agent["content"])).decode() == app_files.agent_source()
    assert user_data.content(app_files.AGENT_KEYS_PATH) == f'restrict,from="{",".join(RANGES)}" {KEY}\n'
    assert user_data.file(app_files.AGENT_KEYS_PATH)["owner"] == "root:root"  # the agent cannot add a key
    sudoers = user_data.file("/etc/sudoers.d/clawhost-agent")
    assert sudoers["content"] == f"clawhost-agent ALL=(root) NOPASSWD: {app_files.AGENT_PATH}\n"
    assert sudoers["permissions"] == "0440"
    account = next(user for user in user_data.config["users"] if user["name"] == "clawhost-agent")
    assert account["lock_passwd"] is True and "ssh_authorized_keys" not in account


def test_an_open_range_means_no_from_option() -> None:
    assert app_files.agent_authorized_key(KEY, ("0.0.0.0/0", "::/0")) == f"restrict {KEY}\n"


def test_the_largest_instance_with_a_channel_still_fits_hetzners_limit(tmp_path: Path) -> None:
    largest = instance(sshKeys=list(largest_instance()), hostname="a" * 60 + ".example.com")
    many_ranges = tuple(f"198.51.{n}.0/24" for n in range(32))
    settings = BootstrapSettings(
        channel_public_key=KEY, channel_source_ranges=many_ranges, admin_user="a" * 32
    )
    user_data = render_user_data(largest, settings, "$" * 512)
    assert len(user_data.encode()) <= USER_DATA_LIMIT_BYTES, len(user_data.encode())
    assert cloud_init_schema(user_data, tmp_path).returncode == 0


@pytest.mark.skipif(shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists(), reason="no sshd")
def test_sshd_forces_the_agent_on_its_account_only(tmp_path: Path) -> None:
    """sshd -T evaluates the rendered drop-in (as Debian's sshd_config includes it first) per user."""
    (tmp_path / "10-clawhost.conf").write_text(sshd_config(CHANNEL))
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "hk")], check=True)
    main = tmp_path / "sshd_config"
    main.write_text(f"Include {tmp_path}/10-clawhost.conf\nHostKey {tmp_path}/hk\n")
    Path("/run/sshd").mkdir(exist_ok=True)

    def effective(user: str) -> dict[str, str]:
        done = subprocess.run(
            ["/usr/sbin/sshd", "-T", "-f", str(main), "-C", f"user={user},host=x,addr=203.0.113.9"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)

    agent, admin = effective("clawhost-agent"), effective("clawadmin")
    assert agent["forcecommand"] == f"sudo -n {app_files.AGENT_PATH}"
    assert agent["authorizedkeysfile"] == app_files.AGENT_KEYS_PATH
    assert (agent["permittty"], agent["allowtcpforwarding"]) == ("no", "no")
    assert admin["forcecommand"] == "none" and admin["allowtcpforwarding"] == "local"
    assert admin["authorizedkeysfile"] != app_files.AGENT_KEYS_PATH
    assert agent["permitrootlogin"] == "no"

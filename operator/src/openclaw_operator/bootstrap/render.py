"""cloud-init user-data for an OpenClaw server: a pure function of the instance, the operator's bootstrap
settings and the gateway token.

cloud-init's own modules do what they can express declaratively (accounts, SSH keys, packages, swap,
files); one script, clawhost-bootstrap, does the rest in order. The same user-data serves Ubuntu 24.04
and Debian 12/13: every package and path used exists on all three.

Where the gateway token goes: into /etc/openclaw/gateway.env only, root:root 0600, read by systemd as the
gateway unit's EnvironmentFile. Not into openclaw.json: that file belongs to the gateway's user, which the
gateway rewrites (`openclaw config set`, doctor) and whose state directory ends up in backups, so a token
there would be readable and changeable by whatever the assistant runs. The token is never on a command line
and never in the script, so cloud-init's log and `ps` cannot show it.
"""

from __future__ import annotations

import base64
import enum
import gzip
import hashlib
import json
import re
from functools import cache
from typing import Any

import yaml

from openclaw_operator import api

from . import app_files
from .app_files import GATEWAY_CONFIG_FILE, environment_line, gateway_config
from .firewall import GATEWAY_PORT, PUBLIC_TCP_PORTS
from .settings import BootstrapSettings
from .sizing import MemoryPlan, plan_memory
from .templating import fill, sections
from .versions import check_version

__all__ = [
    "GATEWAY_CONFIG_FILE",
    "BootstrapInputError",
    "BootstrapSettings",
    "Stage",
    "gateway_config",
    "install_stage_hash",
    "render_install_user_data",
    "render_pool_user_data",
    "render_user_data",
]

# Hetzner refuses larger user-data.
USER_DATA_LIMIT_BYTES = 32 * 1024

# Where the token goes, not a token.
TOKEN_FILE = app_files.GATEWAY_ENV_FILE
TOKEN_VARIABLE = app_files.TOKEN_VARIABLE
BOOTSTRAP_SCRIPT = "/usr/local/sbin/clawhost-bootstrap"
PACKAGES = ("ca-certificates", "curl", "gnupg", "nftables", "unattended-upgrades")
SWAP_FILE = "/swapfile"
# What the install stage's script writes last, and what cloud-init's power_state waits for before it
# powers a golden builder off (docs/golden-images.md).
INSTALL_DONE_FILE = "/var/lib/clawhost/install-stage-done"


class Stage(enum.Enum):
    """Which part of the bootstrap a server gets (docs/golden-images.md)."""

    COLD = "cold"  # install + personalise: a server made from the distribution's image
    INSTALL = "install"  # a golden builder: packages, Node.js, Caddy, OpenClaw; nothing of any customer
    PERSONALISE = "personalise"  # a server made from a golden snapshot: config, token, hostname, start
    POOL = "pool"  # a warm-pool server from a golden snapshot: the operator's parts only, no gateway yet


# The sections of clawhost-bootstrap.sh.tmpl each stage runs (templating.sections).
_SCRIPT_SECTIONS = {
    Stage.COLD: frozenset({"install", "personalise", "start"}),
    Stage.INSTALL: frozenset({"install", "golden-build"}),
    Stage.PERSONALISE: frozenset({"personalise", "start"}),
    Stage.POOL: frozenset({"personalise", "pool"}),
}

# Mirrors of the CRD's patterns for spec.hostname and spec.sshKeys[] (a test keeps them equal). Checked
# again here because the values land in a Caddyfile and authorized_keys, where a stray newline or brace
# would be an injection, and the CLI renders YAML that no apiserver has validated.
HOSTNAME_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
SSH_KEY_PATTERN = (
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521"
    r"|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)"
    r" AAAA[A-Za-z0-9+/]+={0,3}( [^\r\n]{0,200})?$"
)
HOSTNAME_MAX_LENGTH = 253
SSH_KEY_MAX_LENGTH = 1024
# Any printable ASCII without spaces (what WHMCS accepts as a service password), long enough to resist
# guessing. It is written double-quoted, see app_files.environment_line.
GATEWAY_TOKEN_PATTERN = r"^[\x21-\x7e]{16,512}$"  # noqa: S105


class BootstrapInputError(ValueError):
    """A spec value or token the renderer cannot put on a server; never quotes the token."""


def render_user_data(
    instance: api.OpenClawInstance,
    settings: BootstrapSettings,
    gateway_token: str,
    *,
    restoring: bool = False,
    stage: Stage = Stage.COLD,
) -> str:
    """The `#cloud-config` user-data for `instance`.

    `stage`: COLD (the default) installs everything; PERSONALISE is for a server made from a golden
    snapshot whose install stage matches (`install_stage_hash`): the same files and the start, without
    the packages, the vendor repositories and the npm install.

    `restoring`: for a server created from a hibernation snapshot of an installed server. Hetzner gives
    it a new instance id, so cloud-init runs every per-instance module again with this user-data: it
    would overwrite the gateway's own openclaw.json (the customer's settings, rewritten by the gateway
    since) with the defaults. That one file is left out; everything else is the operator's and is
    written again (token and hostname from the spec and Secret, so both survive), and clawhost-bootstrap,
    idempotent, finds Node.js and OpenClaw installed and restarts the services.

    Raises `UnsafeVersionError` for a version older than the minimum (or unreadable) and
    `BootstrapInputError` for any other value that cannot be rendered: both mean the spec (or the token
    Secret) must change, so retrying is pointless.
    """
    spec = instance.spec
    version = spec.openclaw_version or settings.default_openclaw_version
    check_version(version, settings.min_openclaw_version)
    if stage in (Stage.INSTALL, Stage.POOL):
        raise ValueError(f"the {stage.value} stage has no instance: use render_{stage.value}_user_data")
    _check_inputs(spec, gateway_token)
    config = _cloud_config(spec, settings, version, gateway_token, stage)
    if restoring:
        config["write_files"] = [f for f in config["write_files"] if f["path"] != GATEWAY_CONFIG_FILE]
    return _finished(config)


def render_install_user_data(settings: BootstrapSettings, openclaw_version: str) -> str:
    """The golden builder's user-data: the install stage only, then the server powers itself off.

    Nothing in it names a customer (no token, host name, SSH key or channel key), so its snapshot can
    be handed to anyone; the personalise stage adds all of that on the server made from it.
    """
    check_version(openclaw_version, settings.min_openclaw_version)
    config: dict[str, Any] = {
        "ssh_pwauth": False,
        "disable_root": True,
        **_package_modules(),
        "write_files": [_bootstrap_script(settings, openclaw_version, Stage.INSTALL)],
        "runcmd": [[BOOTSTRAP_SCRIPT]],
        # After every other module, and only once the script wrote its last line: a builder that failed
        # keeps running (and is deleted at the build's deadline), so `off` always means "installed".
        "power_state": {
            "mode": "poweroff",
            "message": "clawhost install stage done",
            "condition": ["test", "-f", INSTALL_DONE_FILE],
        },
    }
    return _finished(config)


def render_pool_user_data(settings: BootstrapSettings, openclaw_version: str, server_type: str) -> str:
    """A warm-pool server's user-data, for a server made from a golden snapshot of `openclaw_version`:
    the operator's parts of the personalise stage (accounts, firewall, sshd, the channel's agent, the
    gateway's unit sized for `server_type`) and nothing of any customer: no gateway token, host name,
    Caddyfile, openclaw.json or SSH key of theirs. The gateway is not started; the channel's first push
    at the claim writes those files and starts it (reconcile/pool.py).
    """
    check_version(openclaw_version, settings.min_openclaw_version)
    if not settings.channel_public_key:
        raise BootstrapInputError("a warm-pool server is personalised through the channel: it needs its key")
    spec = api.InstanceSpec.model_validate(
        # A stand-in spec for the sizing and the accounts only: nothing of it is written but the type's
        # memory plan (no host name, token, key or config file is rendered for this stage).
        {"hostname": "pool.invalid", "serverType": server_type, "gatewayTokenSecretRef": {"name": "-"}}
    )
    config = _cloud_config(spec, settings, openclaw_version, "", Stage.POOL)
    customer = {TOKEN_FILE, app_files.CADDYFILE, GATEWAY_CONFIG_FILE}
    config["write_files"] = [f for f in config["write_files"] if f["path"] not in customer]
    return _finished(config)


@cache
def install_stage_hash(base_image: str, openclaw_version: str, settings: BootstrapSettings) -> str:
    """A content hash of what the install stage puts on a server: the base image's name and the rendered
    install user-data (which holds the OpenClaw version, the Node.js line and minimum, the packages and
    the script). Equal hashes mean the same install; any change to those inputs changes it. 32 hex
    digits, so it fits a Hetzner label value (at most 63 characters)."""
    user_data = render_install_user_data(settings, openclaw_version)
    return hashlib.sha256(f"{base_image}\n{user_data}".encode()).hexdigest()[:32]


def _finished(config: dict[str, Any]) -> str:
    """The user-data text, compressing the larger files when the plain text is over Hetzner's limit."""
    user_data = "#cloud-config\n" + _dump(config)
    if len(user_data.encode()) > USER_DATA_LIMIT_BYTES:
        # Too big as plain text (the channel's agent with the largest keys): every file that gets shorter
        # goes compressed, which cloud-init's write_files decodes. Otherwise the user-data reads like its
        # files.
        config["write_files"] = [_shorter(entry) for entry in config["write_files"]]
        user_data = "#cloud-config\n" + _dump(config)
    size = len(user_data.encode())
    if size > USER_DATA_LIMIT_BYTES:
        raise BootstrapInputError(
            f"user-data is {size} bytes; Hetzner accepts at most {USER_DATA_LIMIT_BYTES}"
        )
    return user_data


def _check_inputs(spec: api.InstanceSpec, gateway_token: str) -> None:
    if len(spec.hostname) > HOSTNAME_MAX_LENGTH or not re.fullmatch(HOSTNAME_PATTERN, spec.hostname):
        raise BootstrapInputError(f"hostname {spec.hostname!r} is not a lower-case fully qualified name")
    for index, key in enumerate(spec.ssh_keys):
        if len(key) > SSH_KEY_MAX_LENGTH or not re.fullmatch(SSH_KEY_PATTERN, key):
            raise BootstrapInputError(f"sshKeys[{index}] is not a single OpenSSH public key line")
        if _TAB_STAND_IN in key:
            raise BootstrapInputError(f"sshKeys[{index}] contains the private-use character U+E009")
    if not re.fullmatch(GATEWAY_TOKEN_PATTERN, gateway_token):
        raise BootstrapInputError(
            "the gateway token must be 16 to 512 printable ASCII characters without spaces "
            f"(got {len(gateway_token)} characters)"
        )


def _package_modules() -> dict[str, Any]:
    return {"package_update": True, "package_upgrade": True, "packages": list(PACKAGES)}


def _cloud_config(
    spec: api.InstanceSpec, settings: BootstrapSettings, version: str, gateway_token: str, stage: Stage
) -> dict[str, Any]:
    memory = plan_memory(
        spec.server_type, settings.heap_fraction, settings.swap_up_to_memory_gb, settings.swap_size_mb
    )
    admin: dict[str, Any] = {
        "name": settings.admin_user,
        "gecos": "Administrator (SSH keys only)",
        "shell": "/bin/bash",
        # No password exists to type, so sudo cannot ask for one.
        "sudo": "ALL=(ALL) NOPASSWD:ALL",
        "lock_passwd": True,
    }
    if spec.ssh_keys:  # cloud-init's schema wants at least one key when the list is present
        admin["ssh_authorized_keys"] = list(spec.ssh_keys)
    config: dict[str, Any] = {
        "users": [
            admin,
            {
                "name": "openclaw",
                "gecos": "OpenClaw gateway",
                "shell": "/usr/sbin/nologin",
                "lock_passwd": True,
            },
        ],
        "ssh_pwauth": False,
        "disable_root": True,
        # A golden snapshot has them; unattended-upgrades brings it up to date from there.
        **(_package_modules() if stage == Stage.COLD else {}),
    }
    if memory.swap_mb:
        config["swap"] = {
            "filename": SWAP_FILE,
            "size": f"{memory.swap_mb}M",
            "maxsize": f"{memory.swap_mb}M",
        }
    if settings.channel_public_key:
        config["users"].append(
            # The channel's account (docs/channel.md): a shell, because sshd runs its forced command
            # through one, but no password and no key of its own.
            {
                "name": app_files.AGENT_USER,
                "gecos": "clawhost operator channel",
                "shell": "/bin/sh",
                "lock_passwd": True,
                "system": True,
            }
        )
    files = _files(spec, settings, version, memory, gateway_token, stage)
    config["write_files"] = files + _agent_files(settings)
    config["runcmd"] = [[BOOTSTRAP_SCRIPT]]
    return config


def _files(
    spec: api.InstanceSpec,
    settings: BootstrapSettings,
    version: str,
    memory: MemoryPlan,
    gateway_token: str,
    stage: Stage,
) -> list[dict[str, Any]]:
    reboot_time = settings.automatic_reboot_time
    return [
        # Written at cloud-init's first stage, when no unprivileged process exists yet.
        _file(TOKEN_FILE, environment_line(TOKEN_VARIABLE, gateway_token), permissions="0600"),
        _file(
            "/etc/systemd/system/openclaw-gateway.service",
            fill(
                "openclaw-gateway.service.tmpl",
                heap_mb=memory.heap_mb,
                memory_high_mb=memory.memory_high_mb,
                memory_max_mb=memory.memory_max_mb,
                gateway_port=GATEWAY_PORT,
            ),
        ),
        # Present before the caddy package is installed, which then keeps it (--force-confold).
        _file(app_files.CADDYFILE, app_files.caddyfile(spec.hostname)),
        _file(
            "/etc/nftables.conf",
            fill("nftables.conf.tmpl", tcp_ports=", ".join(str(port) for port in PUBLIC_TCP_PORTS)),
            permissions="0755",
        ),
        _file("/etc/ssh/sshd_config.d/10-clawhost.conf", _sshd_config(settings)),
        _file(
            "/etc/apt/apt.conf.d/52clawhost-unattended-upgrades",
            fill(
                "unattended-upgrades.conf.tmpl",
                automatic_reboot="true" if reboot_time else "false",
                automatic_reboot_time=reboot_time or "04:30",
            ),
        ),
        _file("/usr/local/sbin/openclaw-admin", fill("openclaw-admin.sh.tmpl"), permissions="0755"),
        _bootstrap_script(settings, version, stage),
        # Deferred to the final stage, after the openclaw account exists. The gateway's user owns its
        # config because the gateway and the customer's own `openclaw config set` edit it.
        _file(
            GATEWAY_CONFIG_FILE,
            json.dumps(gateway_config(spec.hostname), indent=2) + "\n",
            permissions="0600",
            owner="openclaw:openclaw",
            defer=True,
        ),
    ]


def _bootstrap_script(settings: BootstrapSettings, version: str, stage: Stage) -> dict[str, Any]:
    script = fill(
        "clawhost-bootstrap.sh.tmpl",
        node_major=settings.node_major,
        node_minimum=settings.node_minimum,
        openclaw_version=version,
        gateway_port=GATEWAY_PORT,
    )
    return _file(BOOTSTRAP_SCRIPT, sections(script, _SCRIPT_SECTIONS[stage]), permissions="0700")


def _sshd_config(settings: BootstrapSettings) -> str:
    users = settings.admin_user
    if settings.channel_public_key:
        users += " " + app_files.AGENT_USER
    text = fill("sshd.conf.tmpl", allowed_users=users, gateway_port=GATEWAY_PORT)
    if settings.channel_public_key:
        text += "\n" + app_files.agent_sshd_block()
    return text


def _agent_files(settings: BootstrapSettings) -> list[dict[str, Any]]:
    """The channel's server side, when the operator has a channel key (docs/channel.md)."""
    if not settings.channel_public_key:
        return []
    return [
        # Compressed: the agent is the largest file, and Hetzner's user-data limit is 32 KiB.
        _file(app_files.AGENT_PATH, app_files.agent_source(), permissions="0755", compress=True),
        _file(
            app_files.AGENT_SETTINGS_PATH, json.dumps(app_files.agent_settings(settings.admin_user)) + "\n"
        ),
        _file(
            app_files.AGENT_KEYS_PATH,
            app_files.agent_authorized_key(settings.channel_public_key, settings.channel_source_ranges),
        ),
        _file(
            "/etc/sudoers.d/clawhost-agent",
            f"{app_files.AGENT_USER} ALL=(root) NOPASSWD: {app_files.AGENT_PATH}\n",
            permissions="0440",
        ),
    ]


def _file(
    path: str,
    content: str,
    *,
    permissions: str = "0644",
    owner: str = "root:root",
    defer: bool = False,
    compress: bool = False,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "owner": owner, "permissions": permissions, "content": content}
    if compress:
        entry = _compressed(entry)
    if defer:
        entry["defer"] = True
    return entry


def _compressed(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as gzip+base64, which cloud-init's write_files decodes (mtime 0: same input, same bytes)."""
    content = base64.b64encode(gzip.compress(entry["content"].encode(), mtime=0)).decode()
    return {**entry, "content": content, "encoding": "gz+b64"}


def _shorter(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry compressed if that makes it shorter (small or random files do not shrink)."""
    if "encoding" in entry:
        return entry
    compressed = _compressed(entry)
    return (
        compressed
        if len(compressed["content"]) + len("encoding: gz+b64\n") < len(entry["content"])
        else entry
    )


# libyaml's emitter writes the same text about five times faster than PyYAML's pure-Python one; at a burst
# of new instances rendering was a third of the operator's CPU. Both are safe dumpers.
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _UserDataDumper(_SafeDumper):  # type: ignore[valid-type, misc]
    """Multi-line strings as literal blocks, so the user-data reads like the files it writes."""


# Unicode line separators: with allow_unicode, PyYAML may emit them raw in a plain scalar, where the
# reader folds them into spaces. Double quotes make it escape them (\N, \L, \P).
_YAML_LINE_BREAKS = frozenset("\x85\u2028\u2029")
# Tabs are valid content in a literal block, but both emitters fall back to a quoted one-line string for
# any text with a tab, and the Caddyfile must be tab-indented (what `caddy fmt` writes; Caddy warns at
# every load otherwise). Tabs are emitted as this private-use character and put back after dumping;
# _check_inputs refuses it in the only free text (SSH key comments), so every one of them was a tab.
_TAB_STAND_IN = "\ue009"


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        style: str | None = "|"
        data = data.replace("\t", _TAB_STAND_IN)
    elif _YAML_LINE_BREAKS.intersection(data):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_UserDataDumper.add_representer(str, _represent_str)


def _dump(document: dict[str, Any]) -> str:
    # A wide line keeps each SSH key on one line; allow_unicode keeps key comments readable and short.
    text = yaml.dump(document, Dumper=_UserDataDumper, sort_keys=False, width=1 << 16, allow_unicode=True)
    return text.replace(_TAB_STAND_IN, "\t")

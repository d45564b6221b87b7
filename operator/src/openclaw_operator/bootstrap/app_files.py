"""The server files that follow the spec after the first boot, and the on-server agent that installs them.

cloud-init writes these files once; afterwards the operator renders them again with the same functions
and sends them through the channel (docs/channel.md), so each file has one renderer. The agent's names
for them (`gatewayEnv`, ...) are the keys of `server_files`.

The customer's `spec.config` is merged under the keys the operator owns: wherever the fragment and the
operator's settings meet, the operator's win, and a fragment that sets an owned key at all is refused
(the CRD's CEL rules say the same at admission; this is the check for everything else, such as a CLI
render or an older CRD).
"""

from __future__ import annotations

import ast
import copy
import functools
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from .firewall import GATEWAY_PORT
from .templating import fill

AGENT_USER = "clawhost-agent"
AGENT_PATH = "/usr/local/sbin/clawhost-agent"
AGENT_SETTINGS_PATH = "/etc/clawhost/agent.json"
# Root-owned, outside the agent's home: neither the agent account nor the gateway can add a key.
AGENT_KEYS_PATH = "/etc/clawhost/agent_authorized_keys"
GATEWAY_ENV_FILE = "/etc/openclaw/gateway.env"
GATEWAY_CONFIG_FILE = "/home/openclaw/.openclaw/openclaw.json"
CADDYFILE = "/etc/caddy/Caddyfile"
# Where npm -g puts packages with NodeSource's Node (`npm root -g`).
OPENCLAW_PACKAGE_JSON = "/usr/lib/node_modules/openclaw/package.json"
TOKEN_VARIABLE = "OPENCLAW_GATEWAY_TOKEN"  # noqa: S105

# Dotted paths of openclaw.json the operator owns. `env` and `update` are owned because their values
# would bypass spec.env (literal secrets in config) and spec.openclawVersion (OpenClaw's own updater).
OWNED_CONFIG_PATHS = (
    "env",
    "update",
    "discovery.mdns",
    "gateway.mode",
    "gateway.bind",
    "gateway.port",
    "gateway.auth",
    "gateway.trustedProxies",
    "gateway.tls",
    "gateway.tailscale",
    "gateway.terminal",
    "gateway.controlUi.allowedOrigins",
    "skills.allowBundled",  # spec.skills
)

# Inside double quotes a backslash makes exactly these characters literal, both for systemd's
# EnvironmentFile parser (SHELL_NEED_ESCAPE in systemd's env-file.c) and for a POSIX shell.
_DOUBLE_QUOTE_ESCAPES = '"\\`$'


def gateway_config(
    hostname: str, fragment: Mapping[str, Any] | None = None, skills: Sequence[str] | None = None
) -> dict[str, Any]:
    """openclaw.json: the customer's fragment with the operator's settings over it. The operator's are
    only keys OpenClaw documents, because its strict schema refuses to start on an unknown key. The token
    is not here: auth mode token reads it from OPENCLAW_GATEWAY_TOKEN (see render.py's docstring)."""
    config = _merge(copy.deepcopy(dict(fragment or {})), skills_config(skills))
    owned: dict[str, Any] = {
        "gateway": {
            "mode": "local",
            "bind": "loopback",
            "port": GATEWAY_PORT,
            "auth": {"mode": "token"},
            # Caddy on the same host: trust its forwarded headers, and only its.
            "trustedProxies": ["127.0.0.1", "::1"],
            "controlUi": {"allowedOrigins": [f"https://{hostname}"]},
            # A host shell for anyone holding the token is too much for a hosted customer gateway.
            "terminal": {"enabled": False},
        },
        # mDNS announcements made exposed gateways easy to find; a server has no LAN to announce to.
        "discovery": {"mdns": {"mode": "off"}},
    }
    return _merge(config, owned)


def skills_config(skills: Sequence[str] | None) -> dict[str, Any]:
    """spec.skills as OpenClaw's config: only the listed bundled skills are eligible (allowBundled, so a
    name taken off the list is blocked at the next push), and each is enabled, opt-in ones included.
    Other settings of a skill (`skills.entries.<name>.env`, ...) stay the fragment's."""
    if skills is None:
        return {}
    return {
        "skills": {
            "allowBundled": list(skills),
            "entries": {name: {"enabled": True} for name in skills},
        }
    }


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` merged into `base` (in place): objects key by key, anything else replaced."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def owned_paths_in(fragment: Mapping[str, Any] | None) -> list[str]:
    """The operator-owned paths a config fragment sets, as `config.<path>` (the field a human fixes)."""
    found = []
    for path in OWNED_CONFIG_PATHS:
        node: Any = fragment or {}
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
            if node is None:
                break
        if node is not None:
            found.append(f"config.{path}")
    return found


def environment_line(name: str, value: str) -> str:
    """NAME="value" as systemd's EnvironmentFile and the shell's `.` both read it back: the same bytes."""
    escaped = "".join("\\" + char if char in _DOUBLE_QUOTE_ESCAPES else char for char in value)
    return f'{name}="{escaped}"\n'


def gateway_environment(token: str, env: Mapping[str, str] | None = None) -> str:
    """/etc/openclaw/gateway.env: the token and the spec's variables (provider keys, channel tokens), the
    gateway unit's EnvironmentFile. One root-only file for every secret the gateway gets."""
    lines = [environment_line(TOKEN_VARIABLE, token)]
    lines += [environment_line(name, value) for name, value in sorted((env or {}).items())]
    return "".join(lines)


def caddyfile(hostname: str) -> str:
    return fill("Caddyfile.tmpl", hostname=hostname, gateway_port=GATEWAY_PORT)


def admin_authorized_keys(keys: Sequence[str]) -> str:
    return "".join(f"{key}\n" for key in keys)


def server_files(
    hostname: str,
    ssh_keys: Sequence[str],
    fragment: Mapping[str, Any] | None,
    token: str,
    env: Mapping[str, str],
    skills: Sequence[str] | None = None,
) -> dict[str, str]:
    """Everything the channel brings a running server to, by the agent's name for each file."""
    return {
        "gatewayEnv": gateway_environment(token, env),
        "gatewayConfig": json.dumps(gateway_config(hostname, fragment, skills), indent=2) + "\n",
        "caddyfile": caddyfile(hostname),
        "adminKeys": admin_authorized_keys(ssh_keys),
    }


@functools.cache
def agent_source() -> str:
    """The agent as servers get it: the same code without its docstrings, comments and type annotations
    (an `ast` round trip, rendered once per process; annotations are never evaluated, the module has
    `from __future__ import annotations`), so that it fits the 32 KiB user-data with the largest inputs;
    the repository keeps the documented source. `ast.unparse` writes the syntax of the Python it runs on:
    the operator's image runs 3.11, the oldest python3 of the server images (debian-12)."""
    source = resources.files(__package__).joinpath("server_agent.py").read_text(encoding="utf-8")
    tree = _Unannotated().visit(ast.parse(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and (
            _is_docstring(node.body[0])
        ):
            node.body = node.body[1:] or [ast.Pass()]
    return "#!/usr/bin/python3\n" + ast.unparse(tree) + "\n"


class _Unannotated(ast.NodeTransformer):
    """Drops every annotation: `x: T = v` becomes `x = v`, parameters and returns lose theirs."""

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt | None:
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def _unannotated_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST:
        node.returns = None
        return self.generic_visit(node)

    visit_FunctionDef = _unannotated_function
    visit_AsyncFunctionDef = _unannotated_function


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def agent_settings(admin_user: str) -> dict[str, Any]:
    """/etc/clawhost/agent.json: where the agent's files are and how it runs things on a real server."""
    service = "openclaw-gateway.service"
    return {
        "lock": "/run/clawhost-agent.lock",
        "stateFile": "/var/lib/clawhost/applied.json",
        "backupDir": "/var/backups/openclaw",
        "stateDir": "/home/openclaw/.openclaw",
        "gatewayUser": "openclaw",
        "gatewayPort": GATEWAY_PORT,
        "files": {
            "gatewayEnv": {"path": GATEWAY_ENV_FILE, "mode": "0600"},
            "gatewayConfig": {"path": GATEWAY_CONFIG_FILE, "mode": "0600", "owner": "openclaw"},
            "caddyfile": {"path": CADDYFILE, "mode": "0644"},
            "adminKeys": {
                "path": f"/home/{admin_user}/.ssh/authorized_keys",
                "mode": "0600",
                "owner": admin_user,
            },
        },
        "commands": {
            "openclaw": ["/usr/local/sbin/openclaw-admin"],
            "restartGateway": ["systemctl", "restart", service],
            "stopGateway": ["systemctl", "stop", service],
            "startGateway": ["systemctl", "start", service],
            "gatewayRunning": ["systemctl", "is-active", "--quiet", service],
            "gatewayLog": ["journalctl", "--unit", service, "--lines", "20", "--no-pager", "--output", "cat"],
            "reloadProxy": ["systemctl", "reload", "caddy.service"],
            "validateProxy": ["caddy", "validate", "--adapter", "caddyfile", "--config"],
            "installedVersion": ["node", "-p", f"require('{OPENCLAW_PACKAGE_JSON}').version"],
            "installOpenclaw": [
                "npm",
                "install",
                "--global",
                "--no-fund",
                "--no-audit",
                "--loglevel=warn",
                "--allow-scripts=openclaw",
                "openclaw@{version}",
            ],
        },
    }


def agent_authorized_key(public_key: str, source_ranges: Sequence[str]) -> str:
    """The operator's key, good for the forced command only and only from the operator's egress ranges."""
    options = "restrict"
    if source_ranges and not {"0.0.0.0/0", "::/0"}.issuperset(source_ranges):
        options += f',from="{",".join(source_ranges)}"'
    return f"{options} {public_key.strip()}\n"


def agent_sshd_block(
    agent_user: str = AGENT_USER, command: str = f"sudo -n {AGENT_PATH}", keys_file: str = AGENT_KEYS_PATH
) -> str:
    """sshd settings for the agent's account: one key file it cannot write, one program, nothing else.
    Last in its file: a Match block lasts until the end of the file it is in."""
    return (
        f"Match User {agent_user}\n"
        f"\tAuthorizedKeysFile {keys_file}\n"
        f"\tForceCommand {command}\n"
        "\tPermitTTY no\n"
        "\tAllowTcpForwarding no\n"
        "\tAllowStreamLocalForwarding no\n"
        "\tPermitTunnel no\n"
    )

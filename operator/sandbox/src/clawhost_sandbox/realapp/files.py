"""What a rendered cloud-config writes that the gateway and Caddy read, parsed as systemd and Caddy would."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

UNIT_FILE = "/etc/systemd/system/openclaw-gateway.service"
CADDYFILE = "/etc/caddy/Caddyfile"
BOOTSTRAP_SCRIPT = "/usr/local/sbin/clawhost-bootstrap"
GATEWAY_CONFIG_SUFFIX = "/.openclaw/openclaw.json"


@dataclass(frozen=True)
class ServerFiles:
    """The parts of a rendered cloud-config the gateway and Caddy read, parsed as systemd and Caddy would."""

    files: Mapping[str, str]  # path -> content, every write_files entry
    unit: Mapping[str, tuple[tuple[str, str], ...]]  # section -> (key, value) in order
    hostname: str
    openclaw_version: str
    node_major: int
    node_minimum: str

    @classmethod
    def from_user_data(cls, user_data: str) -> ServerFiles:
        config = yaml.safe_load(user_data)
        files = {entry["path"]: str(entry["content"]) for entry in config["write_files"]}
        script = files[BOOTSTRAP_SCRIPT]
        return cls(
            files=files,
            unit=_parse_unit(files[UNIT_FILE]),
            hostname=_caddy_site_address(files[CADDYFILE]),
            openclaw_version=_shell_assignment(script, "OPENCLAW_VERSION"),
            node_major=int(_shell_assignment(script, "NODE_MAJOR")),
            node_minimum=_shell_assignment(script, "NODE_MINIMUM"),
        )

    def service(self, key: str, default: str | None = None) -> str:
        values = [value for name, value in self.unit["Service"] if name == key]
        if not values:
            if default is None:
                raise KeyError(f"the unit sets no {key}=")
            return default
        return values[-1]

    @property
    def exec_start(self) -> list[str]:
        return shlex.split(self.service("ExecStart"))

    @property
    def environment(self) -> dict[str, str]:
        """The unit's Environment= assignments (later ones win, as in systemd)."""
        result: dict[str, str] = {}
        for name, value in self.unit["Service"]:
            if name == "Environment":
                for assignment in shlex.split(value):
                    key, _, val = assignment.partition("=")
                    result[key] = val
        return result

    @property
    def environment_file(self) -> str:
        return self.service("EnvironmentFile").removeprefix("-")

    @property
    def environment_from_file(self) -> dict[str, str]:
        return parse_environment_file(self.files[self.environment_file])

    @property
    def home(self) -> str:
        return self.environment.get("HOME") or self.service("WorkingDirectory")

    @property
    def gateway_config_path(self) -> str:
        return self.home + GATEWAY_CONFIG_SUFFIX

    @property
    def gateway_config(self) -> str:
        return self.files[self.gateway_config_path]

    @property
    def caddyfile(self) -> str:
        return self.files[CADDYFILE]

    @property
    def gateway_port(self) -> int:
        argv = self.exec_start
        return int(argv[argv.index("--port") + 1])

    @property
    def stop_timeout(self) -> float:
        return _systemd_seconds(self.service("TimeoutStopSec", "90"))

    @property
    def kill_mode(self) -> str:
        return self.service("KillMode", "control-group")

    def memory_limit(self, key: str) -> int | None:
        """MemoryHigh= or MemoryMax= in bytes; None when unset or `infinity`."""
        return _megabytes(self.service(key, "infinity"))

    @property
    def success_exit_statuses(self) -> frozenset[str]:
        return frozenset(self.service("SuccessExitStatus", "").split())


def _parse_unit(text: str) -> dict[str, tuple[tuple[str, str], ...]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, _, value = line.partition("=")
        current.append((key.strip(), value.strip()))
    return {name: tuple(pairs) for name, pairs in sections.items()}


def _megabytes(value: str) -> int | None:
    """A systemd memory size with the M suffix the unit uses (or `infinity`), in bytes."""
    if value == "infinity":
        return None
    match = re.fullmatch(r"(\d+)([KMG])", value)
    if match is None:
        raise ValueError(f"cannot read the systemd memory size {value!r}")
    return int(match.group(1)) * {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]


def _systemd_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m)?", value.strip())
    if match is None:
        raise ValueError(f"cannot read the systemd time span {value!r}")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60}[unit]


def _shell_assignment(script: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", script, re.M)
    if match is None:
        raise ValueError(f"the bootstrap script sets no {name}")
    return match.group(1)


def _caddy_site_address(caddyfile: str) -> str:
    """The first site block's address: the first unindented `<address> {` line after the global block."""
    for line in caddyfile.splitlines():
        match = re.fullmatch(r"([a-z0-9.-]+\.[a-z0-9-]+) \{", line)
        if match:
            return match.group(1)
    raise ValueError("the Caddyfile has no site block")


def parse_environment_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (env-file.c): in double quotes a backslash
    makes `"`, `\\`, `` ` `` and `$` literal and is kept before any other character; single quotes are
    literal; unquoted, a backslash escapes the next character. Comments and blank lines are skipped."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError("an EnvironmentFile line without '='")
        result[key.strip()] = _environment_value(value.lstrip())
    return result


def _environment_value(value: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == '"':
            index += 1
            while index < len(value) and value[index] != '"':
                if value[index] == "\\" and index + 1 < len(value):
                    following = value[index + 1]
                    out.append(following if following in '"\\`$' else "\\" + following)
                    index += 2
                    continue
                out.append(value[index])
                index += 1
            index += 1
        elif char == "'":
            end = value.index("'", index + 1)
            out.append(value[index + 1 : end])
            index = end + 1
        elif char == "\\" and index + 1 < len(value):
            out.append(value[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out).rstrip()

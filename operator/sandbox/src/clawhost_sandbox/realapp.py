"""The real OpenClaw gateway behind the real Caddy, run from a rendered cloud-config, as one server would.

Used by tests/realapp and by the sandbox. The API (kept stable; other branches build on it):

    installation = install()                 # tests/realapp/install.sh: Node + the pinned openclaw releases
                                             # in ~/.cache/openclaw-hosting/realapp; raises RealAppUnavailable
                                             # (its message is the reason, for a pytest skip)
    files = ServerFiles.from_user_data(text) # what the cloud-config writes: openclaw.json, gateway.env, the
                                             # unit (ExecStart, Environment, EnvironmentFile, User, KillMode,
                                             # TimeoutStopSec, ...), the Caddyfile, the pinned version
    with RealServer(installation, files) as server:   # start(): network, gateway, Caddy; waits for /readyz
        server.address        # the server's own IPv4 address (a private link to this host)
        server.https_url      # "https://<hostname>": Caddy on the server's port 443 (internal CA)
        server.connect_to     # (address, 443): where a client connects for that host name
        server.ca_file        # the internal CA's root certificate (PEM); server.ssl_context() trusts it
        server.connector()    # an aiohttp TCPConnector resolving the host name to the server, with that CA
        server.https_get(path, headers)   # (status, headers, body) through Caddy, as a remote client
        server.https_request(method, path, body, headers)     # the same for any method
        server.client_address # the address such a client connects from
        server.local_get(path)            # the same asked on the server itself, curl to 127.0.0.1:18789
        server.memory()       # GatewayMemory(rss_bytes, peak_rss_bytes) of the gateway's processes
        server.started_seconds            # how long the last start took until /readyz answered 200
        server.startup_log    # the gateway's JSON log entries up to the end of that start
        server.gateway_log(), server.caddy_log()
        server.run_cli("config", "validate", "--json")  # the openclaw CLI as the gateway's user, with the
                                                          # unit's environment (what openclaw-admin does)
        server.stop()         # -> StopResult, as `systemctl stop` with the unit's KillMode/TimeoutStopSec
        server.restart()      # stop() then start() on the same state -> StopResult
    # leaving the block stops everything, removes the network and the server's directory.

Each server gets its own network namespace with a veth link to this host, so inside it everything has its
production address and port (gateway 127.0.0.1:18789, Caddy on 80/443, admin on 2019) and a client on the
host is a remote client with a non-loopback address, as the operator is to a real server. Everything the
gateway and Caddy get comes from the rendered files; the only changes are listed in DIFFERENCES, each with
its reason. `ServerFiles` never reads a template: give it the production renderer's output.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import ipaddress
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import yaml
from aiohttp.abc import AbstractResolver, ResolveResult

from clawhost_sandbox.controlplane import die_with_parent, find_repo_root

__all__ = [
    "DIFFERENCES",
    "Difference",
    "GatewayMemory",
    "Installation",
    "RealAppUnavailable",
    "RealServer",
    "ServerFiles",
    "StaticResolver",
    "StopResult",
    "install",
    "pinned_versions",
]

# The account the gateway runs as here (DIFFERENCES: accounts). Caddy runs as Debian's `caddy` account.
GATEWAY_RUN_USER = "nobody"
CADDY_USER = "caddy"
# Where the cached install appears inside the gateway's mount namespace (on its private /home tmpfs).
APP_MOUNT = "/home/.clawhost-realapp"
# Servers' links to this host: /30 blocks of the benchmarking range (RFC 2544), never routed anywhere.
LINK_NETWORK = ipaddress.ip_network("198.18.0.0/15")
# How long a fresh gateway may take to answer /readyz (4-7 s measured alone; the bootstrap waits 120 s).
START_TIMEOUT = 120.0
# Debian's caddy.service: TimeoutStopSec=5s.
CADDY_STOP_TIMEOUT = 5.0
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Difference:
    what: str
    here: str
    why: str


# The one list of what differs from a real server. Code that applies one names it in a comment.
DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "certificates",
        "Caddy issues the site's certificate from its internal CA: `local_certs` and `skip_install_trust` "
        "are added to the Caddyfile's global options; nothing else in the file changes",
        "no ACME CA can reach this machine, and the host names are not ours",
    ),
    Difference(
        "network",
        "the server is a network namespace with one veth link to this host (a /30 of 198.18.0.0/15) and no "
        "route beyond it; clients reach https://<hostname> through a resolver that maps the name to it",
        "nothing may listen beyond this machine, and the host names do not resolve here",
    ),
    Difference(
        "service manager",
        "a supervised process instead of systemd: ExecStart, Environment, EnvironmentFile, User, "
        "WorkingDirectory, NoNewPrivileges, PrivateTmp, KillMode, TimeoutStopSec, SuccessExitStatus and "
        "MemoryMax are honoured, in a memory cgroup of the unit's own (on a cgroup v1 host MemoryHigh has no "
        "equivalent, as under systemd there); Restart=, ProtectSystem and ProtectKernel* are not applied",
        "PID 1 here is not systemd (no system bus; systemd-run cannot start units)",
    ),
    Difference(
        "accounts",
        f"the gateway runs as `{GATEWAY_RUN_USER}` instead of the `openclaw` account",
        "tests must not create accounts on a shared machine (Caddy's own package made `caddy`)",
    ),
    Difference(
        "file system",
        "each service has a private mount namespace: /home is a tmpfs holding /home/openclaw (bound to the "
        "server's temp directory); /etc/caddy and /var/lib/caddy are bound likewise; "
        "/etc/openclaw/gateway.env is read by the supervisor from the temp directory",
        "so the rendered absolute paths hold without writing to this machine's /home, /etc or /var",
    ),
    Difference(
        "installed software",
        "`/usr/bin/openclaw` in ExecStart is the cached install's `node_modules/.bin/openclaw`, bound "
        f"read-only at {APP_MOUNT}, and `node` on PATH is the cached Node; Caddy is Debian's package "
        "(2.6 on Debian 12), not the Caddy repository's",
        "Node and OpenClaw are not installed system-wide here, the cache's parent (~root) is 0700, and the "
        "vendor repositories are unreachable",
    ),
)


class RealAppUnavailable(RuntimeError):
    """The real app cannot run here (install failed, a tool is missing); the message says why."""


# --- the installation -------------------------------------------------------------------------------------
def _versions_file() -> Path:
    return find_repo_root() / "tests" / "realapp" / "versions.env"


def pinned_versions() -> tuple[str, tuple[str, ...]]:
    """(Node version, openclaw versions oldest first) from tests/realapp/versions.env."""
    values: dict[str, str] = {}
    for line in _versions_file().read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values["NODE_VERSION"], tuple(values["OPENCLAW_VERSIONS"].split())


@dataclass(frozen=True)
class Installation:
    root: Path
    node_version: str
    openclaw_versions: tuple[str, ...]

    @property
    def node_bin(self) -> Path:
        return self.root / f"node-{self.node_version}" / "bin"

    @property
    def newest(self) -> str:
        return self.openclaw_versions[-1]

    def package_dir(self, version: str) -> Path:
        """node_modules/openclaw of that release (package.json, docs/, openclaw.mjs)."""
        if version not in self.openclaw_versions:
            raise RealAppUnavailable(
                f"openclaw {version} is not installed here (tests/realapp/versions.env pins "
                f"{', '.join(self.openclaw_versions)})"
            )
        return self.root / f"openclaw-{version}" / "node_modules" / "openclaw"

    def package_json(self, version: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.package_dir(version) / "package.json").read_text())
        return data


def install(timeout: float = 1800) -> Installation:
    """Runs tests/realapp/install.sh (a no-op when the cache is complete; it holds a lock)."""
    if shutil.which("npm") is None:
        raise RealAppUnavailable("npm is not installed (apt-get install npm); it fetches Node and openclaw")
    if shutil.which("unshare") is None or shutil.which("setpriv") is None:
        raise RealAppUnavailable("unshare/setpriv (util-linux) are missing")
    script = _versions_file().parent / "install.sh"
    try:
        result = subprocess.run([str(script)], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RealAppUnavailable(f"{script} did not finish within {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise RealAppUnavailable(f"{script} failed (exit {result.returncode}): {result.stderr[-2000:]}")
    node, versions = pinned_versions()
    return Installation(Path(result.stdout.strip().splitlines()[-1]), node, versions)


def caddy_binary() -> str:
    caddy = shutil.which("caddy")
    if caddy is None:
        raise RealAppUnavailable("caddy is not installed (scripts/install-system-deps.sh installs it)")
    return caddy


# --- what the cloud-config writes -------------------------------------------------------------------------
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


# --- the running server -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class GatewayMemory:
    rss_bytes: int  # now, summed over the processes of the unit's control group
    peak_rss_bytes: int  # the high-water mark (VmHWM) of each of those processes, summed
    cgroup_peak_bytes: int  # the control group's peak charge (page cache included): systemd's MemoryPeak


@dataclass(frozen=True)
class StopResult:
    """How a stop went, in systemd's words: `result` is "success" when the main process ended within
    TimeoutStopSec with a clean status (0, a SuccessExitStatus, or SIGTERM), "timeout" when it had to be
    SIGKILLed, else "exit-code" or "signal"."""

    seconds: float
    returncode: int  # negative = ended by that signal, as subprocess reports it
    killed_after_timeout: bool
    leftover_pids: tuple[int, ...]  # processes of the "control group" alive after the main one ended
    result: str


class StaticResolver(AbstractResolver):
    """aiohttp name resolution from a fixed table (host name -> address), like an /etc/hosts for one
    client; names not in the table do not resolve."""

    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = dict(table)

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        address = self.table.get(host, host)
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise OSError(f"{host} is not a sandbox server") from None
        return [
            {"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0,
             "flags": socket.AI_NUMERICHOST}
        ]  # fmt: skip

    async def close(self) -> None:
        return None


def connector_for(servers: Iterable[RealServer]) -> aiohttp.TCPConnector:
    """One client connector for several servers: their host names resolve to them, their CAs are trusted."""
    servers = list(servers)
    context = ssl.create_default_context()
    for server in servers:
        context.load_verify_locations(cafile=str(server.ca_file))
    return aiohttp.TCPConnector(
        resolver=StaticResolver({server.hostname: server.address for server in servers}), ssl=context
    )


class RealServer:
    """One server: its network, the gateway from the rendered unit, Caddy from the rendered Caddyfile."""

    def __init__(self, installation: Installation, files: ServerFiles, directory: Path | None = None) -> None:
        self.installation = installation
        self.files = files
        self._owns_directory = directory is None
        # Under /tmp, not pytest's 0700 tmp_path: the unprivileged accounts must reach it.
        self.directory = directory or Path(tempfile.mkdtemp(prefix="clawhost-realapp-"))
        self.directory.chmod(0o755)
        self._gateway_account = pwd.getpwnam(GATEWAY_RUN_USER)
        try:
            self._caddy_account = pwd.getpwnam(CADDY_USER)
        except KeyError:
            raise RealAppUnavailable("no `caddy` account: install Debian's caddy package") from None
        self._network: _Network | None = None
        self._unit = ControlGroup.create(f"clawhost-realapp-{self.directory.name}")
        self._unit.limit(
            high=_megabytes(files.service("MemoryHigh", "infinity")),
            maximum=_megabytes(files.service("MemoryMax", "infinity")),
        )
        self._gateway: subprocess.Popen[bytes] | None = None
        self._caddy: subprocess.Popen[bytes] | None = None
        self._logs: list[Any] = []
        self.started_seconds: float | None = None
        # The gateway's JSON log as it stood when the last start() returned, before any client's traffic.
        self.startup_log: list[dict[str, Any]] = []
        self._lay_out()

    # what a client sees --------------------------------------------------------------------------------
    @property
    def hostname(self) -> str:
        return self.files.hostname

    @property
    def address(self) -> str:
        if self._network is None:
            raise RuntimeError("the server is not started")
        return self._network.server_address

    @property
    def https_url(self) -> str:
        return f"https://{self.hostname}"

    @property
    def connect_to(self) -> tuple[str, int]:
        return (self.address, 443)

    @property
    def ca_file(self) -> Path:
        return self._caddy_home / ".local" / "share" / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def connector(self) -> aiohttp.TCPConnector:
        return connector_for([self])

    @property
    def client_address(self) -> str:
        """The address a client on this host connects from (the host's end of the link)."""
        if self._network is None:
            raise RuntimeError("the server is not started")
        return self._network.host_address

    def https_get(
        self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 10
    ) -> tuple[int, dict[str, str], bytes]:
        """GET https://<hostname><path> through Caddy from this host (a remote client), verified against
        the internal CA: (status, headers lower-cased, body). Error statuses are returned, not raised."""
        return self.https_request("GET", path, None, headers, timeout)

    def https_request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = _PinnedHTTPS(self.hostname, self.address, self.ssl_context(), timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def local_get(self, path: str, timeout: float = 5) -> tuple[int, bytes]:
        """GET http://127.0.0.1:<gateway port><path> on the server itself (curl, as clawhost-bootstrap
        asks): (status, body); status 0 when nothing answers."""
        result = self.on_server(
            "curl", "-sS", "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}",
            f"http://127.0.0.1:{self.files.gateway_port}{path}",
        )  # fmt: skip
        body, _, status = result.stdout.rpartition(b"\n")
        return int(status or 0), body

    def on_server(self, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[bytes]:
        """A command as root in the server's network namespace."""
        return subprocess.run(
            [*self._network_prefix(), *argv], capture_output=True, timeout=timeout, check=False,
            preexec_fn=die_with_parent,
        )  # fmt: skip

    def run_cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`openclaw ARGS` as the gateway's user, with the unit's environment and file system (what
        `openclaw-admin ARGS` does on a server)."""
        return subprocess.run(
            [*self._gateway_prefix(), *self._openclaw_command(), *args], env=self._unit_environment(),
            capture_output=True, text=True, timeout=timeout, check=False, preexec_fn=die_with_parent,
        )  # fmt: skip

    def memory(self) -> GatewayMemory:
        self._running_gateway()
        rss = peak = 0
        for pid in self._unit.pids():
            status = _proc_status(pid)
            rss += status.get("VmRSS", 0)
            peak += status.get("VmHWM", 0)
        return GatewayMemory(rss * 1024, peak * 1024, self._unit.peak_bytes())

    @property
    def gateway_pid(self) -> int:
        return self._running_gateway().pid

    def gateway_processes(self) -> list[int]:
        """Every live process of the unit's control group."""
        return self._unit.pids()

    def gateway_log(self) -> str:
        """What the gateway wrote to stdout and stderr (the journal, on a server)."""
        return (self.directory / "gateway.log").read_text(errors="replace")

    def gateway_file_log(self) -> list[dict[str, Any]]:
        """The gateway's own JSON-lines log (/tmp/openclaw/openclaw-<date>.log in its private /tmp)."""
        entries: list[dict[str, Any]] = []
        for path in sorted((self.private_tmp / "openclaw").glob("openclaw-*.log")):
            for line in path.read_text(errors="replace").splitlines():
                with contextlib.suppress(ValueError):
                    entries.append(json.loads(line))
        return entries

    @property
    def private_tmp(self) -> Path:
        return self.directory / "gateway-tmp"

    def caddy_log(self) -> str:
        return (self.directory / "caddy.log").read_text(errors="replace")

    # lifecycle -----------------------------------------------------------------------------------------
    def __enter__(self) -> RealServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Brings the server up as its bootstrap does (gateway, then Caddy) and returns once /readyz
        answers 200 on the server; raises RealAppUnavailable with the logs' tail otherwise."""
        try:
            if self._network is None:
                self._network = _Network.create(self.installation.root / ".links.lock")
            began = time.monotonic()
            self._start_gateway()
            self._wait_until_ready(began + timeout)
            self.started_seconds = time.monotonic() - began
            if self._caddy is None:
                self._start_caddy(time.monotonic() + 30)
            self.startup_log = self.gateway_file_log()
        except BaseException:
            self.close()
            raise

    def stop(self) -> StopResult:
        """Stops the gateway as `systemctl stop openclaw-gateway` would (Caddy keeps running)."""
        gateway, self._gateway = self._running_gateway(), None
        return stop_unit(gateway, self._unit, self.files)

    def restart(self, timeout: float = START_TIMEOUT) -> StopResult:
        result = self.stop()
        self.start(timeout)
        return result

    def close(self) -> None:
        """Stops everything, removes the network and (when it made it) the directory; safe to repeat."""
        if self._gateway is not None:
            with contextlib.suppress(Exception):
                self.stop()
        if self._caddy is not None:
            caddy, self._caddy = self._caddy, None
            _stop_process(caddy, CADDY_STOP_TIMEOUT)
        if self._network is not None:
            network, self._network = self._network, None
            network.remove()
        self._unit.remove()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _running_gateway(self) -> subprocess.Popen[bytes]:
        if self._gateway is None:
            raise RuntimeError("the gateway is not running")
        return self._gateway

    # the server's files --------------------------------------------------------------------------------
    def _root_path(self, path: str) -> Path:
        return self.directory / "root" / path.lstrip("/")

    @property
    def _caddy_home(self) -> Path:
        return self._root_path(self._caddy_account.pw_dir)

    def _lay_out(self) -> None:
        """Every file the gateway and Caddy read, owned and moded as on a server."""
        gateway, caddy = self._gateway_account, self._caddy_account
        home = self._root_path(self.files.home)
        state = home / ".openclaw"
        state.mkdir(parents=True)
        # cloud-init writes openclaw.json as openclaw:openclaw 0600; clawhost-bootstrap step 5 makes the
        # state directory the gateway user's, 0700.
        for directory in (home, state):
            os.chown(directory, gateway.pw_uid, gateway.pw_gid)
        state.chmod(0o700)
        _write(self._root_path(self.files.gateway_config_path), self.files.gateway_config, 0o600, gateway)
        # root's, 0600: systemd (here the supervisor) reads it before dropping privileges.
        env_file = self.files.environment_file
        _write(self._root_path(env_file), self.files.files[env_file], 0o600)
        _write(self._root_path(CADDYFILE), caddyfile_here(self.files.caddyfile), 0o644)
        self.private_tmp.mkdir()
        self.private_tmp.chmod(0o1777)
        self._caddy_home.mkdir(parents=True)
        os.chown(self._caddy_home, caddy.pw_uid, caddy.pw_gid)

    # the gateway ---------------------------------------------------------------------------------------
    def _network_prefix(self) -> list[str]:
        """Into the server's network; before start() (a CLI run such as `config validate`), none: the
        command then runs without a network namespace."""
        if self._network is None:
            return []
        return ["nsenter", f"--net={self._network.namespace}", "--"]

    def _openclaw_command(self) -> list[str]:
        # DIFFERENCES ("installed software"): /usr/bin/openclaw is the cached install's bin link.
        return [f"{APP_MOUNT}/openclaw-{self.files.openclaw_version}/node_modules/.bin/openclaw"]

    def _gateway_prefix(self) -> list[str]:
        """The unit's User=, WorkingDirectory=, NoNewPrivileges=, PrivateTmp= and the rendered paths, in
        the server's network and a mount namespace that ends with the process (DIFFERENCES: file system,
        installed software)."""
        home = self.files.home
        if not home.startswith("/home/"):
            raise ValueError(f"the gateway's home {home!r} is not under /home")
        mounts = [
            "mount -t tmpfs -o mode=0755 clawhost-home /home",
            f"mkdir -p {shlex.quote(home)} {APP_MOUNT}",
            f"mount --bind {shlex.quote(str(self._root_path(home)))} {shlex.quote(home)}",
            f"mount --bind {shlex.quote(str(self.installation.root))} {APP_MOUNT}",
            f"mount -o remount,bind,ro {APP_MOUNT}",  # installed by root: not the gateway's to change
            # PrivateTmp=yes: a /tmp of the unit's own (kept, to read the gateway's file log).
            f"mount --bind {shlex.quote(str(self.private_tmp))} /tmp",
            f"cd {shlex.quote(self.files.service('WorkingDirectory', home))}",
        ]
        account = self._gateway_account
        return [
            *self._network_prefix(), *_in_mount_namespace(mounts),
            "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
            "--no-new-privs",  # NoNewPrivileges=yes
            "env", "-u", "PWD", "-u", "OLDPWD",  # set by sh; systemd sets neither
        ]  # fmt: skip

    def _unit_environment(self) -> dict[str, str]:
        """What systemd gives the unit's process: its base environment for a User= service, the unit's
        Environment= lines, then the EnvironmentFile (which wins on a shared name, as in systemd)."""
        account = self._gateway_account
        env = {
            # DIFFERENCES ("installed software"): the cached Node on PATH, ahead of systemd's default.
            "PATH": f"{APP_MOUNT}/node-{self.installation.node_version}/bin:{SYSTEMD_PATH}",
            "USER": account.pw_name,
            "LOGNAME": account.pw_name,
            "SHELL": account.pw_shell,
            "HOME": account.pw_dir,
        }
        env.update(self.files.environment)
        env.update(self.files.environment_from_file)
        return env

    def _start_gateway(self) -> None:
        if self._gateway is not None:
            raise RuntimeError("the gateway is already running")
        argv = self.files.exec_start
        if argv[0] != "/usr/bin/openclaw":
            raise ValueError(f"unexpected ExecStart {argv[0]!r}")
        log = self._log("gateway.log")
        self._gateway = subprocess.Popen(
            [*self._gateway_prefix(), *self._openclaw_command(), *argv[1:]],
            env=self._unit_environment(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=self._unit.join_and_die_with_parent,
        )  # fmt: skip

    def _wait_until_ready(self, deadline: float) -> None:
        # clawhost-bootstrap's last step: /readyz on loopback, on the server.
        while time.monotonic() < deadline:
            gateway = self._running_gateway()
            if gateway.poll() is not None:
                raise RealAppUnavailable(
                    f"the gateway exited ({gateway.returncode}) during startup:\n{self.gateway_log()[-3000:]}"
                )
            if self.local_get("/readyz", timeout=2)[0] == 200:
                return
            time.sleep(0.25)
        raise RealAppUnavailable(f"the gateway was not ready in time:\n{self.gateway_log()[-3000:]}")

    # Caddy ---------------------------------------------------------------------------------------------
    def _start_caddy(self, deadline: float) -> None:
        account = self._caddy_account
        mounts = [
            f"mount --bind {shlex.quote(str(self._root_path('/etc/caddy')))} /etc/caddy",
            f"mount --bind {shlex.quote(str(self._caddy_home))} {shlex.quote(account.pw_dir)}",
            "mount -t tmpfs -o mode=1777 clawhost-tmp /tmp",  # PrivateTmp=true
        ]
        # Debian's caddy.service: User=caddy, AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE.
        caps = "+net_admin,+net_bind_service"
        self._caddy = subprocess.Popen(
            [
                *self._network_prefix(), *_in_mount_namespace(mounts),
                "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--init-groups",
                f"--inh-caps={caps}", f"--ambient-caps={caps}", "env", "-u", "PWD", "-u", "OLDPWD",
                caddy_binary(), "run", "--environ", "--config", CADDYFILE,
            ],
            env={"PATH": SYSTEMD_PATH, "HOME": account.pw_dir, "USER": account.pw_name,
                 "LOGNAME": account.pw_name, "SHELL": account.pw_shell},
            stdin=subprocess.DEVNULL, stdout=self._log("caddy.log"), stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent,
        )  # fmt: skip
        while time.monotonic() < deadline:
            if self._caddy.poll() is not None:
                raise RealAppUnavailable(
                    f"Caddy exited ({self._caddy.returncode}):\n{self.caddy_log()[-3000:]}"
                )
            if self.ca_file.exists():
                with contextlib.suppress(OSError, ssl.SSLError):
                    if self.https_get("/healthz", timeout=2)[0] == 200:
                        return
            time.sleep(0.2)
        raise RealAppUnavailable(f"Caddy did not serve {self.https_url} in time:\n{self.caddy_log()[-3000:]}")

    def _log(self, name: str) -> Any:
        log = open(self.directory / name, "ab")  # noqa: SIM115 - open while the process runs
        self._logs.append(log)
        return log


def caddyfile_here(rendered: str) -> str:
    """The rendered Caddyfile with DIFFERENCES ("certificates") added to its global options block."""
    here = "\tlocal_certs\n\tskip_install_trust\n"
    if re.search(r"^\{\n", rendered, re.M):
        return re.sub(r"^\{\n", "{\n" + here, rendered, count=1, flags=re.M)
    return "{\n" + here + "}\n\n" + rendered


def _in_mount_namespace(setup: list[str]) -> list[str]:
    script = " && ".join([*setup, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "clawhost-unit"]


def _write(path: Path, content: str, mode: int, owner: pwd.struct_passwd | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)
    if owner is not None:
        os.chown(path, owner.pw_uid, owner.pw_gid)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to `hostname` (SNI, certificate check, Host header) over a connection to `address`:443."""

    def __init__(self, hostname: str, address: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(hostname, 443, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, 443), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


# --- the server's network ---------------------------------------------------------------------------------
@dataclass
class _Network:
    """A network namespace (held by a sleeping process) linked to this host by a veth pair."""

    holder: subprocess.Popen[bytes]
    host_address: str
    server_address: str

    @property
    def namespace(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    @classmethod
    def create(cls, lock_file: Path) -> _Network:
        for tool in ("ip", "nsenter", "unshare", "setpriv", "curl"):
            if shutil.which(tool) is None:
                raise RealAppUnavailable(f"{tool} is not installed")
        holder = subprocess.Popen(
            ["unshare", "--net", "--", "sleep", "infinity"],
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            own = os.readlink("/proc/self/ns/net")
            while os.readlink(f"/proc/{holder.pid}/ns/net") == own:
                if holder.poll() is not None:
                    raise RealAppUnavailable("cannot create a network namespace (unshare --net failed)")
                time.sleep(0.01)
            # Parallel sessions on this machine pick their links under one lock.
            with open(lock_file, "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                block = _free_link_block()
                host_if, server_if = f"clawh{block:05x}", f"claws{block:05x}"
                host, server = (str(address) for address in list(block_network(block).hosts()))
                _ip(
                    "link",
                    "add",
                    host_if,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    server_if,
                    "netns",
                    str(holder.pid),
                )
                _ip("addr", "add", f"{host}/30", "dev", host_if)
                _ip("link", "set", host_if, "up")
            namespace = f"--net=/proc/{holder.pid}/ns/net"
            for args in (("link", "set", "lo", "up"), ("addr", "add", f"{server}/30", "dev", server_if),
                         ("link", "set", server_if, "up")):  # fmt: skip
                _ip(*args, prefix=["nsenter", namespace, "--"])
            return cls(holder, host, server)
        except BaseException:
            _stop_process(holder, 1)
            raise

    def remove(self) -> None:
        # The namespace goes with its last process, and the veth pair with it.
        _stop_process(self.holder, 1)


def block_network(block: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((int(LINK_NETWORK.network_address) + 4 * block, 30))


def _free_link_block() -> int:
    used = subprocess.run(
        ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True
    ).stdout
    taken = {ipaddress.ip_address(address) for address in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", used)}
    for block in range(LINK_NETWORK.num_addresses // 4):
        if not taken.intersection(block_network(block).hosts()):
            return block
    raise RealAppUnavailable("no free link network left in 198.18.0.0/15")


def _ip(*args: str, prefix: list[str] | None = None) -> None:
    result = subprocess.run([*(prefix or []), "ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RealAppUnavailable(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


# --- systemd's stop, emulated -----------------------------------------------------------------------------
def stop_unit(main: subprocess.Popen[bytes], unit: ControlGroup, files: ServerFiles) -> StopResult:
    """`systemctl stop` for this unit. KillMode=mixed: SIGTERM to the main process only, up to
    TimeoutStopSec for it to exit, then SIGKILL to everything left in the control group. control-group:
    SIGTERM to every process of it at once. Either way, what is left once the main process is gone is
    SIGKILLed (and reported)."""
    began = time.monotonic()
    if files.kill_mode == "mixed":
        _signal(main.pid, signal.SIGTERM)
    else:
        for pid in unit.pids():
            _signal(pid, signal.SIGTERM)
    killed = False
    try:
        main.wait(timeout=files.stop_timeout)
    except subprocess.TimeoutExpired:
        killed = True
        for pid in unit.pids():
            _signal(pid, signal.SIGKILL)
        main.wait()
    seconds = time.monotonic() - began
    leftovers = tuple(unit.pids())
    unit.kill_all()
    code = main.returncode
    clean = code == 0 or str(code) in files.success_exit_statuses or code == -signal.SIGTERM
    result = "timeout" if killed else "success" if clean else "signal" if code < 0 else "exit-code"
    return StopResult(seconds, code, killed, leftovers, result)


class ControlGroup:
    """The unit's control group: a memory cgroup below this process's own (v2, or v1's memory hierarchy
    as systemd uses it on a v1 host). It finds every process of the unit, also those that left the
    session (OpenClaw's spawn broker does), and reports the unit's peak memory."""

    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version

    @classmethod
    def create(cls, name: str) -> ControlGroup:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, own = line.split(":", 2)
            if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
                path, version = Path("/sys/fs/cgroup") / own.lstrip("/") / name, 2
                break
            if "memory" in controllers.split(","):
                path, version = Path("/sys/fs/cgroup/memory") / own.lstrip("/") / name, 1
                break
        else:
            raise RealAppUnavailable("no memory cgroup to run the gateway's unit in")
        try:
            path.mkdir()
        except OSError as exc:
            raise RealAppUnavailable(f"cannot create the cgroup {path}: {exc}") from exc
        return cls(path, version)

    def limit(self, high: int | None, maximum: int | None) -> None:
        """MemoryHigh and MemoryMax, in bytes (None: no limit)."""
        if self.version == 2:
            for name, value in (("memory.high", high), ("memory.max", maximum)):
                (self.path / name).write_text("max" if value is None else str(value))
        elif maximum is not None:
            (self.path / "memory.limit_in_bytes").write_text(str(maximum))

    def join_and_die_with_parent(self) -> None:
        # Runs in the child between fork and exec.
        (self.path / "cgroup.procs").write_text("0")
        die_with_parent()

    def pids(self) -> list[int]:
        with contextlib.suppress(FileNotFoundError):
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        return []

    def peak_bytes(self) -> int:
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int((self.path / name).read_text())
        return 0

    def kill_all(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                _signal(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, SIGKILL after `grace`, then SIGKILL to anything left in its session."""
    _signal(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal(process.pid, signal.SIGKILL)
        process.wait()
    for pid in _session_members_by_sid(process.pid):
        _signal(pid, signal.SIGKILL)


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, number)


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: the fields start after its closing one.
    return text[text.rindex(")") + 2 :].split()


def _session_members_by_sid(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            # state, ppid, pgrp, session, ...; a zombie has exited already
            if stat is not None and stat[0] != "Z" and int(stat[3]) == session:
                members.append(int(entry.name))
    return members


def _proc_status(pid: int) -> dict[str, int]:
    values: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])  # kB
    return values

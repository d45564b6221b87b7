"""One server run here: its network, the gateway from the rendered unit, Caddy from the rendered Caddyfile."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import itertools
import json
import os
import pwd
import re
import shlex
import shutil
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
from aiohttp.abc import AbstractResolver, ResolveResult

from clawhost_sandbox.controlplane import die_with_parent
from clawhost_sandbox.realapp.differences import APP_MOUNT, GATEWAY_RUN_USER
from clawhost_sandbox.realapp.errors import GatewayError, RealAppUnavailable
from clawhost_sandbox.realapp.files import CADDYFILE, ServerFiles
from clawhost_sandbox.realapp.installation import Installation, caddy_binary
from clawhost_sandbox.realapp.network import Network
from clawhost_sandbox.realapp.unit import ControlGroup, StopResult, proc_status, stop_process, stop_unit

CADDY_USER = "caddy"
# How long a fresh gateway may take to answer /readyz (4-7 s measured alone; the bootstrap waits 120 s).
START_TIMEOUT = 120.0
# Debian's caddy.service: TimeoutStopSec=5s.
CADDY_STOP_TIMEOUT = 5.0
_UNIT_NUMBERS = itertools.count(1)
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class GatewayMemory:
    rss_bytes: int  # now, summed over the processes of the unit's control group
    peak_rss_bytes: int  # the high-water mark (VmHWM) of each of those processes, summed
    cgroup_peak_bytes: int  # the control group's peak charge (page cache included): systemd's MemoryPeak


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

    def __init__(
        self,
        installation: Installation,
        files: ServerFiles,
        directory: Path | None = None,
        ca: LocalCA | None = None,
    ) -> None:
        """`ca`: the root Caddy's internal CA signs with (default: Caddy makes one of its own), so that
        several servers can share one root a client trusts once (the sandbox does)."""
        self.installation = installation
        self.files = files
        self._ca = ca
        self._owns_directory = directory is None
        # Under /tmp, not pytest's 0700 tmp_path: the unprivileged accounts must reach it.
        self.directory = directory or Path(tempfile.mkdtemp(prefix="clawhost-realapp-"))
        self.directory.chmod(0o755)
        self._gateway_account = pwd.getpwnam(GATEWAY_RUN_USER)
        try:
            self._caddy_account = pwd.getpwnam(CADDY_USER)
        except KeyError:
            raise RealAppUnavailable("no `caddy` account: install Debian's caddy package") from None
        self._network: Network | None = None
        self._unit = ControlGroup.create(f"clawhost-realapp-{os.getpid()}-{next(_UNIT_NUMBERS)}")
        self._unit.limit(
            high=files.memory_limit("MemoryHigh"),
            maximum=files.memory_limit("MemoryMax"),
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
            status = proc_status(pid)
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
        answers 200 on the server; raises GatewayError with the logs' tail otherwise."""
        try:
            if self._network is None:
                self._network = Network.create(self.installation.root / ".links.lock")
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
            stop_process(caddy, CADDY_STOP_TIMEOUT)
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
        if self._ca is not None:
            # Where Caddy keeps its internal CA's root; it signs an intermediate with it at start.
            authority = self.ca_file.parent
            authority.mkdir(parents=True)
            shutil.copyfile(self._ca.certificate, authority / "root.crt")
            shutil.copyfile(self._ca.key, authority / "root.key")
            (authority / "root.key").chmod(0o600)
            for path in [authority / "root.crt", authority / "root.key", authority, *authority.parents]:
                if path == self._caddy_home:
                    break
                os.chown(path, caddy.pw_uid, caddy.pw_gid)

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
                raise GatewayError(
                    f"the gateway exited ({gateway.returncode}) during startup:\n{self.gateway_log()[-3000:]}"
                )
            if self.local_get("/readyz", timeout=2)[0] == 200:
                return
            time.sleep(0.25)
        raise GatewayError(f"the gateway was not ready in time:\n{self.gateway_log()[-3000:]}")

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
                raise GatewayError(f"Caddy exited ({self._caddy.returncode}):\n{self.caddy_log()[-3000:]}")
            if self.ca_file.exists():
                with contextlib.suppress(OSError, ssl.SSLError):
                    if self.https_get("/healthz", timeout=2)[0] == 200:
                        return
            time.sleep(0.2)
        raise GatewayError(f"Caddy did not serve {self.https_url} in time:\n{self.caddy_log()[-3000:]}")

    def _log(self, name: str) -> Any:
        log = open(self.directory / name, "ab")  # noqa: SIM115 - open while the process runs
        self._logs.append(log)
        return log


@dataclass(frozen=True)
class LocalCA:
    """A root certificate and key (PEM files) for Caddy's internal CA."""

    certificate: Path
    key: Path

    @classmethod
    def create(cls, directory: Path, name: str = "clawhost sandbox servers") -> LocalCA:
        """A new root in `directory` (root.crt, root.key), or the one already there."""
        ca = cls(directory / "root.crt", directory / "root.key")
        if ca.certificate.exists() and ca.key.exists():
            return ca
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(ca.key), "-out", str(ca.certificate), "-days", "3650",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            check=True, capture_output=True,
        )  # fmt: skip
        ca.key.chmod(0o600)
        return ca


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

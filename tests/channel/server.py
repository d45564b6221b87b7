"""One OpenClaw "server" on this machine for the channel tests: the files the production bootstrap renders,
the real gateway, real Caddy in front of it, and a real OpenSSH sshd whose forced command is the real agent.

The server's files come from `render_user_data` (every `write_files` entry, at its path under `root`), so
the gateway starts from the production config and token file. What differs from a Hetzner server, and
why: no systemd in the container (service.py starts and stops the one gateway the way the unit does);
the sshd login is root with the agent as its forced command, built by the same `agent_sshd_block` and
`agent_authorized_key` as production (this machine has no clawhost-agent account and the tests do not
create one); Caddy gets a test global block (ports, local CA: no ACME here); "installing" a version
switches a symlink between the two releases tests/realapp/install.sh installed with npm.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from openclaw_operator import api
from openclaw_operator.bootstrap import app_files
from openclaw_operator.bootstrap.render import render_user_data
from openclaw_operator.bootstrap.settings import BootstrapSettings

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NODE_VERSION = "24.22.3"
NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"  # Debian's libnss-wrapper


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def realapp_dir() -> Path | None:
    done = subprocess.run(
        [str(REPO / "tests/realapp/install.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    return Path(done.stdout.strip().splitlines()[-1])


def operator_key(directory: Path) -> Path:
    key = directory / "operator_ed25519"
    if not key.exists():
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "clawhost-operator", "-f", str(key)],
            check=True,
        )
    return key


def channel_environment(server: ChannelServer, key: Path) -> dict[str, str]:
    """The operator's channel variables for a test whose one simulated server is `server` (loopback)."""
    return {
        "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(key),
        "CLAWHOST_CHANNEL_PORT": str(server.ports["ssh"]),
        "CLAWHOST_CHANNEL_SOURCE_RANGES": "127.0.0.0/8",
        "CLAWHOST_APP_HEALTH_URL": f"http://127.0.0.1:{server.ports['gateway']}/readyz",
    }


def instance(hostname: str, version: str, **spec: Any) -> api.OpenClawInstance:
    return api.OpenClawInstance.from_body(
        {
            "metadata": {"name": "alice", "namespace": "t", "uid": "0123abcd-0000-0000-0000-000000000000"},
            "spec": {
                "hostname": hostname,
                "openclawVersion": version,
                "gatewayTokenSecretRef": {"name": "alice-gateway"},
                **spec,
            },
        }
    )


class ChannelServer:
    def __init__(
        self,
        root: Path,
        realapp: Path,
        key: Path,
        source_ranges: tuple[str, ...] = ("127.0.0.1/32",),
        login: str = "root",
        restart_always: bool = False,
    ):
        self.root = root
        # service.py supervises the gateway as the unit's Restart=always would (see there).
        self.restart_always = restart_always
        # The account the operator logs in as: root, or the production clawhost-agent as a uid-0 entry
        # of a passwd file only this sshd sees (nss_wrapper: no account is created on the machine).
        self.login = login
        self.realapp = realapp
        self.key = key
        self.source_ranges = source_ranges
        self.ports = {name: free_port() for name in ("gateway", "ssh", "https", "http", "caddy_admin")}
        self.address = "127.0.0.1"  # where sshd listens: a simulated server's 127.0.0.x for the operator
        self.node = realapp / f"node-{NODE_VERSION}/bin/node"
        self.sshd: subprocess.Popen[bytes] | None = None

    # --- paths ---------------------------------------------------------------------------------------
    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    @property
    def home(self) -> Path:
        return self.path("/home/openclaw")

    @property
    def current(self) -> Path:
        return self.root / "current-openclaw"

    # --- setup ---------------------------------------------------------------------------------------
    def install(self, inst: api.OpenClawInstance, token: str) -> None:
        """Write every file the bootstrap renders, as cloud-init would, then the test stand-ins."""
        public_key = (self.key.with_suffix(".pub")).read_text().strip()
        settings = BootstrapSettings(channel_public_key=public_key, channel_source_ranges=self.source_ranges)
        self.install_user_data(render_user_data(inst, settings, token), inst)

    def install_user_data(self, rendered: str, inst: api.OpenClawInstance) -> None:
        """`install` from user-data someone else rendered (the operator, as a simulated server got it)."""
        settings = BootstrapSettings()
        user_data = yaml.safe_load(rendered.removeprefix("#cloud-config\n"))
        for entry in user_data["write_files"]:
            target = self.path(entry["path"])
            target.parent.mkdir(parents=True, exist_ok=True)
            content = entry["content"]
            if entry.get("encoding") == "gz+b64":  # as cloud-init's write_files decodes it
                content = gzip.decompress(base64.b64decode(content)).decode()
            target.write_text(content)
            target.chmod(int(entry["permissions"], 8))
        self.path("/home/openclaw/.openclaw").chmod(0o700)
        # cloud-init's users module writes the administrator's keys (not write_files).
        keys = self.path(f"/home/{settings.admin_user}/.ssh/authorized_keys")
        keys.parent.mkdir(parents=True, exist_ok=True)
        keys.write_text(app_files.admin_authorized_keys(inst.spec.ssh_keys))
        self.switch_version(inst.spec.openclaw_version or "")
        (self.root / "ports.json").write_text(json.dumps(self.ports))
        if self.restart_always:
            (self.root / "restart-always").touch()
        (self.root / "unit.env").write_text(
            f"{self.node} {self.current}/openclaw.mjs gateway --port {self.ports['gateway']}\n"
        )
        # The unit's Environment= lines (openclaw-gateway.service.tmpl), those that hold outside systemd.
        (self.root / "unit-environment").write_text(
            "OPENCLAW_DISABLE_BONJOUR=1\nOPENCLAW_NO_AUTO_UPDATE=1\nOPENCLAW_NO_RESPAWN=1\n"
            "OPENCLAW_SERVICE_REPAIR_POLICY=external\n"
        )
        self._write_admin_wrapper()
        self._write_agent_settings()
        self._write_sshd_config()

    def switch_version(self, version: str) -> None:
        target = self.realapp / f"openclaw-{version}/node_modules/openclaw"
        tmp = self.root / ".current-new"
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, self.current)

    def _write_admin_wrapper(self) -> None:
        """openclaw-admin.sh.tmpl's job (the CLI with the token from the root-only file) at test paths."""
        wrapper = self.root / "bin/openclaw-admin"
        wrapper.parent.mkdir(exist_ok=True)
        env_file = self.path(app_files.GATEWAY_ENV_FILE)
        wrapper.write_text(
            "#!/bin/sh\nset -eu\nset -a\n"
            f"if [ -f {env_file} ]; then . {env_file}; fi\n"
            "set +a\n"
            f"cd {self.home}\n"
            f"export HOME={self.home} OPENCLAW_GATEWAY_PORT={self.ports['gateway']}\n"
            f'exec {self.node} {self.current}/openclaw.mjs "$@"\n'
        )
        wrapper.chmod(0o755)

    def _write_agent_settings(self) -> None:
        settings = json.loads(self.path(app_files.AGENT_SETTINGS_PATH).read_text())
        for spec in settings["files"].values():
            spec["path"] = str(self.path(spec["path"]))
            spec.pop("owner", None)  # everything here belongs to root
        for name in ("lock", "stateFile", "backupDir", "stateDir"):
            settings[name] = str(self.path(settings[name]))
        settings["gatewayUser"] = "root"
        settings["gatewayPort"] = self.ports["gateway"]
        service = [sys.executable, str(HERE / "service.py"), str(self.root)]
        settings["commands"].update(
            {
                "openclaw": [str(self.root / "bin/openclaw-admin")],
                "restartGateway": [*service, "restart"],
                "stopGateway": [*service, "stop"],
                "startGateway": [*service, "start"],
                "gatewayLog": [*service, "log"],
                "gatewayRunning": [*service, "running"],
                "reloadProxy": [sys.executable, str(HERE / "proxy.py"), str(self.root), "reload"],
                "installedVersion": [str(self.node), "-p", f"require('{self.current}/package.json').version"],
                "installOpenclaw": [
                    sys.executable,
                    "-c",
                    "import sys; sys.path.insert(0, sys.argv[1]); import server; "
                    "server.switch(sys.argv[2], sys.argv[3], sys.argv[4])",
                    str(HERE),
                    str(self.root),
                    str(self.realapp),
                    "{version}",
                ],
            }
        )
        self.agent_settings = self.root / "agent.json"
        self.agent_settings.write_text(json.dumps(settings, indent=2))

    def _write_sshd_config(self) -> None:
        host_key = self.root / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        self.host_key = " ".join(host_key.with_suffix(".pub").read_text().split()[:2])
        keys = self.path(app_files.AGENT_KEYS_PATH)  # rendered by the bootstrap: restrict,from=... <key>
        command = f"{sys.executable} {self.path(app_files.AGENT_PATH)} --settings {self.agent_settings}"
        Path("/run/sshd").mkdir(exist_ok=True)
        (self.root / "sshd_config").write_text(
            f"Port {self.ports['ssh']}\nListenAddress {self.address}\nHostKey {host_key}\n"
            f"PidFile {self.root / 'sshd.pid'}\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            f"AllowUsers {self.login}\nAuthorizedKeysFile none\n"
            + app_files.agent_sshd_block(agent_user=self.login, command=command, keys_file=str(keys))
        )

    # --- processes -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.sshd = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.root / "sshd_config")],
            stderr=(self.root / "sshd.log").open("wb"),
            env=self._sshd_environment(),
        )
        subprocess.run([sys.executable, str(HERE / "service.py"), str(self.root), "start"], check=True)
        subprocess.run([sys.executable, str(HERE / "proxy.py"), str(self.root), "reload"], check=True)
        self.wait_ready()

    def _sshd_environment(self) -> dict[str, str] | None:
        if self.login == "root":
            return None
        passwd = self.root / "passwd"
        entry = f"{self.login}:x:0:0:the agent's login, uid 0 for the test:/root:/bin/sh\n"
        passwd.write_text(Path("/etc/passwd").read_text() + entry)
        return {
            **os.environ,
            "LD_PRELOAD": NSS_WRAPPER,
            "NSS_WRAPPER_PASSWD": str(passwd),
            "NSS_WRAPPER_GROUP": "/etc/group",
        }

    def stop(self) -> None:
        subprocess.run([sys.executable, str(HERE / "service.py"), str(self.root), "stop"], check=False)
        subprocess.run([sys.executable, str(HERE / "proxy.py"), str(self.root), "stop"], check=False)
        if self.sshd is not None:
            self.sshd.send_signal(signal.SIGTERM)
            self.sshd.wait(10)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.http("GET", "/readyz")[0] == 200:
                return
            time.sleep(1)
        raise AssertionError("gateway not ready:\n" + (self.root / "gateway.log").read_text()[-3000:])

    # --- looking at the running server ---------------------------------------------------------------
    def http(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, str]:
        """Straight to the gateway on loopback, as the agent's checks do (no proxy headers)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports['gateway']}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "content-type": "application/json",
                **({"authorization": f"Bearer {token}"} if token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (http to loopback)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError as exc:
            return 0, str(exc)

    def token_accepted(self, token: str) -> bool:
        status, _ = self.http("POST", "/tools/invoke", token, {"tool": "sessions_list", "args": {}})
        assert status in (200, 401), status
        return status == 200

    def gateway_config(self) -> dict[str, Any]:
        """The running gateway's own view (config.get over loopback with the current token)."""
        return self.gateway_call("config.get")

    def gateway_call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One method of the running gateway (`openclaw gateway call` over loopback, the current token)."""
        command = [str(self.root / "bin/openclaw-admin"), "gateway", "call", method, "--json"]
        if params is not None:
            command += ["--params", json.dumps(params), "--timeout", "60000"]
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
        return dict(json.loads(done.stdout))

    def device_connect(self, token: str, identity: Path, origin: str) -> dict[str, Any]:
        """A remote client with a device identity of its own (device_client.mjs) tries to connect."""
        package = self.current.resolve()  # ws is beside it in the release's node_modules
        done = subprocess.run(
            [str(self.node), str(HERE / "device_client.mjs"), str(package), str(self.ports["gateway"]), token,
             str(identity), origin],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))

    def starts(self) -> int:
        """How many times the gateway was started (service.py appends one line per start)."""
        return len((self.root / "starts").read_text().split())

    @contextlib.contextmanager
    def watch_gateways(self, seen: list[int]) -> Iterator[None]:
        """Sample how many gateways run for this server, every 0.1 s, while the block runs."""
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                seen.append(len(self.gateway_pids()))
                time.sleep(0.1)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def gateway_environment(self) -> str:
        (pid,) = self.gateway_pids()
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode()

    def proxy_serves(self, hostname: str) -> bool:
        """HTTPS through Caddy with this name as SNI and Host, trusting Caddy's local CA."""
        context = ssl.create_default_context(
            cafile=str(self.root / "caddy-data/pki/authorities/local/root.crt")
        )
        try:
            with (
                socket.create_connection(("127.0.0.1", self.ports["https"]), timeout=10) as raw,
                context.wrap_socket(raw, server_hostname=hostname) as tls,
            ):
                tls.sendall(
                    f"GET /healthz HTTP/1.1\r\nHost: {hostname}\r\nConnection: close\r\n\r\n".encode()
                )
                head = tls.recv(64).decode(errors="replace")
        except (ssl.SSLError, OSError):
            return False
        return head.startswith("HTTP/1.1 200")

    def gateway_pids(self) -> list[int]:
        """Every gateway running for this server: top processes with its HOME (the gateway has helper
        children) that run `gateway --port` or carry the title the gateway gives itself."""
        home = f"HOME={self.home}".encode()
        mine: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if home in environ:
                mine[int(entry.name)] = parent
        return sorted(pid for pid, parent in mine.items() if parent not in mine and _is_gateway(pid))


def _is_gateway(pid: int) -> bool:
    """The gateway's command line, before and after it renames its process title (not a CLI call)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return command.startswith("openclaw-gateway") or " gateway --port " in command


def switch(root: str, realapp: str, version: str) -> None:
    """installOpenclaw's stand-in: refuses a version tests/realapp did not install, like npm would."""
    target = Path(realapp) / f"openclaw-{version}/node_modules/openclaw"
    if not (target / "package.json").exists():
        raise SystemExit(f"npm error notarget No matching version found for openclaw@{version}")
    current = Path(root) / "current-openclaw"
    tmp = Path(root) / ".current-new"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, current)

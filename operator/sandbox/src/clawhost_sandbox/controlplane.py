"""A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager.

The binaries are built from Go modules by `tests/controlplane/build.sh` (envtest style: no nodes). The
tests, the sandbox and `clawhost-sandbox controlplane up` all start it through `ControlPlane`, so there is
one place that knows the flags. Children get a parent-death signal, so even a SIGKILLed test run leaves no
etcd or apiserver behind; detached mode (the CLI) records PIDs in the directory instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

_PR_SET_PDEATHSIG = 1
CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
)


class ControlPlaneError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach a cluster: ours on loopback, or an existing one named by a kubeconfig."""

    server: str
    ca_file: Path | None
    kubeconfig: Path
    bin_dir: Path
    token: str | None = None
    client_cert: tuple[str, str] | None = None

    @property
    def kubectl_path(self) -> str:
        candidate = self.bin_dir / "kubectl"
        return str(candidate) if candidate.exists() else "kubectl"

    def session(self, token: str | None = None) -> requests.Session:
        session = requests.Session()
        session.verify = str(self.ca_file) if self.ca_file else True
        bearer = token or self.token
        if bearer:
            session.headers["Authorization"] = f"Bearer {bearer}"
        elif self.client_cert:
            session.cert = self.client_cert
        return session

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float = 30,
    ) -> requests.Response:
        with self.session(token) as session:
            # Pass verify explicitly: requests lets REQUESTS_CA_BUNDLE override a session's CA otherwise.
            return session.request(
                method, self.server + path, json=json, headers=headers, timeout=timeout, verify=session.verify
            )

    def wait_crd_established(self, name: str, timeout: float = 60) -> None:
        """Until the CRD `name` has condition Established=True. Not `kubectl wait --for=condition=...`:
        asked before the apiserver has written the CRD's first status, it fails at once (`.status.conditions
        accessor error: <nil>`) instead of waiting, which a CI run of `make sandbox` hit."""
        path = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.request("GET", path)
            conditions = ((answer.json().get("status") or {}).get("conditions") or []) if answer.ok else []
            if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
                return
            time.sleep(0.2)
        raise TimeoutError(f"CRD {name} was not Established within {timeout:.0f} s")

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result


def find_repo_root(start: Path | None = None) -> Path:
    for candidate in [start or Path.cwd(), *Path(__file__).resolve().parents]:
        for path in [candidate, *candidate.parents]:
            if (path / "tests" / "controlplane" / "build.sh").exists():
                return path
    raise ControlPlaneError(
        "cannot find the repository (tests/controlplane/build.sh) to build the control plane"
    )


def ensure_binaries() -> Path:
    """The directory holding etcd, kube-apiserver, kube-controller-manager, kubectl and helm.

    `CLAWHOST_CONTROLPLANE_BIN` names a ready directory; otherwise the build script builds (or finds cached)
    binaries, which takes minutes only the first time on a machine.
    """
    preset = os.environ.get("CLAWHOST_CONTROLPLANE_BIN")
    if preset:
        return Path(preset)
    script = find_repo_root() / "tests" / "controlplane" / "build.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ControlPlaneError(f"control-plane build failed:\n{result.stderr[-4000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def die_with_parent() -> None:
    # Runs in the child between fork and exec: if the process that started us dies, even by SIGKILL,
    # the kernel sends us SIGKILL too, so an interrupted test run leaves nothing behind.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def write_pki(pki: Path) -> None:
    """A CA, a serving certificate for 127.0.0.1/localhost, and the service-account signing key pair."""
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", "/CN=clawhost-ca",
             "-keyout", str(pki / "ca.key"), "-out", str(pki / "ca.crt"))  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
             "-keyout", str(pki / "apiserver.key"), "-out", str(pki / "apiserver.csr"))  # fmt: skip
    (pki / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n"
        "extendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", str(pki / "apiserver.csr"), "-CA", str(pki / "ca.crt"),
             "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-days", "3650",
             "-extfile", str(pki / "san.ext"), "-out", str(pki / "apiserver.crt"))  # fmt: skip
    _openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    _openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))
    for key in pki.glob("*.key"):
        key.chmod(0o600)


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str, user: str = "admin") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "clawhost", "cluster": {"server": server, "certificate-authority": str(ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "clawhost", "context": {"cluster": "clawhost", "user": user}}],
        "current-context": "clawhost",
    }
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)


class ControlPlane:
    """etcd + kube-apiserver (+ kube-controller-manager) in `directory`, on free loopback ports."""

    def __init__(self, directory: Path, *, controller_manager: bool = True, detached: bool = False) -> None:
        self.directory = directory
        self.controller_manager = controller_manager
        self.detached = detached
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._argv: dict[str, list[str]] = {}
        self._logs: list[IO[bytes]] = []
        self.access: ClusterAccess | None = None

    def start(self, timeout: float = 180) -> ClusterAccess:
        bin_dir = ensure_binaries()
        self.directory.mkdir(parents=True, exist_ok=True)
        pki = self.directory / "pki"
        write_pki(pki)
        token = secrets.token_hex(24)
        (self.directory / "tokens.csv").write_text(f'{token},admin,admin-uid,"system:masters"\n')
        (self.directory / "tokens.csv").chmod(0o600)
        etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
        server = f"https://127.0.0.1:{api_port}"
        kubeconfig = self.directory / "kubeconfig"
        write_kubeconfig(kubeconfig, server, pki / "ca.crt", token)
        self.access = ClusterAccess(server, pki / "ca.crt", kubeconfig, bin_dir, token=token)
        try:
            self._spawn("etcd", [
                str(bin_dir / "etcd"), f"--data-dir={self.directory / 'etcd'}", "--name=clawhost",
                f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=clawhost=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync", "--log-level=error",
            ])  # fmt: skip
            self._spawn("kube-apiserver", [
                str(bin_dir / "kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
                f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}", f"--cert-dir={pki}",
                "--authorization-mode=RBAC", f"--token-auth-file={self.directory / 'tokens.csv'}",
                f"--service-account-issuer={server}", f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true",
                "--enable-priority-and-fairness=false", "--profiling=false", "-v=0",
                # No Service endpoints on loopback: the "kubernetes" Service is not needed here.
                "--endpoint-reconciler-type=none",
            ])  # fmt: skip
            self._wait_ready(timeout)
            if self.controller_manager:
                self._spawn("kube-controller-manager", [
                    str(bin_dir / "kube-controller-manager"), f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1", "--secure-port=0", "--leader-elect=false",
                    f"--controllers={','.join(CONTROLLERS)}", "--use-service-account-credentials=false",
                    f"--service-account-private-key-file={pki / 'sa.key'}",
                    f"--root-ca-file={pki / 'ca.crt'}",
                    "--concurrent-gc-syncs=5", "-v=0",
                ])  # fmt: skip
        except BaseException:
            self.stop()
            raise
        self._write_state()
        return self.access

    def _spawn(self, name: str, argv: list[str]) -> None:
        self._argv[name] = argv
        log = (self.directory / f"{name}.log").open("ab")
        self._logs.append(log)
        self.processes[name] = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.directory,
            # Ctrl-C in a terminal reaches us, not our children; we stop them in order.
            start_new_session=True,
            preexec_fn=None if self.detached else die_with_parent,
        )

    def restart(self, name: str, timeout: float = 60) -> None:
        """Stop one component and start it again with the same flags, ports and data (fault tests)."""
        process = self.processes.pop(name)
        terminate(process.pid, wait=process.wait)
        self._spawn(name, self._argv[name])
        if name == "kube-apiserver":
            self._wait_ready(timeout)
        self._write_state()

    def _wait_ready(self, timeout: float) -> None:
        assert self.access is not None
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    tail = (self.directory / f"{name}.log").read_text(errors="replace")[-3000:]
                    raise ControlPlaneError(f"{name} exited with {process.returncode}:\n{tail}")
            try:
                response = self.access.request("GET", "/readyz", timeout=5)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:500]}"
            except requests.RequestException as error:
                last = type(error).__name__
            time.sleep(0.3)
        raise ControlPlaneError(f"kube-apiserver not ready after {timeout:.0f}s: {last}")

    def _write_state(self) -> None:
        assert self.access is not None
        state = {
            "pids": {name: process.pid for name, process in self.processes.items()},
            "server": self.access.server,
            "kubeconfig": str(self.access.kubeconfig),
            "bin_dir": str(self.access.bin_dir),
        }
        (self.directory / "controlplane.json").write_text(json.dumps(state, indent=2))

    def pids(self) -> list[int]:
        return [process.pid for process in self.processes.values()]

    def stop(self) -> None:
        # Reverse order: the controller manager and apiserver first, etcd last, so nothing logs errors about
        # a store that vanished under it.
        for name in reversed(list(self.processes)):
            terminate(self.processes[name].pid, wait=self.processes[name].wait)
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "controlplane.json").unlink()


def terminate(pid: int, wait: Callable[..., Any] | None = None, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; quiet if the process is already gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if wait is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                wait(timeout=0.1)
                return
        elif not pid_alive(pid):
            return
        else:
            time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if wait is not None:
        wait()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        # A zombie (exited, not yet reaped by its parent) counts as gone.
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


def stop_detached(directory: Path) -> list[int]:
    """Stops a control plane started with `detached=True` in `directory`; returns the PIDs it stopped."""
    state_file = directory / "controlplane.json"
    if not state_file.exists():
        return []
    pids: dict[str, int] = json.loads(state_file.read_text())["pids"]
    for pid in reversed(list(pids.values())):
        terminate(pid)
    state_file.unlink()
    return list(pids.values())


def existing_cluster_access(kubeconfig: Path) -> ClusterAccess:
    """Reads the current context of a kubeconfig (token or client-certificate users) for the test suite."""
    import base64
    import tempfile

    import yaml

    config = yaml.safe_load(kubeconfig.read_text())
    context_name = config["current-context"]
    context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    workdir = Path(tempfile.mkdtemp(prefix="clawhost-kube-"))

    def materialize(data_key: str, file_key: str, source: dict[str, Any], name: str) -> str | None:
        if source.get(file_key):
            return str(source[file_key])
        if source.get(data_key):
            target = workdir / name
            target.write_bytes(base64.b64decode(source[data_key]))
            target.chmod(0o600)
            return str(target)
        return None

    ca = materialize("certificate-authority-data", "certificate-authority", cluster, "ca.crt")
    cert = materialize("client-certificate-data", "client-certificate", user, "client.crt")
    key = materialize("client-key-data", "client-key", user, "client.key")
    bin_dir = Path(os.environ.get("CLAWHOST_CONTROLPLANE_BIN", "/nonexistent"))
    return ClusterAccess(
        server=cluster["server"].rstrip("/"),
        ca_file=Path(ca) if ca else None,
        kubeconfig=kubeconfig,
        bin_dir=bin_dir,
        token=user.get("token"),
        client_cert=(cert, key) if cert and key else None,
    )


@contextlib.contextmanager
def running_control_plane(directory: Path) -> Iterator[ClusterAccess]:
    plane = ControlPlane(directory)
    try:
        yield plane.start()
    finally:
        plane.stop()

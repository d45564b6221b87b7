"""`clawhost-sandbox up|down`: the whole system on simulated clouds, in one command.

`up` starts a real control plane (etcd, kube-apiserver, kube-controller-manager), both provider simulators
(realistic latencies, time-scaled), and the operator as a subprocess; installs the CRD; grants WHMCS-style
access through the Helm chart; applies the examples; and shows a live table until every instance is Ready.
Ctrl-C stops everything. `up --detach` runs the same supervisor in the background, waits until it is
ready, writes `<dir>/env` (shell-sourceable) and returns; `down` stops it and everything it started.

Every child dies with the supervisor (parent-death signal), so even a killed sandbox leaves nothing running.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import requests
import yaml

from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.controlplane import (
    ClusterAccess,
    ControlPlane,
    die_with_parent,
    find_repo_root,
    free_port,
    pid_alive,
    terminate,
)
from clawhost_sandbox.gateways import Gateways
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.realapp import RealAppUnavailable, install
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread
from openclaw_operator.api import GROUP, KIND, PLURAL, VERSION

STATE_FILE, ENV_FILE, SUMMARY_FILE, LOG_FILE = "sandbox.json", "env", "summary.txt", "sandbox.log"
WHMCS_ACCOUNT = "whmcs-openclaw"


class Stop(Exception):
    """SIGTERM (from `sandbox down`) or Ctrl-C: leave the watch loop and clean up."""


# --- pure parts: what to create, what to show -------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    name: str
    phase: str
    ready: str
    ip: str
    hostname: str
    elapsed: float

    @property
    def is_ready(self) -> bool:
        return self.ready == "True"


def _condition(item: Mapping[str, Any], type_: str) -> Mapping[str, Any]:
    conditions = (item.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == type_), {})


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def rows(items: Iterable[Mapping[str, Any]], now: float) -> list[Row]:
    """One table row per instance; elapsed runs from creation until Ready (or until now)."""
    table = []
    for item in items:
        meta, status, ready = item["metadata"], item.get("status") or {}, _condition(item, "Ready")
        done = ready.get("status") == "True" and ready.get("lastTransitionTime")
        end = _timestamp(ready["lastTransitionTime"]) if done else now
        table.append(
            Row(
                name=f"{meta.get('namespace', 'default')}/{meta['name']}",
                phase=status.get("phase") or "-",
                ready=ready.get("status") or "-",
                ip=status.get("ipv4") or "-",
                hostname=item.get("spec", {}).get("hostname", "-"),
                elapsed=max(0.0, end - _timestamp(meta["creationTimestamp"])),
            )
        )
    return sorted(table, key=lambda row: row.name)


def render_table(table: list[Row]) -> str:
    header = ("NAME", "PHASE", "READY", "IP", "HOSTNAME", "ELAPSED")
    lines = [header] + [(r.name, r.phase, r.ready, r.ip, r.hostname, f"{r.elapsed:.0f}s") for r in table]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def zones_for(instances: Iterable[Mapping[str, Any]]) -> list[str]:
    """The Cloudflare zones the examples need: their dns.zone, or the hostname's registrable domain."""
    zones = set()
    for instance in instances:
        spec = instance["spec"]
        zone = (spec.get("dns") or {}).get("zone") or ".".join(spec["hostname"].split(".")[-2:])
        zones.add(zone.lower())
    return sorted(zones)


def missing_secrets(documents: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(namespace, name, key) of gateway-token Secrets the instances reference but the examples lack."""
    present = {(d["metadata"].get("namespace", "default"), d["metadata"]["name"]) for d in documents
               if d.get("kind") == "Secret"}  # fmt: skip
    needed = []
    for doc in documents:
        if doc.get("kind") != KIND:
            continue
        ref = doc["spec"]["gatewayTokenSecretRef"]
        place = (doc["metadata"].get("namespace", "default"), ref["name"])
        if place not in present:
            needed.append((*place, ref.get("key", "token")))
    return needed


def env_text(values: Mapping[str, str]) -> str:
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in values.items())


# --- the running sandbox ---------------------------------------------------------------------------------
@dataclass
class Sandbox:
    directory: Path
    access: ClusterAccess
    hetzner: HetznerSimulator
    cloudflare: CloudflareSimulator
    operator: subprocess.Popen[bytes]
    env: dict[str, str]
    plane_pids: list[int]
    gateways: Gateways | None = None  # None: the simulator's stand-in app (--app stand-in)

    def instances(self) -> list[dict[str, Any]]:
        response = self.access.request("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}")
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def state(self, phase: str) -> dict[str, Any]:
        pids = {"sandbox": os.getpid(), "operator": self.operator.pid}
        return {"phase": phase, "pids": pids, "controlplane_pids": self.plane_pids}


def _write(path: Path, text: str, mode: int = 0o600) -> None:
    path.write_text(text)
    path.chmod(mode)


def _kubectl(access: ClusterAccess, *args: str, input: str | None = None) -> str:
    return access.kubectl(*args, input=input).stdout


def _example_documents(access: ClusterAccess, examples: Path) -> list[dict[str, Any]]:
    if (examples / "kustomization.yaml").exists():
        text = _kubectl(access, "kustomize", str(examples))
    else:
        text = "\n---\n".join(path.read_text() for path in sorted(examples.glob("*.yaml")))
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _create_namespaces(access: ClusterAccess, documents: list[dict[str, Any]]) -> None:
    for namespace in sorted({d["metadata"].get("namespace", "default") for d in documents}):
        access.request("POST", "/api/v1/namespaces", json={"metadata": {"name": namespace}})


def _apply_examples(access: ClusterAccess, documents: list[dict[str, Any]]) -> None:
    for namespace, name, key in missing_secrets(documents):
        token = base64.b64encode(secrets.token_urlsafe(32).encode()).decode()
        secret = {"metadata": {"name": name}, "type": "Opaque", "data": {key: token}}
        access.request("POST", f"/api/v1/namespaces/{namespace}/secrets", json=secret)
    _kubectl(access, "apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(documents))


def _install_crd(access: ClusterAccess, repo: Path) -> None:
    _kubectl(access, "apply", "--server-side", "-f", str(repo / "crds" / "openclawinstances.yaml"))
    access.wait_crd_established(f"{PLURAL}.{GROUP}")
    _until(lambda: access.request("GET", f"/apis/{GROUP}/{VERSION}/{PLURAL}").ok, 30, "the CRD to be served")


def _whmcs_token(access: ClusterAccess, repo: Path, namespace: str) -> str:
    """WHMCS access exactly as the Helm chart grants it, and the long-lived token the module would use."""
    rendered = subprocess.run(
        [str(access.bin_dir / "helm"), "template", "sandbox", str(repo / "charts" / "openclaw-operator"),
         "--namespace", namespace, "--show-only", "templates/whmcs-access.yaml",
         "--set", "whmcs.enabled=true", "--set", f"whmcs.serviceAccountName={WHMCS_ACCOUNT}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    _kubectl(access, "apply", "--server-side", "-f", "-", input=rendered)
    path = f"/api/v1/namespaces/{namespace}/secrets/{WHMCS_ACCOUNT}-token"
    found: list[str] = []

    def filled() -> bool:
        data = access.request("GET", path).json().get("data") or {}
        found[:] = [base64.b64decode(data.get("token", "")).decode()]
        return bool(found[0])

    _until(filled, 30, "the WHMCS token")
    return found[0]


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if check():
                return
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}")


def _start_operator(
    directory: Path, env: Mapping[str, str], gateways: Gateways | None
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "openclaw_operator.cli", "run"]
    if gateways is not None:
        hosts = str(gateways.hosts_file)
        command = [sys.executable, "-m", "clawhost_sandbox.named_operator", "--hosts", hosts, "run"]
    with (directory / "operator.log").open("ab") as log:
        return subprocess.Popen(
            command,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=directory,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the operator in order
            preexec_fn=die_with_parent,
        )


def start(
    directory: Path, examples: Path, time_scale: float, stack: contextlib.ExitStack, app: str = "real"
) -> Sandbox:
    """Everything, in dependency order; `stack` stops it all in reverse order. `app`: "real" runs the
    real OpenClaw gateway behind Caddy for every running server (clawhost_sandbox.gateways), "stand-in"
    the Hetzner simulator's health endpoint instead."""
    repo = find_repo_root(Path(__file__).parent)
    installation = None
    if app == "real":
        try:
            installation = install()
        except RealAppUnavailable as error:
            raise RuntimeError(
                f"{error}\n(`--app stand-in` runs the sandbox without the real app)"
            ) from error
    shutil.rmtree(directory / "controlplane", ignore_errors=True)  # a fresh cluster for fresh simulators
    plane = ControlPlane(directory / "controlplane")
    stack.callback(plane.stop)
    access = plane.start()
    _install_crd(access, repo)
    documents = _example_documents(access, examples)
    _create_namespaces(access, documents)
    instances = [d for d in documents if d.get("kind") == KIND]
    zones = zones_for(instances)
    namespace = next((d["metadata"].get("namespace", "default") for d in instances), "default")

    tokens = {"hetzner": secrets.token_hex(24), "cloudflare": secrets.token_hex(24)}
    clock = SimClock(time_scale=time_scale)
    hetzner = HetznerSimulator(token=tokens["hetzner"], clock=clock, latency=LatencyModel.realistic())
    cloudflare = CloudflareSimulator(
        token=tokens["cloudflare"], zones=zones, clock=clock, latency=LatencyModel.realistic()
    )
    stack.enter_context(SimulatorThread(hetzner, cloudflare))
    gateways = None
    if installation is not None:
        gateways = Gateways(hetzner, installation, directory / "realapp")
        stack.callback(gateways.close)
        gateways.start()
    app_env = (
        # The operator's own default probe, https://{hostname}/readyz, through each server's Caddy.
        {"SSL_CERT_FILE": str(gateways.ca_bundle)}
        if gateways is not None
        else {"CLAWHOST_APP_HEALTH_URL": hetzner.base_url + "/_sim/app/{server_id}/healthz"}
    )

    secret_dir = directory / "secrets"
    secret_dir.mkdir(mode=0o700, exist_ok=True)
    _write(secret_dir / "hcloud-token", tokens["hetzner"])
    _write(secret_dir / "cloudflare-api-token", tokens["cloudflare"])
    metrics_port, health_port = free_port(), free_port()
    operator = _start_operator(
        directory,
        {
            "KUBECONFIG": str(access.kubeconfig),
            "HCLOUD_TOKEN_FILE": str(secret_dir / "hcloud-token"),
            "HCLOUD_ENDPOINT": hetzner.url,
            "CLOUDFLARE_API_TOKEN_FILE": str(secret_dir / "cloudflare-api-token"),
            "CLOUDFLARE_BASE_URL": cloudflare.url,
            "CLAWHOST_MANAGED_ZONES": ",".join(zones),
            **app_env,
            # Simulated time runs `time_scale` times faster; keep the operator's polling in proportion.
            "CLAWHOST_RESYNC_INTERVAL_SECONDS": str(max(5.0, 100 / time_scale)),
            "CLAWHOST_ACTION_POLL_SECONDS": "0.5",
            "CLAWHOST_SHUTDOWN_TIMEOUT_SECONDS": str(max(5.0, 120 / time_scale)),
            "CLAWHOST_METRICS_PORT": str(metrics_port),
            "CLAWHOST_HEALTH_PORT": str(health_port),
            "CLAWHOST_LISTEN_ADDRESS": "127.0.0.1",
        },
        gateways,
    )
    stack.callback(terminate, operator.pid, operator.wait, 20)

    def healthy() -> bool:
        if operator.poll() is not None:
            log = (directory / "operator.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the operator exited with {operator.returncode}:\n{log}")
        return requests.get(f"http://127.0.0.1:{health_port}/healthz", timeout=2).ok

    _until(healthy, 60, "the operator's liveness endpoint")
    whmcs_token = _whmcs_token(access, repo, namespace)
    _apply_examples(access, documents)
    assert access.ca_file is not None
    env = {
        "KUBECONFIG": str(access.kubeconfig),
        "HCLOUD_ENDPOINT": hetzner.url,
        "HCLOUD_TOKEN": tokens["hetzner"],
        "CLOUDFLARE_BASE_URL": cloudflare.url,
        "CLOUDFLARE_API_TOKEN": tokens["cloudflare"],
        "CLAWHOST_MANAGED_ZONES": ",".join(zones),
        "WHMCS_API_SERVER": access.server,
        "WHMCS_NAMESPACE": namespace,
        "WHMCS_TOKEN": whmcs_token,
        "WHMCS_CA_FILE": str(access.ca_file),
        "OPERATOR_METRICS_URL": f"http://127.0.0.1:{metrics_port}/metrics",
        "OPERATOR_PID": str(operator.pid),
        "SANDBOX_PID": str(os.getpid()),
        "CLAWHOST_BIN_DIR": str(access.bin_dir),
    }
    if gateways is not None:
        env["REALAPP_CA_FILE"] = str(gateways.ca.certificate)
        env["REALAPP_HOSTS_FILE"] = str(gateways.hosts_file)
    _write(directory / ENV_FILE, env_text(env))
    return Sandbox(directory, access, hetzner, cloudflare, operator, env, plane.pids(), gateways)


def summary(sandbox: Sandbox, table: list[Row]) -> str:
    env = sandbox.env
    ns, name = table[0].name.split("/") if table else ("default", "alice")
    target = f"kubectl -n {ns} %s openclawinstance {name}"
    tries = [
        ("patch", '--type merge -p \'{"spec":{"suspended":true}}\'', "suspend: the server powers off"),
        ("patch", '--type merge -p \'{"spec":{"serverType":"cx33"}}\'', "resize"),
        ("annotate", f'--overwrite {GROUP}/reboot-requested-at="$(date +%s)"', "reboot"),
        ("delete", "", "delete: the server and DNS records go too"),
    ]
    return "\n".join([
        f"All {len(table)} instance(s) are Ready. Try, in another terminal:",
        f"  export KUBECONFIG={env['KUBECONFIG']} PATH={env['CLAWHOST_BIN_DIR']}:$PATH",
        "  kubectl get openclawinstances -A -o wide",
        *(f"  {target % verb} {extra}".rstrip() + f"   # {why}" for verb, extra, why in tries),
        f"Simulators: {sandbox.hetzner.base_url}/_sim/state, {sandbox.cloudflare.base_url}/_sim/state",
        f"Operator: {env['OPERATOR_METRICS_URL']}, log {sandbox.directory / 'operator.log'}",
        f"WHMCS: {env['WHMCS_API_SERVER']}, namespace {env['WHMCS_NAMESPACE']}, CA {env['WHMCS_CA_FILE']}",
        f"WHMCS token: {env['WHMCS_TOKEN']}",
        *gateway_lines(sandbox),
        f"All of this, shell-sourceable: {sandbox.directory / ENV_FILE}",
    ])  # fmt: skip


def gateway_lines(sandbox: Sandbox) -> list[str]:
    """Per instance, the URL its real gateway answers at, and how to reach it from this machine."""
    if sandbox.gateways is None:
        return ["Apps: the Hetzner simulator's stand-in (--app stand-in); no real gateways"]
    ca = sandbox.gateways.ca.certificate
    lines = [f"Gateways (the real OpenClaw behind Caddy; certificates from the sandbox CA {ca}):"]
    for gateway in sandbox.gateways.gateways():
        url, name = f"https://{gateway.hostname}/", gateway.hostname
        lines.append(
            f"  {url}  ->  curl --cacert {ca} --resolve {name}:443:{gateway.address} {url}"
            f"   (started in {gateway.started_seconds:.0f} s, RSS {gateway.rss_mb:.0f} MB)"
        )
    lines.append(
        "  (a browser: map each name to its address in /etc/hosts and trust the CA; the gateway's page loads,"
        " and the Control UI then asks for pairing)"
    )
    return lines


def watch(sandbox: Sandbox, until_ready: bool, timeout: float, live: bool) -> list[Row]:
    """The live table: redrawn in place on a terminal, printed on change otherwise."""
    deadline = time.monotonic() + timeout
    shown, drawn_lines = "", 0
    while True:
        if sandbox.operator.poll() is not None:
            raise RuntimeError(f"the operator exited with {sandbox.operator.returncode}; see operator.log")
        if sandbox.gateways is not None and (failed := sandbox.gateways.failures()):
            raise RuntimeError(f"a real gateway did not come up: {next(iter(failed.values()))}")
        table = rows(sandbox.instances(), time.time())
        text = render_table(table)
        changed = render_table([Row(**{**r.__dict__, "elapsed": 0.0}) for r in table])
        if live and drawn_lines:
            sys.stdout.write(f"\x1b[{drawn_lines}F\x1b[J")
        if live or changed != shown:
            print(text, flush=True)
            shown, drawn_lines = changed, text.count("\n") + 1
        if until_ready and table and all(row.is_ready for row in table):
            return table
        if until_ready and time.monotonic() > deadline:
            raise RuntimeError(f"not every example became Ready within {timeout:.0f}s")
        time.sleep(1.0)


# --- the CLI -----------------------------------------------------------------------------------------------
def configure_up(up: argparse.ArgumentParser) -> None:
    """`clawhost-sandbox up`: start the sandbox (Ctrl-C stops it; --detach for scripts)."""
    up.add_argument("--dir", type=Path, required=True, help="state directory: kubeconfig, logs, env, PIDs")
    up.add_argument("--examples", type=Path, required=True, help="folder of OpenClawInstance manifests")
    up.add_argument(
        "--detach", action="store_true", help="run in the background; stop with `clawhost-sandbox down`"
    )
    up.add_argument("--time-scale", type=float, default=10.0, help="simulated seconds per wall second")
    up.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for every example to be Ready"
    )
    up.add_argument(
        "--app", choices=("real", "stand-in"), default="real",
        help="real: the real OpenClaw gateway and Caddy per running server (installs them into a cache on "
        "first use); stand-in: the Hetzner simulator's health endpoint (the bench, machines without them)",
    )  # fmt: skip
    up.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the detached supervisor itself
    up.set_defaults(func=_up)


def configure_down(down: argparse.ArgumentParser) -> None:
    """`clawhost-sandbox down`: stop a detached sandbox and everything it started."""
    down.add_argument("--dir", type=Path, required=True, help="the directory given to `up`")
    down.set_defaults(func=_down)


def _read_state(directory: Path) -> dict[str, Any] | None:
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
        state: dict[str, Any] = json.loads((directory / STATE_FILE).read_text())
        return state
    return None


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


def _up(args: argparse.Namespace) -> int:
    directory: Path = args.dir.resolve()
    state = _read_state(directory)
    if state and pid_alive(state["pids"]["sandbox"]) and not args.serve:
        print(
            f"a sandbox is running (pid {state['pids']['sandbox']}); "
            f"stop it: clawhost-sandbox down --dir {args.dir}"
        )
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    if args.detach:
        return _detach(args, directory)
    return _serve(args, directory, live=sys.stdout.isatty() and not args.serve)


def _serve(args: argparse.Namespace, directory: Path, live: bool) -> int:
    """The supervisor: start everything, show progress until Ready, then wait for Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _raise_stop)
    # A process started in the background by a non-interactive shell (`make sandbox &`, CI scripts)
    # inherits SIGINT ignored, and Python then leaves it ignored: Ctrl-C would do nothing.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    state_file = directory / STATE_FILE
    _write(state_file, json.dumps({"phase": "starting", "pids": {"sandbox": os.getpid()}}))
    code = 0
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: print("sandbox: stopped everything", flush=True))
        try:
            print("sandbox: starting the control plane, the simulators and the operator ...", flush=True)
            sandbox = start(directory, args.examples.resolve(), args.time_scale, stack, args.app)
            _write(state_file, json.dumps(sandbox.state("starting")))
            print(f"sandbox: applied {args.examples}; waiting for every instance to be Ready", flush=True)
            table = watch(sandbox, until_ready=True, timeout=args.timeout, live=live)
            text = summary(sandbox, table)
            _write(directory / SUMMARY_FILE, text + "\n")
            _write(state_file, json.dumps(sandbox.state("ready")))
            print("\n" + text + "\n\nCtrl-C stops everything." if not args.serve else text, flush=True)
            watch(sandbox, until_ready=False, timeout=0, live=False)
        except (Stop, KeyboardInterrupt):
            print("\nsandbox: stopping ...", flush=True)
        except Exception as error:  # any start-up failure: report it plainly, then clean up
            print(f"sandbox: failed: {error}", flush=True)
            _write(state_file, json.dumps({"phase": "failed", "pids": {"sandbox": os.getpid()}}))
            code = 1
        finally:
            # A second Ctrl-C or SIGTERM must not cut the cleanup short and leave processes behind.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in (STATE_FILE, ENV_FILE):
        with contextlib.suppress(FileNotFoundError):
            if name != STATE_FILE or code == 0:
                (directory / name).unlink()
    return code


def _detach(args: argparse.Namespace, directory: Path) -> int:
    command = [sys.executable, "-m", "clawhost_sandbox.cli", "up", "--serve",
               "--dir", str(directory), "--examples", str(args.examples.resolve()),
               "--time-scale", str(args.time_scale), "--timeout", str(args.timeout),
               "--app", args.app]  # fmt: skip
    for name in (STATE_FILE, ENV_FILE, SUMMARY_FILE):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    with (directory / LOG_FILE).open("ab") as log:
        supervisor = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    print(
        f"sandbox: starting in the background (pid {supervisor.pid}, log {directory / LOG_FILE}) ...",
        flush=True,
    )
    deadline = time.monotonic() + args.timeout + 120
    while time.monotonic() < deadline:
        state = _read_state(directory) or {}
        if state.get("phase") == "ready":
            print((directory / SUMMARY_FILE).read_text(), end="")
            print(f"Stop it with: clawhost-sandbox down --dir {args.dir}", flush=True)
            return 0
        if supervisor.poll() is not None or state.get("phase") == "failed":
            with contextlib.suppress(subprocess.TimeoutExpired):
                supervisor.wait(timeout=60)  # it is cleaning up after itself
            break
        time.sleep(0.5)
    terminate(supervisor.pid, supervisor.wait, 30)
    tail = (directory / LOG_FILE).read_text(errors="replace")[-4000:]
    print(f"sandbox: did not come up:\n{tail}", flush=True)
    return 1


def _down(args: argparse.Namespace) -> int:
    directory: Path = args.dir.resolve()
    state = _read_state(directory)
    if state is None:
        print("sandbox: nothing is running")
        return 0
    pids: list[int] = [*state["pids"].values(), *state.get("controlplane_pids", [])]
    terminate(state["pids"]["sandbox"], grace=60)  # the supervisor stops its children in order
    for pid in pids:
        terminate(pid)  # anything that outlived it (normally nothing)
    for name in (STATE_FILE, ENV_FILE):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
    survivors = [pid for pid in pids if pid_alive(pid)]
    print(
        f"sandbox: stopped ({len(pids)} processes)"
        if not survivors
        else f"sandbox: still running: {survivors}"
    )
    return 0 if not survivors else 1

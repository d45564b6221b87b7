"""The image's exact command line starts the operator from a virtualenv built the way the Dockerfile builds
it: the Dockerfile's own COPY sources as the build context, a wheel of operator/, and the Dockerfile's own
`pip install` command (binary wheels only, constrained by the lock file) into a fresh virtualenv. The one
difference: wheels come from a local wheelhouse instead of the index (downloaded once per machine into
the cache, then offline). The same virtualenv, with nothing but itself on PATH, talks to a real sshd
through the channel (the image has no OpenSSH client: the channel's SSH is asyncssh).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.controlplane import ClusterAccess, free_port
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import LatencyModel, SimClock, SimulatorThread

from tests.channel.echo_sshd import echo_sshd, keygen
from tests.image.dockerfile import REPO_ROOT, parse, pip_install, shell_commands
from tests.image.wheelhouse import LOCK, pip, wheelhouse

IMAGE_VENV = "/opt/venv"  # where the Dockerfile builds its virtualenv


@dataclass(frozen=True)
class ImageVenv:
    root: Path
    command: list[str]  # the image's ENTRYPOINT + CMD, mapped into this virtualenv
    wheel: Path  # the wheel the Dockerfile's `pip wheel ./operator` built


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> ImageVenv:
    dockerfile = parse()
    build = dockerfile.stages[0]
    work = tmp_path_factory.mktemp("image")
    context = work / "src"  # the build stage's WORKDIR, filled by its COPY instructions
    for copy in build.all("COPY"):
        *sources, destination = copy.split()
        for source in sources:
            target = (
                context / destination / Path(source).name
                if destination.endswith("/")
                else context / destination
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(
                    REPO_ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
                )
            else:
                shutil.copy2(REPO_ROOT / source, target)
    wheels = wheelhouse()
    offline = ["--no-index", "--find-links", str(wheels)]
    python = Path(sys.executable)
    # The Dockerfile's `pip wheel` (with build isolation: the build backend comes from the wheelhouse).
    wheel_command = next(c for c in shell_commands(build) if c[1:4] == ["-m", "pip", "wheel"])
    wheel_dir = work / "wheels"
    pip(
        python,
        *[str(wheel_dir) if arg == "/wheels" else arg for arg in wheel_command[3:]],
        *offline,
        cwd=context,
    )
    built = list(wheel_dir.glob("openclaw_operator-*.whl"))
    assert len(built) == 1
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = pip_install(build)
    args = [built[0].as_posix() if arg.startswith("/wheels/") else arg for arg in install[2:]]
    pip(venv / "bin" / "python", "install", *args, *offline, cwd=context)
    pip(venv / "bin" / "python", "check")
    command = [part.replace(IMAGE_VENV, str(venv), 1) for part in dockerfile.command_line()]
    return ImageVenv(venv, command, built[0])


def locked() -> set[str]:
    lines = [line.strip() for line in LOCK.read_text().splitlines()]
    return {line.lower().replace("_", "-") for line in lines if line and not line.startswith("#")}


def test_virtualenv_holds_exactly_the_locked_versions(image_venv: ImageVenv) -> None:
    frozen = pip(image_venv.root / "bin" / "python", "freeze", "--exclude", "openclaw-operator")
    installed = {line.strip().lower().replace("_", "-") for line in frozen.splitlines() if line.strip()}
    assert installed == locked(), f"lock incomplete or stale: {sorted(installed ^ locked())}"


def test_package_comes_from_the_virtualenv_not_the_checkout(image_venv: ImageVenv, tmp_path: Path) -> None:
    probe = "import openclaw_operator.cli as m; print(m.__file__)"
    result = subprocess.run(
        [str(image_venv.root / "bin" / "python"), "-c", probe],
        capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, check=True,
    )  # fmt: skip
    assert Path(result.stdout.strip()).is_relative_to(image_venv.root)


def test_the_wheel_is_the_operator_only(image_venv: ImageVenv) -> None:
    """Simulators, the local control plane and the sandbox supervisor live in the development package
    (operator/sandbox, `clawhost_sandbox`): the production wheel carries none of them."""
    with zipfile.ZipFile(image_venv.wheel) as wheel:
        modules = [name for name in wheel.namelist() if name.endswith(".py")]
    assert "openclaw_operator/reconciler.py" in modules or "openclaw_operator/runner.py" in modules
    assert all(name.startswith("openclaw_operator/") for name in modules), modules
    dev_words = ("sandbox", "simulator", "_sim", "controlplane", "supervisor", "simcore", "simserver")
    assert [name for name in modules if any(word in name for word in dev_words)] == []
    missing = subprocess.run(
        [str(image_venv.root / "bin" / "python"), "-c", "import clawhost_sandbox"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert missing.returncode != 0 and "ModuleNotFoundError" in missing.stderr


def image_env(venv: Path, home: Path) -> dict[str, str]:
    """The environment the image sets (its ENV lines), with /opt/venv mapped to the test's virtualenv."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    for line in parse().final.all("ENV"):
        for assignment in line.split():
            name, _, value = assignment.partition("=")
            env[name] = value.replace("$PATH", env.get("PATH", "")).replace(IMAGE_VENV, str(venv))
    env["HOME"] = str(home)  # the chart mounts an emptyDir there
    return env


def test_entrypoint_help(image_venv: ImageVenv, tmp_path: Path) -> None:
    result = subprocess.run(
        [*image_venv.command, "--help"],
        capture_output=True, text=True, cwd=tmp_path, env=image_env(image_venv.root, tmp_path), timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "usage: openclaw-operator run" in result.stdout
    top = subprocess.run(
        [image_venv.command[0], "--help"],
        capture_output=True, text=True, cwd=tmp_path, env=image_env(image_venv.root, tmp_path), timeout=60,
        check=True,
    )  # fmt: skip
    offered = top.stdout.split("positional arguments:")[1].split("options:")[0]
    assert "run" in offered and "bootstrap" in offered
    assert all(word not in offered for word in ("sandbox", "sim ", "controlplane"))


@pytest.fixture
def simulators() -> Iterator[tuple[HetznerSimulator, CloudflareSimulator]]:
    clock = SimClock(time_scale=20)
    hetzner = HetznerSimulator(token="image-htoken", clock=clock, latency=LatencyModel.none())
    cloudflare = CloudflareSimulator(
        token="image-cftoken", zones=["example.com"], clock=clock, latency=LatencyModel.none()
    )
    with SimulatorThread(hetzner, cloudflare):
        yield hetzner, cloudflare


@pytest.mark.controlplane
def test_entrypoint_starts_the_operator_until_liveness_answers(
    image_venv: ImageVenv,
    cluster: ClusterAccess,
    namespace: str,
    simulators: tuple[HetznerSimulator, CloudflareSimulator],
    tmp_path: Path,
) -> None:
    hetzner, cloudflare = simulators
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "hcloud-token").write_text("image-htoken\n")
    (tokens / "cloudflare-api-token").write_text("image-cftoken\n")
    health, metrics = free_port(), free_port()
    env = image_env(image_venv.root, tmp_path) | {
        "KUBECONFIG": str(cluster.kubeconfig),
        # Configured as the chart configures it: tokens as mounted files, one watched namespace.
        "HCLOUD_TOKEN_FILE": str(tokens / "hcloud-token"),
        "CLOUDFLARE_API_TOKEN_FILE": str(tokens / "cloudflare-api-token"),
        "HCLOUD_ENDPOINT": hetzner.url,
        "CLOUDFLARE_BASE_URL": cloudflare.url,
        "CLAWHOST_MANAGED_ZONES": "example.com",
        "CLAWHOST_WATCH_NAMESPACES": namespace,
        "CLAWHOST_HEALTH_PORT": str(health),
        "CLAWHOST_METRICS_PORT": str(metrics),
        "CLAWHOST_LISTEN_ADDRESS": "127.0.0.1",
    }
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            image_venv.command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        answered = None
        while time.monotonic() < deadline and answered is None:
            assert process.poll() is None, "operator exited:\n" + log_path.read_text()
            try:
                answered = requests.get(f"http://127.0.0.1:{health}/healthz", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.3)
        assert answered is not None and answered.status_code == 200, log_path.read_text()[-3000:]
        exported = requests.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
        assert "clawhost_provider_requests_total" in exported
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert code == 0, f"operator did not stop cleanly ({code}):\n{log_path.read_text()[-3000:]}"
    assert "image-htoken" not in log_path.read_text() and "image-cftoken" not in log_path.read_text()


CHANNEL_PROBE = """import asyncio, json, shutil, sys
from openclaw_operator.providers.channel import ChannelClient, channel_public_key
key, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
client = ChannelClient(key, port=port, user=user, timeout=60)
answered = asyncio.run(client.call("127.0.0.1", None, {"op": "state"}))
pinned = asyncio.run(client.call("127.0.0.1", answered.host_key, {"op": "again"}))
print(json.dumps({"ssh": shutil.which("ssh"), "public_key": channel_public_key(key),
                  "host_key": answered.host_key, "answers": [answered.answer, pinned.answer]}))
"""


def test_the_channel_works_from_the_image_without_an_ssh_binary(
    image_venv: ImageVenv, tmp_path: Path
) -> None:
    """The image's virtualenv alone (no OpenSSH client on PATH) derives the public key from the one
    private key file the chart mounts, and talks to a real sshd through the production Match block,
    pinning the host key it saw first."""
    missing = [tool for tool in ("/usr/sbin/sshd", "ssh-keygen") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install openssh-server openssh-client)")
    key = keygen(tmp_path / "ssh-privatekey", "clawhost-operator")
    public_key = key.with_suffix(".pub").read_text().strip()
    key.with_suffix(".pub").unlink()  # as mounted from a kubernetes.io/ssh-auth Secret: no .pub beside it
    key.chmod(0o400)
    with echo_sshd(tmp_path, public_key) as sshd:
        env = image_env(image_venv.root, tmp_path) | {"PATH": str(image_venv.root / "bin")}
        python = str(image_venv.root / "bin" / "python")
        probe = subprocess.run(
            [python, "-c", CHANNEL_PROBE, str(key), str(sshd.port), sshd.user],
            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert probe.returncode == 0, probe.stderr + sshd.log.read_text()
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen["ssh"] is None  # nothing to fall back on: the client is the virtualenv's
    assert seen["public_key"] == public_key
    assert seen["host_key"] == sshd.host_key
    assert [answer["echo"] for answer in seen["answers"]] == [{"op": "state"}, {"op": "again"}]

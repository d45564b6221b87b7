"""Issue 15's crash acceptance for backups, operator to real gateway: the Kopf operator as the product runs
it (the `openclaw-operator run` subprocess, the real kube-apiserver, both simulators) with a channel key
and the real S3 server (versitygw), one ChannelServer (real sshd, the real agent, the real gateway)
standing in for each simulated server in turn, as in tests/channel/test_operator_e2e.py.

1. alice goes Ready, a device is paired (the data, persisted in the gateway's state), an on-demand
   backup is requested and the operator is SIGKILLed while the agent is making it. After a restart:
   one archive and its checksum in the bucket for alice's uid, one OnDemand entry in status.backups
   whose sha256 is that of the stored bytes, BackedUp=True, one server.
2. The mistaken cancel: a second device is paired after that backup, and alice is deleted without
   `clawhost.dev/skip-final-backup`. The agent takes a Final backup (a third `backup create`) before
   the server goes; the bucket then holds two archives of alice's uid, each with its checksum.
3. bob is created with spec.restoreFrom {instance: alice, backup: latest}, on a server that starts
   from nothing. The operator is SIGKILLed while the agent is swapping the state in. After a restart:
   the Final backup was chosen, both devices (the second exists only in the Final backup) are known to
   bob's gateway, status.restoredFrom is written once and no restore runs after it, no server or
   snapshot is left over, and no presigned URL, token or store secret is in Events, status or any
   operator's log.
4. The bucket sweep's ownership, with no grace (an operator restarted with
   CLAWHOST_BACKUP_FINAL_RETENTION_DAYS=0): every object of alice's deleted uid goes; an object of bob's
   live uid, a key of another shape under alice's uid and a key outside the operator's prefix stay.

The in-flight marker is the agent's own call of the real OpenClaw CLI (`backup create`, `backup
restore`), recorded by a pass-through wrapper around the CLI command in the agent's settings; the
test polls it and kills then, and asserts the kill landed while the call ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import time
from pathlib import Path
from typing import Any

import pytest

from openclaw_operator import api
from openclaw_operator.bootstrap.app_files import AGENT_USER
from openclaw_operator.providers.backup_store import StoredBackup
from openclaw_operator.reconcile.naming import INSTANCE_UID_LABEL
from tests.backup.support import fetch, put
from tests.channel.conftest import ADMIN_KEY
from tests.channel.server import NSS_WRAPPER, ChannelServer, instance
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import OperatorProcess, Stage, condition
from tests.reliability.support.drive import sigkill
from tests.support.s3 import S3Server

__all__ = ["stage"]
pytestmark = pytest.mark.controlplane

VERSION = "2026.9.6"
PREFIX = "e2e"
STEP_SECONDS = 900  # a gateway start or a restore took minutes at load 30 on the shared 2-core machine
URL_MARKS = ("X-Amz-Signature", "X-Amz-Credential")
# The agent's wait for /readyz after a restore (120 s on a real server): at load 30 on 2 cores the gateway
# took longer than that to start on a restored state, and the agent rightly put the old state back.
READY_SECONDS = 360


class Machine:
    """The ChannelServer standing in for the instance's current simulated server, the CLI calls its agent
    made, and the operators that ran (their logs are scanned at the end, killed ones included)."""

    def __init__(self, stage: Stage, realapp: Path, key: Path, root: Path, s3: S3Server) -> None:
        self.stage, self.realapp, self.key, self.root, self.s3 = stage, realapp, key, root, s3
        self.server = ChannelServer(root / "first", realapp, key, login=AGENT_USER)
        self.ports = self.server.ports  # every server gets the same ones: the operator's env names them
        self.servers = [self.server]
        self.retired: list[OperatorProcess] = []
        access, secret = root / "s3-access-key", root / "s3-secret-key"
        access.write_text(s3.access_key)
        secret.write_text(s3.secret_key)
        self.env = {
            "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(key),
            "CLAWHOST_CHANNEL_PORT": str(self.ports["ssh"]),
            "CLAWHOST_CHANNEL_SOURCE_RANGES": "127.0.0.0/8",
            "CLAWHOST_APP_HEALTH_URL": f"http://127.0.0.1:{self.ports['gateway']}/readyz",
            "CLAWHOST_BACKUP_S3_ENDPOINT": s3.endpoint,
            "CLAWHOST_BACKUP_S3_BUCKET": s3.bucket,
            "CLAWHOST_BACKUP_S3_PREFIX": PREFIX,
            "CLAWHOST_BACKUP_S3_ACCESS_KEY_FILE": str(access),
            "CLAWHOST_BACKUP_S3_SECRET_KEY_FILE": str(secret),
        }

    def start_operator(self) -> OperatorProcess:
        return self.stage.start_operator(**self.env)

    def kill(self, process: OperatorProcess) -> None:
        assert sigkill(self.stage, process) == -9
        self.retired.append(process)

    def bring_up(self, name: str, hostname: str, fresh: bool) -> dict[str, Any]:
        """Install the instance's server from the user-data the operator sent to Hetzner, as cloud-init
        would, at the simulated server's loopback address; `fresh`: a new machine (same ports; the old
        one stopped beforehand)."""
        created = wait_for_server(self.stage, name)
        if fresh:
            self.server = ChannelServer(self.root / name, self.realapp, self.key, login=AGENT_USER)
            self.server.ports = self.ports
            self.servers.append(self.server)
        self.server.address = created["public_net"]["ipv4"]["ip"]
        assert ipaddress.ip_address(self.server.address) in ipaddress.ip_network("127.0.0.0/8")
        user_data = self.stage.hetzner.user_data(created["id"])
        assert user_data, "the operator created the server without user-data"
        self.server.install_user_data(user_data, instance(hostname, VERSION, sshKeys=[ADMIN_KEY]))
        record_cli_calls(self.server)
        self.server.start()
        return created

    def calls(self, what: str) -> int:
        log = self.server.root / "openclaw-calls"
        return log.read_text().splitlines().count(what) if log.exists() else 0

    def kill_during(self, process: OperatorProcess, what: str, timeout: float = STEP_SECONDS) -> int:
        """SIGKILL the operator while the agent's next `openclaw <what>` runs; the calls made so far."""
        deadline = time.monotonic() + timeout
        before = self.calls(what + " started")
        while self.calls(what + " started") == before:
            assert process.alive(), process.logs()[-4000:]
            assert time.monotonic() < deadline, f"the agent never ran {what}:\n{process.logs()[-4000:]}"
            time.sleep(0.02)
        self.kill(process)
        assert self.calls(what + " ended") == before, f"the kill came after {what} had finished"
        return self.calls(what + " started")

    def objects(self, prefix: str) -> list[StoredBackup]:
        async def listed() -> list[StoredBackup]:
            async with self.s3.store() as store:
                return await store.list(prefix)

        return asyncio.run(listed())


def record_cli_calls(server: ChannelServer) -> None:
    """The agent's `openclaw` command, passed through to the real CLI, with each backup call's start and
    end written to <root>/openclaw-calls ("backup create started", ...)."""
    settings = json.loads(server.agent_settings.read_text())
    wrapper = server.root / "bin/openclaw-recorded"
    calls = server.root / "openclaw-calls"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'what="$1 $2"\necho "$what started" >> {calls}\n'
        f'{settings["commands"]["openclaw"][0]} "$@"\ncode=$?\n'
        f'echo "$what ended" >> {calls}\nexit $code\n'
    )
    wrapper.chmod(0o755)
    settings["commands"]["openclaw"] = [str(wrapper)]
    settings["readySeconds"] = READY_SECONDS
    server.agent_settings.write_text(json.dumps(settings, indent=2))


def paired(server: ChannelServer, token: str, device: Path, hostname: str) -> bool:
    """tests/backup's data: a device identity the gateway pairs and keeps in its state."""
    seen = server.device_connect(token, device, f"https://{hostname}")
    assert seen["outcome"] == "hello-ok" or seen.get("code") == "PAIRING_REQUIRED", seen
    return bool(seen["outcome"] == "hello-ok")


@pytest.mark.timeout(3000)  # four gateway (re)starts, three backups, two restores on 2 shared cores
def test_sigkills_mid_backup_and_mid_restore_leak_nothing_and_lose_nothing(
    stage: Stage, realapp: Path, operator_key_file: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    if not Path(NSS_WRAPPER).exists():
        pytest.skip(
            f"{NSS_WRAPPER} is missing (apt-get install libnss-wrapper): sshd needs the agent's login"
        )
    stage.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")  # before any server exists
    machine = Machine(stage, realapp, operator_key_file, tmp_path, s3_server)
    operator = machine.start_operator()
    device = tmp_path / "device-identity.json"
    try:
        # --- 1. a backup, the operator killed while the agent makes it --------------------------------
        stage.create_instance("alice", "alice.example.com", openclawVersion=VERSION, sshKeys=[ADMIN_KEY])
        machine.bring_up("alice", "alice.example.com", fresh=False)
        # Ready follows the gateway's health; the channel's first push may land a pass later.
        alice = stage.wait_for("alice", configured, STEP_SECONDS, "alice Ready and configured")
        uid = alice["metadata"]["uid"]
        alice_token = stage.gateway_tokens[0]
        assert not paired(machine.server, alice_token, device, "alice.example.com")
        asked = stage.request_day2("alice", "approve-devices")
        stage.wait_for("alice", lambda b: handled(b, "lastHandledApproveDevicesAt", asked), STEP_SECONDS)
        assert paired(machine.server, alice_token, device, "alice.example.com")

        stage.patch("alice", {"metadata": {"annotations": {api.BACKUP_REQUESTED_AT: "whmcs-1"}}})
        machine.kill_during(operator, "backup create")
        operator = machine.start_operator()

        def backed_up(body: dict[str, Any]) -> bool:
            status = body.get("status") or {}
            return condition(body, "BackedUp") == "True" and not status.get("backupInProgress")

        alice = stage.wait_for("alice", backed_up, STEP_SECONDS, "alice BackedUp")
        (entry,) = alice["status"]["backups"]
        assert (entry["kind"], alice["status"]["lastHandledBackupAt"]) == ("OnDemand", "whmcs-1")
        naming = s3_server.store(prefix=PREFIX)  # names and presigns only: no request of its own
        assert entry["key"] == naming.key_for(stage.namespace, "alice", uid, entry["id"])
        listed = machine.objects(naming.instance_prefix(stage.namespace, "alice", uid))
        assert sorted(o.key for o in listed) == [entry["key"], entry["key"] + ".sha256"]  # one archive
        body = fetch(naming.presign_get(entry["key"]))
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (entry["sha256"], entry["sizeBytes"])
        assert len(owned(stage, uid)) == 1, "a second server"
        backups_made = machine.calls("backup create started")
        assert backups_made == 2  # the killed one and the one after the restart, to the same key

        # --- 2. a device paired after that backup, then a mistaken delete: the Final backup ------------
        late_device = tmp_path / "late-device-identity.json"
        assert not paired(machine.server, alice_token, late_device, "alice.example.com")
        asked = stage.request_day2("alice", "approve-devices")
        stage.wait_for("alice", lambda b: handled(b, "lastHandledApproveDevicesAt", asked), STEP_SECONDS)
        assert paired(machine.server, alice_token, late_device, "alice.example.com")
        stage.delete("alice")  # no skip-final-backup annotation
        stage.wait_gone("alice", STEP_SECONDS)
        assert owned(stage, uid) == []
        assert machine.calls("backup create started") == machine.calls("backup create ended") == 3
        listed = machine.objects(naming.instance_prefix(stage.namespace, "alice", uid))
        archives = sorted(o.key for o in listed if o.key.endswith(".tar.gz"))
        assert sorted(o.key for o in listed) == sorted([*archives, *(k + ".sha256" for k in archives)])
        assert len(archives) == 2 and archives[0] == entry["key"]
        final_key = archives[1]  # ids are UTC timestamps: the newest sorts last
        final_body = fetch(naming.presign_get(final_key))
        final_sha256 = hashlib.sha256(final_body).hexdigest()
        assert fetch(naming.presign_get(final_key + ".sha256")).decode().strip() == final_sha256
        final_id = final_key.rsplit("/", 1)[1].removesuffix(".tar.gz")

        # --- 3. bob restored from alice's latest backup, the operator killed mid-restore --------------
        # Its stand-in goes too: the health URL must not find alice's gateway answering for bob's server
        # (a restore tried at an address nobody listens on yet would back off for minutes).
        machine.server.stop()
        wanted = {"instance": "alice", "backup": "latest"}
        bob_uid = stage.create_instance(
            "bob", "bob.example.com", openclawVersion=VERSION, sshKeys=[ADMIN_KEY], restoreFrom=wanted
        )["metadata"]["uid"]
        bob_token = stage.gateway_tokens[1]
        machine.bring_up("bob", "bob.example.com", fresh=True)  # a new machine: nothing of alice's
        machine.kill_during(operator, "backup restore")
        operator = machine.start_operator()

        first_record: dict[str, Any] = {}

        def restored(body: dict[str, Any]) -> bool:
            done = (body.get("status") or {}).get("restoredFrom")
            if done and not first_record:
                first_record.update(done, calls=machine.calls("backup restore started"))
            return bool(done) and configured(body)

        bob = stage.wait_for("bob", restored, STEP_SECONDS, "bob restored and Ready")
        time.sleep(8)  # four resync intervals: a restore run again after its record would show now
        bob = stage.get("bob")
        done = bob["status"]["restoredFrom"]
        assert (done["id"], done["sha256"], done["instance"]) == (final_id, final_sha256, "alice")
        assert done["at"] == first_record["at"], "status.restoredFrom was written twice"
        restores = machine.calls("backup restore started")
        assert restores == first_record["calls"] == 2, "a restore ran again after it was recorded"
        assert paired(machine.server, bob_token, device, "bob.example.com")  # alice's device, on bob
        assert paired(machine.server, bob_token, late_device, "bob.example.com")  # only in the Final one
        assert not machine.server.token_accepted(alice_token)  # bob keeps his own token
        assert [s["id"] for s in stage.servers()] == [s["id"] for s in owned(stage, bob_uid)]
        assert len(stage.servers()) == 1 and stage.hetzner.images() == []  # nothing leaked

        # --- 4. the sweep, without grace: alice's objects go, nothing else does ------------------------
        alice_prefix = naming.instance_prefix(stage.namespace, "alice", uid)
        kept = [
            naming.key_for(stage.namespace, "bob", bob_uid, "20260101T000000Z"),  # a live uid's, however old
            alice_prefix + "notes.txt",  # not an archive or a checksum: not ours to judge
            f"other/instances/{stage.namespace}/alice/{uid}/20260101T000000Z.tar.gz",  # outside our prefix
        ]
        for key in kept:
            put(naming.presign_put(key), b"look-alike\n")
        machine.kill(operator)
        operator = stage.start_operator(
            **machine.env,
            CLAWHOST_BACKUP_FINAL_RETENTION_DAYS="0",
            CLAWHOST_BACKUP_SWEEP_INTERVAL_SECONDS="1",
        )
        deadline = time.monotonic() + 120
        while any(o.key.endswith((".tar.gz", ".sha256")) for o in machine.objects(alice_prefix)):
            assert time.monotonic() < deadline, f"alice's backups were not swept:\n{operator.logs()[-4000:]}"
            time.sleep(0.5)
        time.sleep(3)  # three more sweeps: a look-alike deleted by any of them would show now
        left = {o.key for o in machine.objects("")}
        assert left == set(kept), left
        assert ready(stage.get("bob")) and len(stage.servers()) == 1 and stage.hetzner.images() == []

        # --- no secret anywhere the operator writes --------------------------------------------------
        stage.operators.extend(machine.retired)  # dead, but their logs must hold no secret either
        stage.assert_no_secrets_leaked()
        texts = {
            "logs": stage.all_logs(),
            "events": json.dumps(stage.events()),
            "status": json.dumps([i.get("status") for i in stage.kube.instances(stage.namespace)]),
            "servers' logs": "".join(
                (s.root / log).read_text(errors="replace") for s in machine.servers for log in SERVER_LOGS
            ),
        }
        for where, text in texts.items():
            for secret in (*URL_MARKS, s3_server.secret_key, s3_server.access_key):
                assert secret not in text, f"{secret[:12]}... in {where}"
        print(f"backup creates {backups_made} + 1 Final, restores {restores} (one killed, one completed)")
    finally:
        machine.server.stop()


SERVER_LOGS = ("sshd.log", "gateway.log")


def handled(body: dict[str, Any], field: str, value: str) -> bool:
    return (body.get("status") or {}).get(field) == value


def ready(body: dict[str, Any]) -> bool:
    status = body.get("status") or {}
    return (
        condition(body, "Ready") == "True"
        and status.get("observedGeneration") == body["metadata"]["generation"]
    )


def configured(body: dict[str, Any]) -> bool:
    return ready(body) and condition(body, "ConfigApplied") == "True"


def owned(stage: Stage, uid: str) -> list[dict[str, Any]]:
    return [s for s in stage.servers() if s["labels"].get(INSTANCE_UID_LABEL) == uid]


def wait_for_server(stage: Stage, name: str, timeout: float = 120) -> dict[str, Any]:
    """The running simulated server of instance `name` (its deterministic name starts with it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = [
            s
            for s in stage.servers()
            if s["name"].startswith(f"{name}-") and s["status"] == "running" and s["public_net"]["ipv4"]
        ]
        if running:
            (created,) = running
            return created
        time.sleep(0.2)
    raise AssertionError(f"no running server for {name}; logs:\n{stage.all_logs()[-4000:]}")

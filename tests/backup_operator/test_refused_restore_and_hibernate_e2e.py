"""Issue 15's last two round trips, operator to real gateway (the `openclaw-operator run` subprocess, the
real kube-apiserver, both simulators, the real S3 server and one ChannelServer standing in for the
instance's server, as in test_operator_backups_e2e.py), on one instance, carol:

1. A restore over the running instance that the agent refuses: a PreRestore backup of the current
   state is taken first, OpenClaw refuses the archive while the gateway keeps running, and carol is
   Stalled (RestoreFailed, naming spec.restoreFrom) and frozen at that generation instead of stopping
   and starting the customer's gateway every few minutes. Naming a good backup lifts the stall and
   restores it: a device paired after that backup is gone, the one paired before it is there.
2. Hibernate against the real gateway: suspended with suspendMode Hibernate, a Suspend backup is taken
   while the gateway still runs (in the bucket, checksum matching; the operator is SIGKILLed during it
   and the next one takes it again under the same id), then the guest shuts down, the
   server is snapshotted and deleted (the disk goes with it), the DNS records stay; unsuspended, a
   server is created from the snapshot and its disk is the snapshot's. The gateway comes back with its
   data (the device), the same token and the hostname answering at the new address.

The simulated Hetzner knows nothing of disks, so the test carries the ChannelServer's root as the
server's disk: stopped when the simulated server shuts down, kept aside while the instance is
hibernated, put back for the server made from the snapshot, which gets new SSH host keys (a new
instance id: cloud-init makes new ones) and the user-data the operator sent it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from openclaw_operator import api
from openclaw_operator.backups import CHECKSUM_SUFFIX
from openclaw_operator.bootstrap.render import GATEWAY_CONFIG_FILE
from tests.backup.support import fetch, put
from tests.backup_operator.test_operator_backups_e2e import (
    PREFIX,
    STEP_SECONDS,
    Machine,
    configured,
    handled,
    paired,
    wait_for_server,
)
from tests.channel.conftest import ADMIN_KEY
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import Stage, condition, wait_until
from tests.support.operated_server import loopback_servers, require_agent_login
from tests.support.s3 import S3Server

__all__ = ["stage"]
pytestmark = pytest.mark.controlplane

NAME, HOST = "carol", "carol.example.com"
NOT_AN_ARCHIVE = b"this is not an OpenClaw archive\n" * 100
BAD_BACKUP = "20260101T000000Z"  # older than any backup the operator names: never "latest"


def status(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("status") or {})


def reason(body: dict[str, Any], kind: str) -> str | None:
    found = [c.get("reason") for c in status(body).get("conditions", []) if c["type"] == kind]
    return found[0] if found else None


def address_records(stage: Stage) -> dict[str, dict[str, Any]]:
    return {r["type"]: r for r in stage.records() if r["name"] == HOST and r["type"] in ("A", "AAAA")}


def approve_a_device(stage: Stage, machine: Machine, token: str, device: Path) -> None:
    assert not paired(machine.server, token, device, HOST)
    asked = stage.request_day2(NAME, "approve-devices")
    stage.wait_for(NAME, lambda b: handled(b, "lastHandledApproveDevicesAt", asked), STEP_SECONDS)
    assert paired(machine.server, token, device, HOST)


@pytest.mark.timeout(2400)  # five gateway (re)starts, two backups, a refused and a good restore
def test_a_refused_restore_stalls_and_a_hibernated_instance_comes_back_with_its_data(
    stage: Stage, realapp: Path, operator_key_file: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    require_agent_login()
    loopback_servers(stage)
    machine = Machine(stage, realapp, operator_key_file, tmp_path, s3_server)
    operator = machine.start_operator()
    started = time.monotonic()
    try:
        uid = stage.create_instance(NAME, HOST, openclawVersion="2026.9.6", sshKeys=[ADMIN_KEY])["metadata"][
            "uid"
        ]
        first = machine.bring_up(NAME, HOST, fresh=False)
        stage.wait_for(NAME, configured, STEP_SECONDS, "carol Ready and configured")
        token = stage.gateway_tokens[0]
        device, late_device = tmp_path / "device.json", tmp_path / "late-device.json"
        approve_a_device(stage, machine, token, device)
        stage.patch(NAME, {"metadata": {"annotations": {api.BACKUP_REQUESTED_AT: "whmcs-1"}}})
        body = stage.wait_for(
            NAME,
            lambda b: handled(b, "lastHandledBackupAt", "whmcs-1") and condition(b, "BackedUp") == "True",
            STEP_SECONDS,
            "the on-demand backup",
        )
        (good,) = status(body)["backups"]
        ready_and_backed_up = time.monotonic()
        approve_a_device(stage, machine, token, late_device)  # in the current state, not in that backup

        # --- 1. a restore the agent refuses: Stalled, frozen, the gateway untouched --------------------
        naming = s3_server.store(prefix=PREFIX)
        bad_key = naming.key_for(stage.namespace, NAME, uid, BAD_BACKUP)
        put(naming.presign_put(bad_key), NOT_AN_ARCHIVE)  # its checksum matches; OpenClaw's check does not
        checksum = hashlib.sha256(NOT_AN_ARCHIVE).hexdigest()
        put(naming.presign_put(bad_key + CHECKSUM_SUFFIX), checksum.encode())
        starts = machine.server.starts()
        stage.patch_spec(NAME, restoreFrom={"instance": NAME, "backup": BAD_BACKUP})
        body = stage.wait_for(
            NAME, lambda b: condition(b, "Stalled") == "True", STEP_SECONDS, "carol Stalled on the restore"
        )
        stalled = status(body)
        assert reason(body, "Stalled") == "RestoreFailed", stalled
        assert stalled["refusedGeneration"] == body["metadata"]["generation"]  # frozen: no retry
        assert stalled["phase"] == "Failed"
        message = stalled["message"]
        assert message.startswith("spec.restoreFrom: OpenClaw refused the archive, nothing was changed")
        assert "not a valid OpenClaw backup" in message  # OpenClaw's own words
        # The current state was backed up first, and that backup ends with the restore: still in progress.
        assert stalled["backupInProgress"]["kind"] == "PreRestore"
        pre_restore = stalled["backupInProgress"]["id"]
        assert machine.calls("backup create started") == 2  # the on-demand one and the PreRestore one
        assert "restoredFrom" not in stalled
        # The gateway ran through it, on its own state.
        assert machine.server.starts() == starts and machine.server.http("GET", "/readyz")[0] == 200
        assert paired(machine.server, token, device, HOST)
        assert paired(machine.server, token, late_device, HOST)
        verifies = machine.calls("backup verify started")
        time.sleep(10)  # five resync intervals: a pass that retried the restore would show now
        assert machine.calls("backup verify started") == verifies == 1
        assert stage.get(NAME)["status"]["refusedGeneration"] == body["metadata"]["generation"]
        [refusal] = [e for e in stage.events() if e.get("reason") == "RestoreFailed"]
        assert refusal["type"] == "Warning"

        # spec.restoreFrom names the good backup: the new generation lifts the stall, and it is restored.
        stage.patch_spec(NAME, restoreFrom={"instance": NAME, "backup": good["id"]})

        def restored(b: dict[str, Any]) -> bool:
            done = status(b).get("restoredFrom") or {}
            return done.get("id") == good["id"] and configured(b) and condition(b, "Stalled") != "True"

        body = stage.wait_for(NAME, restored, STEP_SECONDS, "carol restored from the good backup")
        assert paired(machine.server, token, device, HOST)  # paired before the backup
        assert not paired(machine.server, token, late_device, HOST)  # paired after it
        assert machine.calls("backup create started") == 2, "a second PreRestore backup"
        kinds = {b["id"]: b["kind"] for b in status(body)["backups"]}
        assert kinds == {good["id"]: "OnDemand", pre_restore: "PreRestore"}
        assert "backupInProgress" not in status(body)
        restored_at = time.monotonic()

        # --- 2. hibernate: guest shut down, snapshot, server deleted, records kept ---------------------
        records_before = address_records(stage)
        assert records_before["A"]["content"] == first["public_net"]["ipv4"]["ip"]
        stage.patch_spec(NAME, suspended=True, suspendMode="Hibernate")
        # The operator is SIGKILLed while the agent makes the Suspend backup; the next one takes it again,
        # under the same id, before it shuts the server down.
        machine.kill_during(operator, "backup create")
        operator = machine.start_operator()
        wait_until(
            lambda: all(s["status"] != "running" for s in stage.servers()),
            timeout=STEP_SECONDS,
            what="the shutdown",
        )
        # The suspension's own backup came first: what carol did up to now outlives a Terminate.
        assert machine.calls("backup create started") == 4  # the killed one and its retry
        assert machine.calls("backup create ended") >= 3  # the retry's, before the shutdown began
        machine.server.stop()  # ACPI: the guest stops its services and halts
        body = stage.wait_for(
            NAME,
            lambda b: status(b).get("phase") == "Suspended" and reason(b, "Ready") == "Hibernated",
            STEP_SECONDS,
            "carol hibernated",
        )
        assert stage.servers() == []
        (snapshot,) = stage.hetzner.images()
        assert snapshot["created_from"]["id"] == first["id"] and snapshot["status"] == "available"
        assert status(body)["hibernation"]["snapshotId"] == snapshot["id"]
        assert "serverType" not in status(body)["billing"]  # no server billed
        suspend_backup = status(body)["backups"][0]
        assert suspend_backup["kind"] == "Suspend"
        assert status(body)["suspendBackupGeneration"] == body["metadata"]["generation"]
        stored = fetch(naming.presign_get(suspend_backup["key"]))
        assert hashlib.sha256(stored).hexdigest() == suspend_backup["sha256"]
        assert [b["kind"] for b in status(body)["backups"]].count("Suspend") == 1
        archives = [o.key for o in machine.objects(naming.instance_prefix(stage.namespace, NAME, uid))]
        assert sorted(archives) == sorted(
            [k for b in status(body)["backups"] for k in (b["key"], b["key"] + CHECKSUM_SUFFIX)]
            + [bad_key, bad_key + CHECKSUM_SUFFIX]
        ), "an archive beside the listed ones"
        assert address_records(stage) == records_before
        disk = tmp_path / "snapshot-disk"
        shutil.move(machine.server.root, disk)  # the server's disk is gone; the snapshot holds a copy
        assert machine.server.http("GET", "/readyz")[0] == 0  # nothing answers
        hibernated_at = time.monotonic()

        # --- unsuspend: a server made from the snapshot, with its disk --------------------------------
        stage.patch_spec(NAME, suspended=False)
        second = wait_for_server(stage, NAME)  # the old one is gone (asserted above): this is the new one
        assert second["id"] != first["id"] and second["image"]["id"] == snapshot["id"]
        shutil.copytree(disk, machine.server.root, symlinks=True)
        for key in machine.server.root.glob("ssh_host_*"):
            key.unlink()  # a new instance id: cloud-init makes new host keys, the channel learns them
        written = yaml.safe_load(stage.hetzner.user_data(second["id"]))["write_files"]
        assert GATEWAY_CONFIG_FILE not in [f["path"] for f in written]  # the gateway's own config is kept
        machine.bring_up(NAME, HOST, fresh=False)

        def running_again(b: dict[str, Any]) -> bool:
            return configured(b) and status(b).get("phase") == "Running" and not status(b).get("hibernation")

        body = stage.wait_for(NAME, running_again, STEP_SECONDS, "carol running again from the snapshot")
        assert paired(machine.server, token, device, HOST), "the data did not come back"
        assert not paired(machine.server, token, late_device, HOST)
        assert machine.server.token_accepted(token)  # the same token
        assert status(body)["serverId"] == second["id"]
        wait_until(lambda: stage.hetzner.images() == [], timeout=STEP_SECONDS, what="snapshot deleted")
        records = address_records(stage)
        assert records["A"]["content"] == second["public_net"]["ipv4"]["ip"]
        assert records["A"]["content"] != first["public_net"]["ipv4"]["ip"]
        assert records["A"]["id"] == records_before["A"]["id"]  # the same record, updated in place
        assert machine.server.proxy_serves(HOST)  # the hostname answers through Caddy
        assert [s["id"] for s in stage.servers()] == [second["id"]]
        back_at = time.monotonic()

        stage.operators.extend(machine.retired)  # killed, but its log must hold no secret either
        stage.assert_no_secrets_leaked()
        texts = json.dumps(stage.events()) + stage.all_logs() + json.dumps(status(stage.get(NAME)))
        for secret in ("X-Amz-Signature", "X-Amz-Credential", s3_server.secret_key, s3_server.access_key):
            assert secret not in texts
        print(
            f"Ready and backed up {ready_and_backed_up - started:.0f} s; refused + good restore "
            f"{restored_at - ready_and_backed_up:.0f} s; hibernate {hibernated_at - restored_at:.0f} s; "
            f"unsuspend to configured {back_at - hibernated_at:.0f} s"
        )
    finally:
        machine.server.stop()

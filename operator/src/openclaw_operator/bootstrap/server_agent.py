#!/usr/bin/python3
"""clawhost-agent: the operator's one way into a running server (docs/channel.md).

sshd runs it as the forced command of the operator's key (through `sudo -n`, as root): no shell, no
forwarding, no other program. It reads one JSON request on stdin and writes one JSON answer on stdout:

  {"op": "state"}            what was last applied (the operator's hash) and the installed OpenClaw
  {"op": "apply", ...}       install the files the operator rendered and the OpenClaw version it names
  {"op": "approve-devices"}  approve every pending device pairing request (the Control UI's first login)
  {"op": "doctor"}           OpenClaw's read-only `doctor --lint`: a bounded, secret-free list of findings
  {"op": "backup", ...}      OpenClaw's own verified archive, uploaded to a presigned PUT URL, then deleted
  {"op": "restore", ...}     a checked archive from a presigned GET URL in place of the live state

The operator renders every file; the agent only knows which paths it may write, how to check a file
before it goes live (`openclaw config validate`, `caddy validate`) and what to restart afterwards. A file
the app rejects is never installed; a change after which the gateway does not come back is rolled back.
Secrets arrive on stdin only, never on a command line, and no answer repeats a file's content or a URL.
Standard library only: it runs on the distribution's python3, which cloud-init itself needs.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Any, BinaryIO

DEFAULT_SETTINGS = "/etc/clawhost/agent.json"
MAX_REQUEST_BYTES = 1 << 20
# The files the operator may write, in the order they are checked and installed.
FILES = ("gatewayEnv", "gatewayConfig", "caddyfile", "adminKeys")
RESTARTS_GATEWAY = frozenset({"gatewayEnv"})  # systemd reads the token and env only at a (re)start
SHA256_HEADER = "x-amz-meta-sha256"  # the object metadata the backup store reads back (backup_store.py)
CHUNK = 1 << 20  # archives stream through in 1 MiB pieces: the server has little memory to spare
MAX_FINDINGS = 20  # status is small; the rest are counted, and `openclaw doctor` on the server has them all


class Refused(Exception):
    """The request cannot be carried out; `reason` is the operator's condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def main(argv: list[str]) -> int:
    settings_path = argv[argv.index("--settings") + 1] if "--settings" in argv else DEFAULT_SETTINGS
    try:
        with open(settings_path, encoding="utf-8") as handle:
            settings = json.load(handle)
        request = json.loads(sys.stdin.buffer.read(MAX_REQUEST_BYTES) or b"{}")
        with _locked(settings["lock"]):
            answer = Agent(settings).handle(request)
    except Refused as exc:
        answer = {"ok": False, "reason": exc.reason, "message": exc.message}
    except (OSError, ValueError, KeyError) as exc:
        answer = {"ok": False, "reason": "AgentError", "message": f"{type(exc).__name__}: {exc}"}
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0 if answer.get("ok") else 1


class _locked:
    """One request at a time per server: a second operator pass waits instead of interleaving."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        self.handle.close()


class Agent:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.s = settings
        self.files: dict[str, dict[str, Any]] = settings["files"]
        self.commands: dict[str, list[str]] = settings["commands"]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op")
        if op == "state":
            return {"ok": True, **self._state(), "openclawVersion": self._installed_version()}
        if op == "apply":
            return self.apply(request)
        if op == "approve-devices":
            return {"ok": True, "approved": self.approve_devices()}
        if op == "doctor":
            return {"ok": True, **self.doctor()}
        if op == "backup":
            return self.backup(request)
        if op == "restore":
            return self.restore(request)
        raise Refused("AgentError", f"unknown op {op!r}")

    # --- apply -----------------------------------------------------------------------------------
    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, str] = request.get("files", {})
        unknown = sorted(set(wanted) - set(FILES))
        if unknown:
            raise Refused("AgentError", f"files the agent does not manage: {', '.join(unknown)}")
        before = {name: _read(self.files[name]["path"]) for name in wanted}
        changed = [name for name in FILES if name in wanted and before[name] != wanted[name]]
        skills = None
        if "gatewayConfig" in changed:
            skills = self._check_config(wanted["gatewayConfig"], request.get("skills"))
        if "caddyfile" in changed:
            self._check(
                "validateProxy", wanted["caddyfile"], "caddyfile", "ProxyConfigRejected", "Caddy refused"
            )
        version = request.get("openclawVersion")
        installed = self._installed_version()
        update = bool(version) and version != installed
        for name in changed:
            self._write(name, wanted[name])
        try:
            if update:
                self._update(installed, str(version))
            elif RESTARTS_GATEWAY.intersection(changed):
                self._run("restartGateway")
            elif "gatewayConfig" in changed:
                self._wait_config_live()
            if "caddyfile" in changed:
                self._run("reloadProxy")
            if changed or update:
                self._wait_ready()
        except Refused:
            for name in changed:
                self._write(name, before[name])
            if not update:  # an update rolls itself back, with the state from its backup
                self._run("restartGateway")
                if "caddyfile" in changed:
                    self._run("reloadProxy")
            raise
        self._record({"appliedHash": request.get("hash")})
        answer = {"ok": True, "changed": changed, "updated": update, "openclawVersion": version or installed}
        return {**answer, "skills": skills} if skills is not None else answer

    def _check_config(self, content: str, skills: list[str] | None) -> list[dict[str, Any]] | None:
        """`openclaw config validate` on a candidate beside the live file: OpenClaw's own strict schema,
        as the gateway user sees it, before the gateway ever reads it. With the operator's skill list,
        OpenClaw's own `skills list` on the same candidate says whether it knows each name."""
        spec = self.files["gatewayConfig"]
        candidate = spec["path"] + ".candidate"
        _install(candidate, content, spec)
        env = {"OPENCLAW_CONFIG_PATH": candidate}
        try:
            done = self._run("openclaw", "config", "validate", "--json", env=env)
            if done.returncode != 0:
                raise Refused(
                    "ConfigRejected", "OpenClaw rejected the configuration: " + _validation_issues(done)
                )
            return None if skills is None else self._check_skills(skills, env)
        finally:
            os.unlink(candidate)

    def _check_skills(self, names: list[str], env: dict[str, str]) -> list[dict[str, Any]]:
        """Each named skill as OpenClaw sees it with the new config; a name it does not know refuses the
        whole config with OpenClaw's own message (`skills info`), before anything is installed."""
        listed = {
            str(entry.get("name")): entry
            for entry in _json_object(self._run("openclaw", "skills", "list", "--json", env=env).stdout).get(
                "skills", []
            )
        }
        for name in names:
            if name not in listed:
                done = self._run("openclaw", "skills", "info", name, "--json", env=env)
                raise Refused("SkillRejected", f"spec.skills: {name}: {_tool_error(done)}")
        return [
            {
                "name": name,
                "eligible": listed[name].get("eligible") is True,
                "source": listed[name].get("source"),
            }
            for name in names
        ]

    def _check(self, command: str, content: str, name: str, reason: str, what: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix="." + name, delete=False) as handle:
            handle.write(content)
        try:
            done = self._run(command, handle.name)
        finally:
            os.unlink(handle.name)
        if done.returncode != 0:
            raise Refused(reason, f"{what} the new {name}: {_last_lines(done.stderr or done.stdout)}")

    def _wait_config_live(self) -> None:
        """The gateway hot-reloads its config; the change is live once the revision it runs is the one
        on disk. A change it can only take at a restart (or a reload that never comes) gets one."""
        deadline = time.monotonic() + float(self.s.get("reloadSeconds", 30))
        while time.monotonic() < deadline:
            done = self._run("openclaw", "gateway", "call", "config.get", "--json")
            if done.returncode == 0:
                try:
                    seen = json.loads(done.stdout)
                except ValueError:
                    seen = {}
                revision = seen.get("configRevisionHash")
                if revision and revision == seen.get("appliedConfigHash"):
                    return
            time.sleep(1)
        self._run("restartGateway")

    def _update(self, installed: str, version: str) -> None:
        """Backup (OpenClaw's own, verified: never copying live SQLite files), stop, install, start,
        health. Stopped first: two gateways for one instance would fight over its channels' tokens. A
        failure installs the old version again, restores the backup's state and raises UpdateFailed."""
        backups = self.s["backupDir"]
        archive = self._create_archive(backups, "UpdateFailed", "the pre-update backup failed: ")["path"]
        _prune(backups, keep=int(self.s.get("keepBackups", 3)))
        self._run("stopGateway")
        try:
            self._checked_run("installOpenclaw", version=version)
            self._run("startGateway")
            self._wait_ready()
        except Refused as exc:
            message = f"update to {version} failed ({exc.message}); rolled back to {installed}"
            self._run("stopGateway")
            self._checked_run("installOpenclaw", version=installed)
            if archive:  # the new version may have migrated the state; the old one refuses it (exit 78)
                _remove_tree(self._restore(archive, "UpdateFailed"))
            self._run("startGateway")
            self._wait_ready()
            raise Refused("UpdateFailed", message) from None

    def _create_archive(self, directory: str, reason: str, what: str) -> dict[str, Any]:
        """`openclaw backup create --verify` as the gateway user: SQLite captured with its online backup
        API, never by copying live files. Returns the tool's answer with `path` set; a failed or
        unverified archive refuses with `reason` and the tool's own last lines."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _chown(directory, self.s["gatewayUser"])
        done = self._run("openclaw", "backup", "create", "--verify", "--json", "--output", directory)
        if done.returncode != 0:
            raise Refused(reason, what + _tool_error(done))
        answer = _json_object(done.stdout)
        path = _json_field(done.stdout, "archivePath", "path", "archive")
        if answer.get("verified") is not True or not path or not os.path.isfile(path):
            if path and os.path.isfile(path):
                os.unlink(path)
            raise Refused(
                reason, what + "OpenClaw did not report a verified archive: " + _last_lines(done.stdout)
            )
        return {**answer, "path": path}

    def _restore(self, archive: str, reason: str) -> str:
        """Put the state from the backup in place of the live one and return where the live one was put
        aside (the caller drops it, or puts it back with `_put_back`). `backup restore` only extracts
        (verified) into a fresh directory; the manifest says where the state asset is in there, which
        also covers an archive made on a server with another state path. The operator's own files in the
        state directory (the config it rendered for this instance) stay this server's."""
        staging = tempfile.mkdtemp(prefix="restore-", dir=self.s["backupDir"])
        os.rmdir(staging)  # restore wants to create it, as the gateway's user
        try:
            done = self._run("openclaw", "backup", "restore", archive, "--target", staging, "--json")
            if done.returncode != 0:
                raise Refused(
                    reason, "restoring the backup failed: " + _last_lines(done.stderr or done.stdout)
                )
            restored = _state_asset(staging)
            if restored is None:
                raise Refused(reason, "the backup holds no OpenClaw state directory")
            live = self.s["stateDir"]
            kept = {
                spec["path"]: _read(spec["path"])
                for spec in self.files.values()
                if spec["path"].startswith(live.rstrip("/") + "/")
            }
            aside = f"{live}.before-restore"
            _remove_tree(aside)
            os.rename(live, aside)
            try:
                shutil.copytree(restored, live, symlinks=True)
                shutil.copystat(aside, live)
                for path, content in kept.items():
                    spec = next(spec for spec in self.files.values() if spec["path"] == path)
                    self._write_spec(spec, content)
                _chown_tree(live, self.s["gatewayUser"])
            except OSError as exc:
                self._put_back(aside)
                raise Refused(reason, f"activating the restored state failed: {type(exc).__name__}") from None
            return aside
        finally:
            _remove_tree(staging)

    def _put_back(self, aside: str) -> None:
        live = self.s["stateDir"]
        _remove_tree(live)
        os.rename(aside, live)

    # --- off-server backups ------------------------------------------------------------------------
    def backup(self, request: dict[str, Any]) -> dict[str, Any]:
        """A verified archive, its checksum and size, streamed to the presigned PUT URL, then deleted
        here: the server keeps only its pre-update archives. The gateway keeps running throughout."""
        backup_id, put_url = str(request["id"]), str(request["putUrl"])
        outgoing = os.path.join(self.s["backupDir"], "offsite")
        made = self._create_archive(outgoing, "BackupFailed", "the backup failed: ")
        archive = made["path"]
        try:
            sha256, size = _digest(archive)
            headers = {"Content-Length": str(size), "Content-Type": "application/gzip"}
            if SHA256_HEADER in _signed_headers(put_url):
                headers[SHA256_HEADER] = sha256
            with open(archive, "rb") as body:
                _transfer("PUT", put_url, headers, body, "BackupUploadFailed", "uploading the backup")
        finally:
            os.unlink(archive)
        created = made.get("createdAt") or datetime.now(UTC).isoformat()
        return {
            "ok": True,
            "id": backup_id,
            "sha256": sha256,
            "sizeBytes": size,
            "openclawVersion": self._installed_version(),
            "createdAt": str(created),
        }

    def restore(self, request: dict[str, Any]) -> dict[str, Any]:
        """Download, check the checksum the operator recorded and OpenClaw's own verification while the
        gateway still runs (a bad archive touches nothing), then stop, swap the state, start, health.
        A gateway that does not come back on the restored state gets the old state back."""
        get_url, expected = str(request["getUrl"]), str(request.get("sha256", "")).lower()
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise Refused("RestoreFailed", "the restore request names no sha256 to check the archive against")
        incoming = os.path.join(self.s["backupDir"], "incoming")
        os.makedirs(incoming, mode=0o700, exist_ok=True)
        _chown(incoming, self.s["gatewayUser"])
        archive = os.path.join(incoming, "restore-openclaw-backup.tar.gz")
        try:
            with open(archive, "wb") as out:
                # Its own reason: the store may be back in a minute, and nothing was touched yet.
                _transfer("GET", get_url, {}, out, "RestoreDownloadFailed", "downloading the backup")
            sha256, _ = _digest(archive)
            if sha256 != expected:
                raise Refused(
                    "RestoreFailed",
                    f"the downloaded archive's sha256 is {sha256}, not {expected}; nothing was changed",
                )
            _chown(archive, self.s["gatewayUser"])
            self._verify_archive(archive)
            self._run("stopGateway")
            aside = None
            try:
                aside = self._restore(archive, "RestoreFailed")
                self._run("startGateway")
                self._wait_ready()
            except Refused as exc:
                self._run("stopGateway")
                if aside is not None:
                    self._put_back(aside)
                self._run("startGateway")
                self._wait_ready()
                raise Refused("RestoreFailed", f"{exc.message}; the previous state is back") from None
            _remove_tree(aside)
        finally:
            if os.path.exists(archive):
                os.unlink(archive)
        return {"ok": True, "sha256": sha256, "openclawVersion": self._installed_version()}

    def _verify_archive(self, archive: str) -> None:
        """`openclaw backup verify`, on releases that have it (`backup restore` verifies again). An
        archive a newer release made is refused here: the installed one would refuse its migrated
        state at start (exit 78), after the gateway was already stopped for it."""
        done = self._run("openclaw", "backup", "verify", archive, "--json")
        output = done.stderr + done.stdout
        if done.returncode != 0 and 'no command "verify"' not in output:
            raise Refused(
                "RestoreFailed", "OpenClaw refused the archive, nothing was changed: " + _tool_error(done)
            )
        made_by, installed = (
            str(_json_object(done.stdout).get("runtimeVersion", "")),
            self._installed_version(),
        )
        if _release(made_by) > _release(installed) > ():
            raise Refused(
                "RestoreFailed",
                f"the backup was made by OpenClaw {made_by}, newer than the installed {installed}: "
                "update the instance first; nothing was changed",
            )

    def _wait_ready(self) -> None:
        """/readyz on loopback answers 200. A gateway that stays down (exit 78: an invalid config, or
        state written by a newer release; the unit does not restart it) fails at once, not after the
        whole wait."""
        url = f"http://127.0.0.1:{self.s['gatewayPort']}/readyz"
        deadline = time.monotonic() + float(self.s.get("readySeconds", 120))
        down = 0
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            down = down + 1 if self._run("gatewayRunning").returncode != 0 else 0
            if down >= 3:
                break
            time.sleep(1)
        log = self._run("gatewayLog")
        raise Refused("GatewayDown", "the gateway did not become ready: " + _last_lines(log.stdout))

    # --- devices ---------------------------------------------------------------------------------
    def approve_devices(self) -> list[str]:
        done = self._run("openclaw", "devices", "list", "--json")
        if done.returncode != 0:
            raise Refused(
                "PairingFailed", "listing devices failed: " + _last_lines(done.stderr or done.stdout)
            )
        pending = json.loads(done.stdout).get("pending", [])
        approved = []
        for request in pending:
            request_id = str(request.get("requestId", ""))
            if not request_id:
                continue
            done = self._run("openclaw", "devices", "approve", request_id, "--json")
            if done.returncode != 0:
                message = f"approving {request_id} failed: " + _last_lines(done.stderr or done.stdout)
                raise Refused("PairingFailed", message)
            approved.append(request_id)
        return approved

    # --- doctor ----------------------------------------------------------------------------------
    def doctor(self) -> dict[str, Any]:
        """`openclaw doctor --lint --json`: read-only (never `--fix`), exit 1 only means findings. Every
        value of the gateway's environment file is masked: a finding may quote a configured path or URL,
        and a customer may have put a token there."""
        done = self._run("openclaw", "doctor", "--lint", "--json")
        report = _json_object(done.stdout)
        if done.returncode not in (0, 1) or "findings" not in report:
            raise Refused("DoctorFailed", "openclaw doctor failed: " + _tool_error(done))
        secrets = _env_values(_read(self.files["gatewayEnv"]["path"]) or "")
        findings = [
            {
                key: _masked(str(finding[key]), secrets)[:300]
                for key in ("checkId", "severity", "message", "path")
                if finding.get(key) is not None
            }
            for finding in report["findings"]
            if isinstance(finding, dict)
        ]
        return {
            "clean": not findings,
            "checksRun": int(report.get("checksRun") or 0),
            "findings": findings[:MAX_FINDINGS],
            "omitted": max(0, len(findings) - MAX_FINDINGS),
        }

    # --- helpers ---------------------------------------------------------------------------------
    def _installed_version(self) -> str:
        done = self._run("installedVersion")
        return done.stdout.strip() if done.returncode == 0 else ""

    def _state(self) -> dict[str, Any]:
        try:
            with open(self.s["stateFile"], encoding="utf-8") as handle:
                return dict(json.load(handle))
        except (OSError, ValueError):
            return {"appliedHash": None}

    def _record(self, state: dict[str, Any]) -> None:
        _install(self.s["stateFile"], json.dumps(state) + "\n", {"mode": "0600"})

    def _write(self, name: str, content: str | None) -> None:
        self._write_spec(self.files[name], content)

    def _write_spec(self, spec: dict[str, Any], content: str | None) -> None:
        if content is None:
            if os.path.exists(spec["path"]):
                os.unlink(spec["path"])
            return
        _install(spec["path"], content, spec)

    def _run(
        self, command: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = [*self.commands[command], *args]
        full_env = {**os.environ, **(env or {})}
        timeout = float(self.s.get("commandSeconds", 600))
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return subprocess.CompletedProcess(argv, 127, "", f"{command}: {type(exc).__name__}")

    def _checked_run(self, command: str, **placeholders: str) -> None:
        argv = [part.format(**placeholders) for part in self.commands[command]]
        timeout = float(self.s.get("commandSeconds", 600))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Refused("UpdateFailed", f"{command}: {type(exc).__name__}") from None
        if done.returncode != 0:
            raise Refused("UpdateFailed", f"{command} failed: {_last_lines(done.stderr or done.stdout)}")


def _digest(path: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _signed_headers(url: str) -> set[str]:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return set(";".join(query.get("X-Amz-SignedHeaders", [""])).split(";"))


def _transfer(
    method: str, url: str, headers: dict[str, str], stream: BinaryIO, reason: str, what: str
) -> None:
    """PUT `stream` to, or GET `url` into `stream`, in chunks. A presigned URL is a bearer credential:
    no message says more than the HTTP status and S3's error code, never the URL."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise Refused(reason, f"{what}: the URL is not an http(s) URL")
    body = stream if method == "PUT" else None
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 (checked)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (checked above)
            if method == "GET":
                while chunk := response.read(CHUNK):
                    stream.write(chunk)
    except urllib.error.HTTPError as exc:
        code = _s3_code(exc.read(4096))
        raise Refused(
            reason, f"{what}: the store answered HTTP {exc.code}" + (f" ({code})" if code else "")
        ) from None
    except (OSError, ValueError) as exc:  # urllib's ValueError (a malformed URL) quotes the URL
        detail = getattr(exc, "reason", None)
        name = type(detail).__name__ if isinstance(detail, BaseException) else type(exc).__name__
        raise Refused(reason, f"{what}: the store could not be reached ({name})") from None


def _s3_code(body: bytes) -> str:
    """The `<Code>` of an S3 error body; the rest may echo the signature."""
    text = body.decode("utf-8", "replace")
    start, end = text.find("<Code>"), text.find("</Code>")
    code = text[start + 6 : end] if 0 <= start < end else ""
    return code if code.isalnum() else ""


def _state_asset(staging: str) -> str | None:
    """The extracted state directory, by the archive's manifest (OpenClaw's documented source of truth
    for where each asset is), or None."""
    for root in os.listdir(staging):
        try:
            with open(os.path.join(staging, root, "manifest.json"), encoding="utf-8") as handle:
                manifest = json.load(handle)
        except (OSError, ValueError):
            continue
        for asset in manifest.get("assets", []):
            if asset.get("kind") == "state" and isinstance(asset.get("archivePath"), str):
                path = os.path.normpath(os.path.join(staging, asset["archivePath"]))
                if path.startswith(staging + os.sep) and os.path.isdir(path):
                    return path
    return None


def _release(version: str) -> tuple[int, ...]:
    """2026.9.6 -> (2026, 9, 6); () for anything else, which compares below every release."""
    parts = version.strip().split("-")[0].split(".")
    return tuple(int(part) for part in parts) if all(part.isdigit() for part in parts) else ()


def _remove_tree(path: str | None) -> None:
    if path:
        shutil.rmtree(path, ignore_errors=True)


def _tool_error(done: subprocess.CompletedProcess[str]) -> str:
    """The CLI's own message from its `--json` error answer, else the last lines it printed."""
    error = _json_object(done.stdout).get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:600]
    return _last_lines(done.stderr or done.stdout)


def _json_object(text: str) -> dict[str, Any]:
    try:
        answer = json.loads(text)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _prune(directory: str, keep: int) -> None:
    """Only the newest pre-update archives stay: each holds the whole state, and the disk is small."""
    archives = sorted(
        (
            os.path.join(directory, name)
            for name in os.listdir(directory)
            if name.endswith("-openclaw-backup.tar.gz")
        ),
        key=os.path.getmtime,
    )
    for old in archives[:-keep]:
        os.unlink(old)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _install(path: str, content: str, spec: dict[str, Any]) -> None:
    """Atomically: a reader (systemd, Caddy, sshd, the gateway) sees the old file or the new, never half."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".clawhost-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(content)
        os.chmod(temporary, int(spec.get("mode", "0644"), 8))
        if spec.get("owner"):
            _chown(temporary, spec["owner"])
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _chown_tree(path: str, user: str) -> None:
    _chown(path, user)
    for directory, subdirectories, files in os.walk(path):
        for name in subdirectories + files:
            _chown(os.path.join(directory, name), user)


def _chown(path: str, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _env_values(text: str) -> list[str]:
    """The values of an environment file as environment_line writes them: NAME="value", a backslash
    before each of the characters it escapes."""
    values = []
    for line in text.splitlines():
        quoted = line.partition("=")[2]
        value = quoted[1:-1] if len(quoted) > 1 and quoted[0] == quoted[-1] == '"' else quoted
        values.append(re.sub(r"\\(.)", r"\1", value))
    return [value for value in values if len(value) >= 4]


def _masked(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _validation_issues(done: subprocess.CompletedProcess[str]) -> str:
    """OpenClaw's own words: `path: message` for each issue `config validate --json` lists."""
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        return _last_lines(done.stderr or done.stdout)
    issues = [f"{issue.get('path', '')}: {issue.get('message', '')}" for issue in answer.get("issues", [])]
    return "; ".join(issues) or str(answer.get("error", {}).get("message", "invalid"))


def _json_field(text: str, *names: str) -> str | None:
    answer = _json_object(text)
    for name in names:
        if isinstance(answer.get(name), str):
            return str(answer[name])
    return None


def _last_lines(text: str, lines: int = 5, limit: int = 600) -> str:
    tail = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
    return tail[-limit:] or "no output"


if __name__ == "__main__":
    sys.exit(main(sys.argv))

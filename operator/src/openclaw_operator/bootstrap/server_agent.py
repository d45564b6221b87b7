#!/usr/bin/python3
"""clawhost-agent: the operator's one way into a running server (docs/channel.md).

sshd runs it as the forced command of the operator's key (through `sudo -n`, as root): no shell, no
forwarding, no other program. It reads one JSON request on stdin and writes one JSON answer on stdout:

  {"op": "state"}            what was last applied (the operator's hash) and the installed OpenClaw
  {"op": "apply", ...}       install the files the operator rendered and the OpenClaw version it names
  {"op": "approve-devices"}  approve every pending device pairing request (the Control UI's first login)

The operator renders every file; the agent only knows which paths it may write, how to check a file
before it goes live (`openclaw config validate`, `caddy validate`) and what to restart afterwards. A file
the app rejects is never installed; a change after which the gateway does not come back is rolled back.
Secrets arrive on stdin only, never on a command line, and no answer repeats a file's content.
Standard library only: it runs on the distribution's python3, which cloud-init itself needs.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

DEFAULT_SETTINGS = "/etc/clawhost/agent.json"
MAX_REQUEST_BYTES = 1 << 20
# The files the operator may write, in the order they are checked and installed.
FILES = ("gatewayEnv", "gatewayConfig", "caddyfile", "adminKeys")
RESTARTS_GATEWAY = frozenset({"gatewayEnv"})  # systemd reads the token and env only at a (re)start


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
        raise Refused("AgentError", f"unknown op {op!r}")

    # --- apply -----------------------------------------------------------------------------------
    def apply(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted: dict[str, str] = request.get("files", {})
        unknown = sorted(set(wanted) - set(FILES))
        if unknown:
            raise Refused("AgentError", f"files the agent does not manage: {', '.join(unknown)}")
        before = {name: _read(self.files[name]["path"]) for name in wanted}
        changed = [name for name in FILES if name in wanted and before[name] != wanted[name]]
        if "gatewayConfig" in changed:
            self._check_config(wanted["gatewayConfig"])
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
        return {"ok": True, "changed": changed, "updated": update, "openclawVersion": version or installed}

    def _check_config(self, content: str) -> None:
        """`openclaw config validate` on a candidate beside the live file: OpenClaw's own strict schema,
        as the gateway user sees it, before the gateway ever reads it."""
        spec = self.files["gatewayConfig"]
        candidate = spec["path"] + ".candidate"
        _install(candidate, content, spec)
        try:
            done = self._run(
                "openclaw", "config", "validate", "--json", env={"OPENCLAW_CONFIG_PATH": candidate}
            )
        finally:
            os.unlink(candidate)
        if done.returncode != 0:
            raise Refused(
                "ConfigRejected", "OpenClaw rejected the configuration: " + _validation_issues(done)
            )

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
        os.makedirs(backups, mode=0o700, exist_ok=True)
        _chown(backups, self.s["gatewayUser"])
        done = self._run("openclaw", "backup", "create", "--verify", "--json", "--output", backups)
        if done.returncode != 0:
            raise Refused(
                "UpdateFailed", "the pre-update backup failed: " + _last_lines(done.stderr or done.stdout)
            )
        archive = _json_field(done.stdout, "archivePath", "path", "archive")
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
                self._restore(archive)
            self._run("startGateway")
            self._wait_ready()
            raise Refused("UpdateFailed", message) from None

    def _restore(self, archive: str) -> None:
        """Put the state from the backup back in place of the live one: `backup restore` only extracts
        (verified) into a fresh directory, as <archive root>/payload/posix/<absolute state path>."""
        staging = tempfile.mkdtemp(prefix="restore-", dir=self.s["backupDir"])
        os.rmdir(staging)  # restore wants to create it, as the gateway's user
        done = self._run("openclaw", "backup", "restore", archive, "--target", staging, "--json")
        if done.returncode != 0:
            raise Refused(
                "UpdateFailed", "restoring the backup failed: " + _last_lines(done.stderr or done.stdout)
            )
        live = self.s["stateDir"]
        (root,) = os.listdir(staging)
        restored = os.path.join(staging, root, "payload", "posix", live.lstrip("/"))
        aside = f"{live}.before-rollback"
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(live, aside)
        shutil.copytree(restored, live, symlinks=True)
        shutil.copystat(aside, live)
        _chown_tree(live, self.s["gatewayUser"])
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)

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
        spec = self.files[name]
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


def _validation_issues(done: subprocess.CompletedProcess[str]) -> str:
    """OpenClaw's own words: `path: message` for each issue `config validate --json` lists."""
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        return _last_lines(done.stderr or done.stdout)
    issues = [f"{issue.get('path', '')}: {issue.get('message', '')}" for issue in answer.get("issues", [])]
    return "; ".join(issues) or str(answer.get("error", {}).get("message", "invalid"))


def _json_field(text: str, *names: str) -> str | None:
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    for name in names:
        if isinstance(answer.get(name), str):
            return str(answer[name])
    return None


def _last_lines(text: str, lines: int = 5, limit: int = 600) -> str:
    tail = " | ".join(line.strip() for line in text.strip().splitlines()[-lines:] if line.strip())
    return tail[-limit:] or "no output"


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""How long each stage of the first boot took, read from the guest's own clock.

`collect_guest_record` gathers the raw measurements over SSH once cloud-init is done: systemd's startup
line, cloud-init's status.json and `cloud-init analyze dump` events, and the timestamps of the journal
lines that mark the bootstrap's steps. `stage_seconds` derives the stages from that record, a pure
function so its rules are tested on real log lines (test_timings.py). The raw record is what
bench/results/e2e-vm-*.json keeps, so another boot model can be derived from it later.

The guest's clock is used because the host is loaded and shared: qemu's wall time includes waiting for
the host's CPUs, the guest's does too, but its timestamps at least come from one clock at the source.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.e2e_vm.guest import Guest

# Journal lines of cloud-init's output that mark a step of the bootstrap (label -> pattern). Only lines
# after the first vendor-repository line count for the apt marks, so cloud-init's own package install
# (Debian packages, before the bootstrap runs) is not mistaken for nodejs/caddy.
JOURNAL_MARKS = {
    "vendor repositories first fetched": r"https://deb\.nodesource\.com|https://dl\.cloudsmith\.io",
    "apt (nodejs, caddy) last line": r"^(Setting up|Processing triggers for) ",
    "npm install done": r"^added \d+ packages",
    "bootstrap reports OpenClaw up": r"^clawhost-bootstrap: OpenClaw \S+ is up",
}
_STARTUP = re.compile(r"Startup finished in (?P<spans>.*?) = ")
_NPM_ADDED = re.compile(r"^added (?P<count>\d+) packages(?: in (?P<took>[\d.]+)(?P<unit>ms|s|m|h))?")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "us": 1e-6}


def collect_guest_record(guest: Guest) -> dict[str, Any]:
    """The raw timing record of the guest's current boot (call once cloud-init is done)."""
    now, uptime = guest.ssh("date +%s.%N; cut -d' ' -f1 /proc/uptime").stdout.split()
    status = json.loads(guest.ssh("cat /run/cloud-init/status.json").stdout).get("v1", {})
    events = json.loads(guest.ssh("sudo cloud-init analyze dump", timeout=300).stdout or "[]")
    journal = guest.ssh("sudo journalctl -b -t cloud-init --no-pager -o short-unix", timeout=300).stdout
    unit = guest.ssh("sudo journalctl -b -u openclaw-gateway --no-pager -o short-unix", timeout=300).stdout
    return {
        "boot_epoch": float(now) - float(uptime),
        "systemd_startup": guest.ssh("systemd-analyze time", check=False).stdout.strip(),
        "cloud_init_stages": {
            stage: {key: info.get(key) for key in ("start", "finished")}
            for stage, info in status.items()
            if isinstance(info, dict) and "start" in info
        },
        "cloud_init_events": [
            {key: event.get(key) for key in ("name", "event_type", "timestamp", "result")} for event in events
        ],
        "journal_marks": journal_marks(journal),
        "gateway_unit": gateway_unit_marks(unit),
    }


def _short_unix_lines(journal: str) -> list[tuple[float, str]]:
    lines = []
    for line in journal.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and re.fullmatch(r"\d+\.\d+", parts[0]):
            lines.append((float(parts[0]), parts[3]))
    return lines


def journal_marks(journal: str) -> dict[str, list[Any]]:
    """label -> [epoch, message] of each mark's line in `journalctl -o short-unix` output: the first
    vendor-repository line, and the last line of each other mark after it. A golden server fetches no
    repository: then only the bootstrap's "is up" is looked for (the apt and npm marks need the first)."""
    lines = _short_unix_lines(journal)
    marks: dict[str, list[Any]] = {}
    first_vendor, *others = JOURNAL_MARKS.items()
    vendor = [(at, text) for at, text in lines if re.search(first_vendor[1], text)]
    first = min(vendor) if vendor else None
    if first is not None:
        marks[first_vendor[0]] = list(first)
    for label, pattern in others:
        if first is None and label != "bootstrap reports OpenClaw up":
            continue
        since = first[0] if first is not None else 0.0
        found = [(at, text) for at, text in lines if at >= since and re.search(pattern, text)]
        if found:
            marks[label] = list(max(found))
    return marks


def gateway_unit_marks(journal: str) -> dict[str, Any]:
    """From systemd's lines about the gateway's unit (`journalctl -u openclaw-gateway -o short-unix`): when
    it first started, how often it started, and how many of those runs failed (under TCG openclaw's 5 s
    lease-worker budget fails first starts; docs/e2e-vm.md)."""
    lines = _short_unix_lines(journal)
    started = [
        at for at, text in lines if re.match(r"Started (openclaw-gateway\.service|OpenClaw Gateway)", text)
    ]
    failed = [at for at, text in lines if "Failed with result" in text]
    return {
        "unit first started": min(started) if started else None,
        "starts": len(started),
        "failed runs": len(failed),
    }


def systemd_span_seconds(span: str) -> float:
    """systemd's time span, e.g. `1min 2.345s` or `345ms`, in seconds."""
    parts = re.findall(r"([\d.]+)(min|ms|us|s|h)", span)
    if not parts:
        raise ValueError(f"not a systemd time span: {span!r}")
    return sum(float(value) * _UNIT_SECONDS[unit] for value, unit in parts)


def startup_spans(line: str) -> dict[str, float]:
    """`Startup finished in 14.4s (kernel) + 11min 30.0s (userspace) = ...` -> {kernel: 14.4, ...}."""
    match = _STARTUP.search(line)
    if not match:
        return {}
    spans = {}
    for part in match.group("spans").split(" + "):
        span, _, name = part.rpartition(" (")
        spans[name.rstrip(")")] = systemd_span_seconds(span)
    return spans


def npm_reported(line: str) -> tuple[int, float | None]:
    """npm's own `added N packages in T`: the package count and T in seconds (None when absent)."""
    match = _NPM_ADDED.search(line)
    if not match:
        raise ValueError(f"not npm's summary line: {line!r}")
    took = match.group("took")
    return int(match.group("count")), float(took) * _UNIT_SECONDS[match.group("unit")] if took else None


def since_boot(value: float, boot_epoch: float) -> float:
    """Seconds since the kernel started. cloud-init 25.1's status.json holds uptimes (159.44), older ones
    epoch times; an epoch is recognised by its size (no guest runs for three years)."""
    return value - boot_epoch if value > 1e8 else value


def _event_span(events: list[dict[str, Any]], name: str) -> tuple[float, float] | None:
    start = [e["timestamp"] for e in events if e["name"] == name and e["event_type"] == "start"]
    finish = [e["timestamp"] for e in events if e["name"] == name and e["event_type"] == "finish"]
    return (min(start), max(finish)) if start and finish else None


def stage_seconds(record: dict[str, Any]) -> dict[str, float]:
    """The first boot's stages in seconds, each from one mark to the next (absent marks leave gaps)."""
    stages: dict[str, float] = {}
    boot = record["boot_epoch"]
    spans = startup_spans(record.get("systemd_startup", ""))
    if "kernel" in spans:
        stages["kernel (to systemd in the root filesystem)"] = spans["kernel"]
    cloud = {
        stage: {key: since_boot(value, boot) for key, value in times.items() if value}
        for stage, times in record.get("cloud_init_stages", {}).items()
    }
    local, final = cloud.get("init-local", {}), cloud.get("modules-final", {})
    if local.get("start") and spans.get("kernel") is not None:
        stages["systemd to cloud-init init-local"] = local["start"] - spans["kernel"]
    if local.get("start") and final.get("start"):
        stages["cloud-init init-local, init, modules-config (network, users, SSH, files)"] = (
            final["start"] - local["start"]
        )
    events = record.get("cloud_init_events", [])
    packages = _event_span(events, "modules-final/config-package-update-upgrade-install")
    if packages:
        stages["cloud-init package update, upgrade, install (Debian)"] = packages[1] - packages[0]
    scripts = _event_span(events, "modules-final/config-scripts-user")
    marks = {label: at for label, (at, _) in record.get("journal_marks", {}).items()}
    apt_done = marks.get("apt (nodejs, caddy) last line")
    npm_done = marks.get("npm install done")
    up = marks.get("bootstrap reports OpenClaw up")
    if scripts and apt_done:
        stages["bootstrap: firewall, sshd, vendor repositories, apt install nodejs caddy"] = (
            apt_done - scripts[0]
        )
    if apt_done and npm_done:
        stages["bootstrap: npm install -g openclaw"] = npm_done - apt_done
    if npm_done and up:
        stages["bootstrap: gateway and Caddy start to first /readyz 200"] = up - npm_done
    if up:
        stages["kernel start to OpenClaw up (guest clock)"] = up - boot
    if final.get("finished"):
        stages["kernel start to cloud-init done (guest clock)"] = final["finished"]
    return {label: round(value, 1) for label, value in stages.items()}

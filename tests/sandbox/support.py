"""What the sandbox tests share: the examples they expect, and the processes a sandbox left behind (found by
where they run, not by name)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from clawhost_sandbox.controlplane import pid_alive

from openclaw_operator.api import KIND


def processes_under(directory: Path) -> list[int]:
    """PIDs whose command line or working directory lies in `directory`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue
        if (str(directory) in cmdline or cwd.startswith(str(directory))) and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def example_instances(clone: Path) -> set[str]:
    documents = [
        d for p in (clone / "examples").glob("*.yaml") for d in yaml.safe_load_all(p.read_text()) if d
    ]
    return {d["metadata"]["name"] for d in documents if d.get("kind") == KIND}

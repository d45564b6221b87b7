"""Rendering the chart with the real helm (built from Go modules by tests/controlplane/build.sh)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from clawhost_sandbox.controlplane import ensure_binaries

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "openclaw-operator"
FULL_VALUES = Path(__file__).with_name("full-values.yaml")
SHARD_VALUES = Path(__file__).with_name("shards-values.yaml")
MONITORING_CRDS = Path(__file__).with_name("monitoring-crds.yaml")
RELEASE = "claw"

Manifest = dict[str, Any]


@cache
def helm_path() -> str:
    return str(ensure_binaries() / "helm")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([helm_path(), *args], capture_output=True, text=True, timeout=120, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def template_args(
    namespace: str = "ops",
    values: Sequence[Path] = (),
    sets: Iterable[str] = (),
    include_crds: bool = False,
    show_only: str | None = None,
    release: str = RELEASE,
) -> list[str]:
    args = ["template", release, str(CHART_DIR), "--namespace", namespace]
    if show_only:
        args += ["--show-only", show_only]
    for path in values:
        args += ["--values", str(path)]
    for assignment in sets:
        args += ["--set", assignment]
    if include_crds:
        args.append("--include-crds")
    return args


def render_text(**kwargs: Any) -> str:
    return helm(*template_args(**kwargs)).stdout


def render(**kwargs: Any) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(render_text(**kwargs)) if doc]


def only(manifests: Iterable[Manifest], kind: str, name: str | None = None) -> Manifest:
    matches = [m for m in manifests if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def of_kind(manifests: Iterable[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def container_env(deployment: Manifest) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container.get("env", [])}

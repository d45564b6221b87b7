"""Helpers for the bootstrap tests: build instances, render them, and read back what a server would get."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from openclaw_operator import api
from openclaw_operator.bootstrap.render import BootstrapSettings, render_user_data

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-6f1c2b9e0d4a4c7f8e3b5a1d9c0e2f47"
CRD_SPEC = yaml.safe_load((REPO_ROOT / "crds" / "openclawinstances.yaml").read_text())["spec"]["versions"][0][
    "schema"
]["openAPIV3Schema"]["properties"]["spec"]["properties"]


def instance(**spec: Any) -> api.OpenClawInstance:
    spec.setdefault("hostname", "claw.example.com")
    spec.setdefault("gatewayTokenSecretRef", {"name": "gw"})
    return api.OpenClawInstance.from_body({"metadata": {"name": "claw", "uid": "u-1"}, "spec": spec})


@dataclass(frozen=True)
class UserData:
    text: str
    config: dict[str, Any]

    def file(self, path: str) -> dict[str, Any]:
        matches = [entry for entry in self.config["write_files"] if entry["path"] == path]
        assert len(matches) == 1, f"{path} written {len(matches)} times"
        return matches[0]

    def content(self, path: str) -> str:
        return str(self.file(path)["content"])


def parse(text: str) -> UserData:
    assert text.startswith("#cloud-config\n")
    return UserData(text, yaml.safe_load(text))


def render(
    spec_instance: api.OpenClawInstance | None = None,
    settings: BootstrapSettings | None = None,
    token: str = TOKEN,
) -> UserData:
    return parse(render_user_data(spec_instance or instance(), settings or BootstrapSettings(), token))


def instance_from_file(path: Path) -> api.OpenClawInstance:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    (body,) = [doc for doc in documents if doc.get("kind") == api.KIND]
    return api.OpenClawInstance.from_body(body)


def unit_directives(text: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]}, keeping repeated keys such as Environment."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key, value))
    return sections


def unit_value(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> str:
    values = [value for name, value in unit[section] if name == key]
    assert len(values) == 1, f"[{section}] {key} set {len(values)} times"
    return values[0]


def unit_environment(unit: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    pairs = [value.partition("=") for name, value in unit["Service"] if name == "Environment"]
    return {name: value for name, _, value in pairs}


def sshd_settings(text: str) -> dict[str, str]:
    """sshd keeps the first value of a keyword; so do we, lower-cased like sshd."""
    settings: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, value = line.partition(" ")
            settings.setdefault(keyword.lower(), value.strip())
    return settings


def nft_chain(text: str, chain: str) -> str:
    match = re.search(r"chain " + chain + r" \{(.*?)\n    \}", text, re.S)
    assert match, f"no chain {chain}"
    return match.group(1)

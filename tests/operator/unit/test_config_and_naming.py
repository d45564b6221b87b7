"""Configuration from the environment (errors name variables, never values) and provider identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from openclaw_operator import api
from openclaw_operator.config import ConfigError, load_config
from openclaw_operator.reconcile import naming

MINIMAL = {
    "HCLOUD_TOKEN": "h-secret-1",
    "CLOUDFLARE_API_TOKEN": "c-secret-2",
    "CLAWHOST_MANAGED_ZONES": "Example.com.",
}


def test_defaults_and_parsing() -> None:
    config = load_config(
        {**MINIMAL, "CLAWHOST_WATCH_NAMESPACES": "a, b", "CLAWHOST_APP_READY_CHECK": "false"}
    )
    assert config.managed_zones == ("example.com",)
    assert config.ssh_source_ranges == ("0.0.0.0/0", "::/0")
    assert config.watch_namespaces == ("a", "b")
    assert config.app_ready_check is False
    assert (config.resync_interval_seconds, config.concurrency, config.min_openclaw_version) == (
        300,
        32,
        "2026.7.1",
    )
    assert config.app_health_url == "https://{hostname}/readyz"
    assert "h-secret-1" not in repr(config) and "h-secret-1" not in str(config.model_dump())


def test_tokens_from_files(tmp_path: Path) -> None:
    (tmp_path / "h").write_text("from-file\n")
    env = {k: v for k, v in MINIMAL.items() if k != "HCLOUD_TOKEN"}
    config = load_config({**env, "HCLOUD_TOKEN_FILE": str(tmp_path / "h")})
    assert config.hcloud_token.get_secret_value() == "from-file"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({}, "HCLOUD_TOKEN (or its _FILE variant) is required"),
        ({"CLAWHOST_MANAGED_ZONES": ""}, "CLAWHOST_MANAGED_ZONES"),
        ({"CLAWHOST_SSH_SOURCE_RANGES": "10.0.0.0/8,nonsense"}, "'nonsense' is not a CIDR range"),
        ({"CLAWHOST_APP_HEALTH_URL": "https://{host}/"}, "unknown placeholder"),
        ({"CLAWHOST_CONCURRENCY": "0"}, "CLAWHOST_CONCURRENCY"),
        ({"CLAWHOST_RESYNC_INTERVAL_SECONDS": "soon"}, "CLAWHOST_RESYNC_INTERVAL_SECONDS"),
        ({"CLAWHOST_DEFAULT_OPENCLAW_VERSION": "2026.1.1"}, "older than the minimum"),
        ({"HCLOUD_TOKEN_FILE": "/nonexistent/token"}, "HCLOUD_TOKEN and HCLOUD_TOKEN_FILE are both set"),
        ({"CLAWHOST_UPDATE_MAX_PARALLEL": "0"}, "CLAWHOST_UPDATE_MAX_PARALLEL"),
        ({"CLAWHOST_UPDATE_FAILURE_BUDGET": "0"}, "CLAWHOST_UPDATE_FAILURE_BUDGET"),
        ({"CLAWHOST_UPDATE_CANARY_PERCENT": "150"}, "CLAWHOST_UPDATE_CANARY_PERCENT"),
    ],
)
def test_invalid_configuration_is_explained_without_values(env: dict[str, str], fragment: str) -> None:
    base = MINIMAL if env else {}
    with pytest.raises(ConfigError) as error:
        load_config({**base, **env})
    assert fragment in str(error.value)
    assert "h-secret-1" not in str(error.value) and "c-secret-2" not in str(error.value)


def test_unreadable_token_file_is_named() -> None:
    env = {k: v for k, v in MINIMAL.items() if k != "HCLOUD_TOKEN"} | {"HCLOUD_TOKEN_FILE": "/nonexistent/t"}
    with pytest.raises(ConfigError, match="HCLOUD_TOKEN_FILE: cannot read /nonexistent/t"):
        load_config(env)


@pytest.mark.parametrize(
    ("name", "uid", "expected"),
    [
        ("alpha", "0b9f3c1e-1111-4222-8333-444455556666", "alpha-0b9f3c1e"),
        ("A" * 60, "ffffffff-0000", "a" * 40 + "-ffffffff"),
        ("x.y", "12345678-aaaa", "x-y-12345678"),
    ],
)
def test_server_name(name: str, uid: str, expected: str) -> None:
    assert naming.server_name(name, uid) == expected
    assert len(expected) <= 63


def test_owner_labels_are_valid_hetzner_values() -> None:
    instance = api.OpenClawInstance.from_body(
        {
            "metadata": {"name": "n" * 70, "namespace": "ns", "uid": "u-1"},
            "spec": {"hostname": "a.example.com", "gatewayTokenSecretRef": {"name": "t"}},
        }
    )
    labels = naming.owner_labels(instance)
    assert labels[naming.INSTANCE_UID_LABEL] == "u-1"
    assert all(len(v) <= 63 for v in labels.values())
    assert naming.owned_by(labels, "u-1") and not naming.owned_by(labels, "u-2")


@pytest.mark.parametrize(
    ("hostname", "explicit", "zone"),
    [
        ("a.b.example.com", None, "b.example.com"),  # the longest managed zone wins
        ("a.example.com", None, "example.com"),
        ("example.com", None, "example.com"),
        ("a.example.org", None, None),
        ("a.b.example.com", "example.com", "example.com"),
        ("a.example.com", "unmanaged.com", None),
        ("notexample.com", None, None),
    ],
)
def test_zone_for(hostname: str, explicit: str | None, zone: str | None) -> None:
    assert naming.zone_for(hostname, explicit, ("example.com", "b.example.com")) == zone


def test_record_owner_and_ipv6() -> None:
    assert naming.record_owner(naming.record_comment("u-1")) == "u-1"
    assert naming.record_owner("something else") is None and naming.record_owner(None) is None
    assert naming.ipv6_address("2001:db8:1::/64") == "2001:db8:1::1"
    assert naming.ipv6_address(None) is None


def test_hetzner_projects_from_secret_files(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("token-a\n")
    (tmp_path / "b").write_text("token-b")
    projects = (
        f'[{{"name": "eu-a", "tokenFile": "{tmp_path / "a"}", "serverQuota": 2, "concurrency": 4,'
        f' "locations": ["fsn1", "nbg1"]}}, {{"name": "eu-b", "tokenFile": "{tmp_path / "b"}"}}]'
    )
    config = load_config({**MINIMAL, "CLAWHOST_HETZNER_PROJECTS": projects})
    default, a, b = config.projects()
    assert [p.name for p in (default, a, b)] == ["default", "eu-a", "eu-b"]  # HCLOUD_TOKEN's comes first
    assert default.token.get_secret_value() == "h-secret-1"
    assert (a.token.get_secret_value(), a.server_quota, a.concurrency) == ("token-a", 2, 4)
    assert a.locations == (api.Location.FSN1, api.Location.NBG1)
    assert b.endpoint == config.hcloud_endpoint and b.server_quota is None and b.locations == ()
    assert "token-a" not in repr(config)
    without_default = {k: v for k, v in MINIMAL.items() if k != "HCLOUD_TOKEN"}
    only = load_config({**without_default, "CLAWHOST_HETZNER_PROJECTS": projects})
    assert [p.name for p in only.projects()] == ["eu-a", "eu-b"]


@pytest.mark.parametrize(
    ("projects", "fragment"),
    [
        ("not json", "CLAWHOST_HETZNER_PROJECTS: is not JSON"),
        ('{"name": "a"}', "must be a JSON list of objects"),
        ('[{"name": "a"}]', "CLAWHOST_HETZNER_PROJECTS[0].tokenFile is required"),
        ('[{"name": "a", "token": "inline-secret"}]', "belongs in a mounted file"),
        ('[{"name": "a", "tokenFile": "/nonexistent/x"}]', "[0].tokenFile: cannot read /nonexistent/x"),
        ('[{"name": "Bad_Name", "tokenFile": "TOKEN"}]', "CLAWHOST_HETZNER_PROJECTS[0].name"),
        ('[{"name": "a", "tokenFile": "TOKEN", "serverQuota": -1}]', "[0].serverQuota"),
        ('[{"name": "a", "tokenFile": "TOKEN", "locations": ["mars"]}]', "[0].locations"),
        ('[{"name": "default", "tokenFile": "TOKEN"}]', "project names must be unique"),
    ],
)
def test_invalid_projects_are_explained(tmp_path: Path, projects: str, fragment: str) -> None:
    (tmp_path / "t").write_text("file-secret-3")
    with pytest.raises(ConfigError) as error:
        load_config({**MINIMAL, "CLAWHOST_HETZNER_PROJECTS": projects.replace("TOKEN", str(tmp_path / "t"))})
    assert fragment in str(error.value)
    for secret in ("inline-secret", "file-secret-3", "h-secret-1"):
        assert secret not in str(error.value)

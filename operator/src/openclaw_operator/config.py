"""Operator configuration: environment variables and mounted Secret files, validated once at start.

Names and defaults are listed in docs/architecture.md. Tokens are wrapped in `SecretStr`, and error
messages name the variable and the problem but never echo a value, so a mistyped token cannot end up
in a crash log.
"""

from __future__ import annotations

import ipaddress
import json
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from openclaw_operator import api
from openclaw_operator.bootstrap.settings import DEFAULT_OPENCLAW_VERSION, MIN_OPENCLAW_VERSION
from openclaw_operator.bootstrap.versions import UnsafeVersionError, check_version, parse_version
from openclaw_operator.reconcile import naming
from openclaw_operator.reconcile.pool import PoolSlot, parse_slots
from openclaw_operator.reconcile.shards import DEFAULT_SHARD

HEALTH_URL_FIELDS = frozenset({"hostname", "ipv4", "server_id"})

# variable name -> field name; `*_FILE` variants exist for the two tokens only.
ENV_FIELDS: dict[str, str] = {
    "HCLOUD_TOKEN": "hcloud_token",
    "HCLOUD_ENDPOINT": "hcloud_endpoint",
    "CLOUDFLARE_API_TOKEN": "cloudflare_api_token",
    "CLOUDFLARE_BASE_URL": "cloudflare_base_url",
    "CLAWHOST_MANAGED_ZONES": "managed_zones",
    "CLAWHOST_SSH_SOURCE_RANGES": "ssh_source_ranges",
    "CLAWHOST_RESYNC_INTERVAL_SECONDS": "resync_interval_seconds",
    "CLAWHOST_DEFAULT_OPENCLAW_VERSION": "default_openclaw_version",
    "CLAWHOST_MIN_OPENCLAW_VERSION": "min_openclaw_version",
    "CLAWHOST_APP_READY_CHECK": "app_ready_check",
    "CLAWHOST_GOLDEN_IMAGES": "golden_images",
    "CLAWHOST_WARM_POOL": "warm_pool",
    "CLAWHOST_APP_HEALTH_URL": "app_health_url",
    "CLAWHOST_CONCURRENCY": "concurrency",
    "CLAWHOST_KUBE_CONNECTIONS": "kube_connections",
    "CLAWHOST_METRICS_PORT": "metrics_port",
    "CLAWHOST_HEALTH_PORT": "health_port",
    "CLAWHOST_LISTEN_ADDRESS": "listen_address",
    "CLAWHOST_WATCH_NAMESPACES": "watch_namespaces",
    "CLAWHOST_SHUTDOWN_TIMEOUT_SECONDS": "shutdown_timeout_seconds",
    "CLAWHOST_ACTION_POLL_SECONDS": "action_poll_seconds",
    "CLAWHOST_PROVIDER_TIMEOUT_SECONDS": "provider_timeout_seconds",
    "CLAWHOST_CLUSTER_ID": "cluster_id",
    "CLAWHOST_ORPHAN_GRACE_SECONDS": "orphan_grace_seconds",
    "CLAWHOST_HETZNER_PROJECTS": "hetzner_projects",  # JSON, parsed by _projects
    "CLAWHOST_SHARD": "shard",
    "CLAWHOST_SHARDS": "shards",
    "CLAWHOST_CHANNEL_SSH_KEY_FILE": "channel_ssh_key_file",
    "CLAWHOST_CHANNEL_SOURCE_RANGES": "channel_source_ranges",
    "CLAWHOST_CHANNEL_PORT": "channel_port",
    "CLAWHOST_CHANNEL_TIMEOUT_SECONDS": "channel_timeout_seconds",
    "CLAWHOST_CHANNEL_CONCURRENCY": "channel_concurrency",
    "CLAWHOST_BACKUP_FINAL_RETENTION_DAYS": "backup_final_retention_days",
    "CLAWHOST_FINAL_BACKUP_TIMEOUT_SECONDS": "final_backup_timeout_seconds",
    "CLAWHOST_BACKUP_SWEEP_INTERVAL_SECONDS": "backup_sweep_interval_seconds",
    "CLAWHOST_UPDATE_MAX_PARALLEL": "update_max_parallel",
    "CLAWHOST_UPDATE_FAILURE_BUDGET": "update_failure_budget",
    "CLAWHOST_UPDATE_CANARY_PERCENT": "update_canary_percent",
}
PROJECTS_VAR = "CLAWHOST_HETZNER_PROJECTS"
DEFAULT_PROJECT = "default"  # the project of HCLOUD_TOKEN, and of instances placed before projects existed

SECRET_FILE_VARS = {"HCLOUD_TOKEN_FILE": "HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN_FILE": "CLOUDFLARE_API_TOKEN"}
FIELD_ENV = {field: var for var, field in ENV_FIELDS.items()}


class ConfigError(Exception):
    """Raised with one line per invalid variable; values are never included."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class HetznerProject(BaseModel):
    """One Hetzner project the operator may place servers in: its token (from a mounted Secret file), and
    what the operator allows itself there. Hetzner limits requests per project, so each has its own limiter;
    `server_quota` is the operator's own ceiling (Hetzner's server limit answers resource_limit_exceeded);
    `locations` empty: every location."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")]
    token: SecretStr
    endpoint: str | None = None
    server_quota: Annotated[int, Field(ge=0)] | None = None
    concurrency: Annotated[int, Field(ge=1, le=256)] | None = None
    locations: tuple[api.Location, ...] = ()


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The one-project default; optional when CLAWHOST_HETZNER_PROJECTS names projects.
    hcloud_token: SecretStr | None = None
    hetzner_projects: tuple[HetznerProject, ...] = ()
    hcloud_endpoint: str = "https://api.hetzner.cloud/v1"
    cloudflare_api_token: SecretStr
    cloudflare_base_url: str = "https://api.cloudflare.com/client/v4"
    managed_zones: Annotated[tuple[str, ...], Field(min_length=1)]
    ssh_source_ranges: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    resync_interval_seconds: Annotated[float, Field(gt=0)] = 300.0
    default_openclaw_version: str = DEFAULT_OPENCLAW_VERSION
    min_openclaw_version: str = MIN_OPENCLAW_VERSION
    app_ready_check: bool = True
    # Create servers from a matching golden snapshot when one exists (docs/golden-images.md).
    golden_images: bool = False
    # Ready servers kept per location and type, `fsn1/cx23=3,nbg1/cx33=1` (docs/golden-images.md, "Warm
    # pool"); empty: no pool. A size of 0 deletes that slot's pool servers.
    warm_pool: tuple[PoolSlot, ...] = ()
    # OpenClaw's readiness endpoint (docs/gateway/health.md: "traffic admission and operator monitoring").
    app_health_url: str = "https://{hostname}/readyz"
    concurrency: Annotated[int, Field(ge=1, le=256)] = 32
    # Kopf's requests to the apiserver at once, beside its watch streams (kopf_session.py).
    kube_connections: Annotated[int, Field(ge=1, le=1024)] = 32
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9090
    health_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    listen_address: str = "0.0.0.0"
    watch_namespaces: tuple[str, ...] = ()
    shutdown_timeout_seconds: Annotated[float, Field(ge=0)] = 120.0
    action_poll_seconds: Annotated[float, Field(gt=0)] = 2.0
    provider_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    # Unique among the clusters whose operators share the Hetzner project. Without it the orphan sweep
    # is off: it could not tell this cluster's orphans from another cluster's live servers.
    cluster_id: str | None = None
    orphan_grace_seconds: Annotated[float, Field(ge=0)] = 3600.0
    # This operator's shard (clawhost.dev/shard label value); the default shard also owns unlabelled
    # instances and any whose label names none of `shards` (the other shards of the cluster).
    shard: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")] = DEFAULT_SHARD
    shards: tuple[str, ...] = ()

    # The channel to running servers (docs/channel.md): the operator's SSH private key (a mounted Secret;
    # its public half derived from it), the ranges the operator connects from (the key is accepted from
    # those only; empty: CLAWHOST_SSH_SOURCE_RANGES), the servers' SSH port and how long one request may
    # take (an OpenClaw update with its backup is the longest). No key: no channel.
    channel_ssh_key_file: str | None = None
    channel_source_ranges: tuple[str, ...] = ()
    channel_port: Annotated[int, Field(ge=1, le=65535)] = 22
    channel_timeout_seconds: Annotated[float, Field(gt=0)] = 900.0
    # Channel sessions at once. Each mostly waits on its server (a pool claim's first push is the
    # gateway's start and first health), so the bound is the operator's handshakes and memory (+0.3 MiB
    # for 8 sessions, bench/results/2026-12-04-channel.md), not the servers. 64 = the pass slots of the
    # default CLAWHOST_CONCURRENCY (admission.py), which bound the pushes anyway: a burst of 200 pool
    # claims reached Ready at p50 47.7 s with 32 sessions and 32.3 s with 64 (docs/golden-images.md).
    channel_concurrency: Annotated[int, Field(ge=1, le=512)] = 64

    # Off-server backups (docs/backups.md; the bucket itself is CLAWHOST_BACKUP_S3_*, read by the store).
    # A deleted instance's backups, its Final one among them, stay this long for a restore; a Final
    # backup may hold up a deletion this long before the server is deleted without it; the bucket is
    # swept for the objects of deleted instances past their retention this often.
    backup_final_retention_days: Annotated[float, Field(ge=0)] = 30.0
    final_backup_timeout_seconds: Annotated[float, Field(ge=0)] = 600.0
    backup_sweep_interval_seconds: Annotated[float, Field(gt=0)] = 3600.0

    # The fleet rollout of OpenClaw versions (docs/channel.md, "Fleet rollout"): at most this many
    # version updates in flight in this shard; the rollout of the default version pauses once this many
    # updates to it failed; a new default goes to this share of its instances first (0: no canary wave).
    update_max_parallel: Annotated[int, Field(ge=1, le=1000)] = 10
    update_failure_budget: Annotated[int, Field(ge=1)] = 2
    update_canary_percent: Annotated[int, Field(ge=0, le=100)] = 10

    _csv = field_validator(
        "managed_zones",
        "ssh_source_ranges",
        "watch_namespaces",
        "channel_source_ranges",
        "shards",
        mode="before",
    )(_split_csv)

    @field_validator("warm_pool", mode="before")
    @classmethod
    def _pool_slots(cls, value: object) -> object:
        return parse_slots(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _pool_needs(self) -> Config:
        if not self.warm_pool:
            return self
        missing = [
            name
            for name, present in (
                (
                    "CLAWHOST_GOLDEN_IMAGES=true (pool servers are made from golden snapshots)",
                    self.golden_images,
                ),
                ("CLAWHOST_CLUSTER_ID (pool servers are this cluster's by it)", self.cluster_id),
                (
                    "CLAWHOST_CHANNEL_SSH_KEY_FILE (a claimed server is personalised through the channel)",
                    self.channel_ssh_key_file,
                ),
            )
            if not present
        ]
        if missing:
            raise ValueError("CLAWHOST_WARM_POOL needs " + "; ".join(missing))
        return self

    @field_validator("hcloud_token", "cloudflare_api_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("managed_zones")
    @classmethod
    def _zones_lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(zone.lower().rstrip(".") for zone in value)

    @field_validator("ssh_source_ranges", "channel_source_ranges")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR range") from None
        return value

    @field_validator("app_health_url")
    @classmethod
    def _template(cls, value: str) -> str:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = names - HEALTH_URL_FIELDS
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(HEALTH_URL_FIELDS)}"
            )
        return value

    @field_validator("cluster_id")
    @classmethod
    def _cluster_label(cls, value: str | None) -> str | None:
        if value and naming.label_value(value) != value:
            raise ValueError(
                "must be a Hetzner label value: 1-63 of A-Z a-z 0-9 . _ -, alphanumeric at both ends"
            )
        return value or None

    @field_validator("default_openclaw_version", "min_openclaw_version")
    @classmethod
    def _calendar_version(cls, value: str) -> str:
        parse_version(value)
        return value

    @model_validator(mode="after")
    def _projects_named_once(self) -> Config:
        if self.hcloud_token is None and not self.hetzner_projects:
            raise ValueError("HCLOUD_TOKEN (or its _FILE variant) is required")
        names = [project.name for project in self.projects()]
        if len(set(names)) != len(names):
            raise ValueError(
                f"{PROJECTS_VAR}: project names must be unique ({DEFAULT_PROJECT!r} is HCLOUD_TOKEN's)"
            )
        return self

    def projects(self) -> tuple[HetznerProject, ...]:
        """Every Hetzner project, HCLOUD_TOKEN's (`default`) first: instances without status.project
        (placed before projects existed) have their servers there."""
        listed = tuple(
            p.model_copy(update={"endpoint": p.endpoint or self.hcloud_endpoint})
            for p in self.hetzner_projects
        )
        if self.hcloud_token is None:
            return listed
        default = HetznerProject(name=DEFAULT_PROJECT, token=self.hcloud_token, endpoint=self.hcloud_endpoint)
        return (default, *listed)

    @model_validator(mode="after")
    def _default_is_safe(self) -> Config:
        try:
            check_version(self.default_openclaw_version, self.min_openclaw_version)
        except UnsafeVersionError as exc:
            raise ValueError(f"CLAWHOST_DEFAULT_OPENCLAW_VERSION: {exc}") from None
        return self


def load_config(environ: Mapping[str, str]) -> Config:
    """Build the configuration from an environment mapping (normally `os.environ`)."""
    raw: dict[str, object] = {}
    problems: list[str] = []
    for var, field in ENV_FIELDS.items():
        if var in environ:
            raw[field] = environ[var]
    for file_var, var in SECRET_FILE_VARS.items():
        path = environ.get(file_var)
        if not path:
            continue
        if var in environ:
            problems.append(f"{var} and {file_var} are both set; set only one")
            continue
        try:
            raw[ENV_FIELDS[var]] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{file_var}: cannot read {path}: {exc.strerror}")
    raw.pop("hetzner_projects", None)
    if environ.get(PROJECTS_VAR, "").strip():
        raw["hetzner_projects"] = _projects(environ[PROJECTS_VAR], problems)
    elif "hcloud_token" not in raw and not any(p.startswith("HCLOUD_TOKEN") for p in problems):
        problems.append(
            f"HCLOUD_TOKEN (or its _FILE variant) is required, unless {PROJECTS_VAR} names projects"
        )
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors(include_input=False, include_url=False))
        config = None
    if problems or config is None:
        raise ConfigError("invalid operator configuration:\n  " + "\n  ".join(problems))
    return config


def _projects(text: str, problems: list[str]) -> list[dict[str, object]]:
    """`[{"name": "eu-a", "tokenFile": "/etc/...", "serverQuota": 500, "concurrency": 16,
    "locations": ["fsn1"], "endpoint": "..."}]`; each token is read from its file, never from the variable."""
    try:
        entries = json.loads(text)
    except ValueError:
        problems.append(f"{PROJECTS_VAR}: is not JSON")
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.append(f"{PROJECTS_VAR}: must be a JSON list of objects")
        return []
    projects = []
    for index, entry in enumerate(entries):
        where = f"{PROJECTS_VAR}[{index}]"
        entry = dict(entry)
        if "token" in entry:
            problems.append(f"{where}: a token belongs in a mounted file (tokenFile), not in the variable")
            continue
        path = entry.pop("tokenFile", None)
        if not isinstance(path, str) or not path:
            problems.append(f"{where}.tokenFile is required")
            continue
        try:
            entry["token"] = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{where}.tokenFile: cannot read {path}: {exc.strerror}")
            continue
        try:
            HetznerProject.model_validate(entry)
        except ValidationError as exc:
            for error in exc.errors(include_input=False, include_url=False):
                loc = ".".join(str(part) for part in error.get("loc", ()))
                problems.append(
                    f"{where}.{loc}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}"
                )
            continue
        projects.append(entry)
    return projects


def _describe(error: Mapping[str, object]) -> str:
    loc = error.get("loc") or ()
    field = str(loc[0]) if isinstance(loc, tuple) and loc else ""
    var = FIELD_ENV.get(field, field or "configuration")
    if error.get("type") == "missing":
        extra = " (or its _FILE variant)" if var in SECRET_FILE_VARS.values() else ""
        return f"{var}{extra} is required"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{var}: {message}"

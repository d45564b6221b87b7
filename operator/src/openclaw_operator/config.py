"""Operator configuration: environment variables and mounted Secret files, validated once at start.

Names and defaults are listed in docs/architecture.md. Tokens are wrapped in `SecretStr`, and error
messages name the variable and the problem but never echo a value, so a mistyped token cannot end up
in a crash log.
"""

from __future__ import annotations

import ipaddress
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

from openclaw_operator.bootstrap.settings import DEFAULT_OPENCLAW_VERSION, MIN_OPENCLAW_VERSION
from openclaw_operator.bootstrap.versions import UnsafeVersionError, check_version, parse_version
from openclaw_operator.reconcile import naming

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
    "CLAWHOST_APP_HEALTH_URL": "app_health_url",
    "CLAWHOST_CONCURRENCY": "concurrency",
    "CLAWHOST_METRICS_PORT": "metrics_port",
    "CLAWHOST_HEALTH_PORT": "health_port",
    "CLAWHOST_LISTEN_ADDRESS": "listen_address",
    "CLAWHOST_WATCH_NAMESPACES": "watch_namespaces",
    "CLAWHOST_SHUTDOWN_TIMEOUT_SECONDS": "shutdown_timeout_seconds",
    "CLAWHOST_ACTION_POLL_SECONDS": "action_poll_seconds",
    "CLAWHOST_PROVIDER_TIMEOUT_SECONDS": "provider_timeout_seconds",
    "CLAWHOST_CLUSTER_ID": "cluster_id",
    "CLAWHOST_ORPHAN_GRACE_SECONDS": "orphan_grace_seconds",
    "CLAWHOST_CHANNEL_SSH_KEY_FILE": "channel_ssh_key_file",
    "CLAWHOST_CHANNEL_SOURCE_RANGES": "channel_source_ranges",
    "CLAWHOST_CHANNEL_PORT": "channel_port",
    "CLAWHOST_CHANNEL_TIMEOUT_SECONDS": "channel_timeout_seconds",
}
SECRET_FILE_VARS = {"HCLOUD_TOKEN_FILE": "HCLOUD_TOKEN", "CLOUDFLARE_API_TOKEN_FILE": "CLOUDFLARE_API_TOKEN"}
FIELD_ENV = {field: var for var, field in ENV_FIELDS.items()}


class ConfigError(Exception):
    """Raised with one line per invalid variable; values are never included."""


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hcloud_token: SecretStr
    hcloud_endpoint: str = "https://api.hetzner.cloud/v1"
    cloudflare_api_token: SecretStr
    cloudflare_base_url: str = "https://api.cloudflare.com/client/v4"
    managed_zones: Annotated[tuple[str, ...], Field(min_length=1)]
    ssh_source_ranges: tuple[str, ...] = ("0.0.0.0/0", "::/0")
    resync_interval_seconds: Annotated[float, Field(gt=0)] = 300.0
    default_openclaw_version: str = DEFAULT_OPENCLAW_VERSION
    min_openclaw_version: str = MIN_OPENCLAW_VERSION
    app_ready_check: bool = True
    # OpenClaw's readiness endpoint (docs/gateway/health.md: "traffic admission and operator monitoring").
    app_health_url: str = "https://{hostname}/readyz"
    concurrency: Annotated[int, Field(ge=1, le=256)] = 32
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
    # The channel to running servers (docs/channel.md): the operator's SSH private key (a mounted Secret;
    # its .pub beside it, or derived), the ranges the operator connects from (the key is accepted from
    # those only; empty: CLAWHOST_SSH_SOURCE_RANGES), the servers' SSH port and how long one request may
    # take (an OpenClaw update with its backup is the longest). No key: no channel.
    channel_ssh_key_file: str | None = None
    channel_source_ranges: tuple[str, ...] = ()
    channel_port: Annotated[int, Field(ge=1, le=65535)] = 22
    channel_timeout_seconds: Annotated[float, Field(gt=0)] = 900.0

    _csv = field_validator(
        "managed_zones", "ssh_source_ranges", "watch_namespaces", "channel_source_ranges", mode="before"
    )(_split_csv)

    @field_validator("hcloud_token", "cloudflare_api_token")
    @classmethod
    def _token_not_blank(cls, value: SecretStr) -> SecretStr:
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
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors(include_input=False, include_url=False))
        config = None
    if problems or config is None:
        raise ConfigError("invalid operator configuration:\n  " + "\n  ".join(problems))
    return config


def _describe(error: Mapping[str, object]) -> str:
    loc = error.get("loc") or ()
    field = str(loc[0]) if isinstance(loc, tuple) and loc else ""
    var = FIELD_ENV.get(field, field or "configuration")
    if error.get("type") == "missing":
        extra = " (or its _FILE variant)" if var in SECRET_FILE_VARS.values() else ""
        return f"{var}{extra} is required"
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{var}: {message}"

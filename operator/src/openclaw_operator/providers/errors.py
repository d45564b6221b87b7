"""Provider failures in the operator's terms: what a failed call means for the reconcile.

- `RateLimited` (ratelimit.py): wait until the limiter's bucket refills, reason RateLimited.
- `Transient`: try again after a backoff with jitter (5xx, timeouts, `locked`, `conflict`, lost
  connections; also rejected credentials, which an administrator fixes without touching the spec).
- `Permanent`: the provider refused this spec; Stalled with the provider's own message until the spec
  changes (invalid input, unknown type/location/image, quota).
- `NotFound`, `AlreadyExists`: answers the reconcile handles itself (gone is gone; adopt or stall).

The classification is a pure function of (operation, code, HTTP status), tested row by row. Messages
are the provider's own and never contain a token: the SDK exceptions carry only the response body.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    RATE_LIMITED = "rate_limited"


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    ACTION = "action"
    UPDATE = "update"
    DELETE = "delete"


@dataclass
class ProviderError(Exception):
    provider: str
    operation: str  # e.g. "create_server", for the message and the metrics
    kind: Kind
    code: str
    message: str
    long_backoff: bool = False  # credentials or capacity: retrying soon would not help

    def __str__(self) -> str:
        return f"{self.provider} {self.operation} failed ({self.code}): {self.message}"


# Hetzner error codes (docs.hetzner.cloud "Errors"; hcloud-go hcloud/error.go).
HETZNER_TRANSIENT = frozenset(
    {
        "conflict",
        "locked",
        "resource_locked",
        "service_error",
        "server_error",
        "unknown_error",
        "bad_gateway",
        "timeout",
        "maintenance",
        "unavailable",
        "robot_unavailable",
        "server_not_stopped",  # the server changed state under us; the next pass re-plans
        "protected",  # protection is lifted by an earlier step of the next pass
        "resource_in_use",
    }
)
HETZNER_SLOW_TRANSIENT = frozenset({"unauthorized", "forbidden", "token_readonly", "resource_unavailable"})
HETZNER_PERMANENT = frozenset(
    {
        "invalid_input",
        "json_error",
        "invalid_server_type",
        "resource_limit_exceeded",
        "placement_error",
        "unsupported_error",
        "deprecated_api_endpoint",
    }
)


def classify_hetzner(operation: Operation, code: str | int, status: int | None) -> tuple[Kind, bool]:
    """(kind, long_backoff) for one Hetzner error."""
    if code in ("rate_limit_exceeded", "limit_reached") or status == 429:
        return Kind.RATE_LIMITED, False
    if code == "not_found":
        # Creating with an unknown type, image or location answers not_found: the spec is at fault.
        return (Kind.PERMANENT, False) if operation == Operation.CREATE else (Kind.NOT_FOUND, False)
    if code == "uniqueness_error":
        return Kind.ALREADY_EXISTS, False
    if code in HETZNER_SLOW_TRANSIENT:
        return Kind.TRANSIENT, True
    if code in HETZNER_TRANSIENT:
        return Kind.TRANSIENT, False
    if code in HETZNER_PERMANENT:
        return Kind.PERMANENT, False
    if isinstance(code, int) or status is None:
        return _by_status(status if status is not None else int(code) if isinstance(code, int) else 0)
    return _by_status(status)


# Cloudflare DNS error codes (api.cloudflare.com; external-dns, certbot, lexicon handle the same ones).
CLOUDFLARE_ALREADY_EXISTS = frozenset({81053, 81054, 81057, 81058})
CLOUDFLARE_NOT_FOUND = frozenset({81044, 7003})


def classify_cloudflare(
    operation: Operation, codes: tuple[int, ...], status: int | None
) -> tuple[Kind, bool]:
    if status == 429:
        return Kind.RATE_LIMITED, False
    if any(code in CLOUDFLARE_ALREADY_EXISTS for code in codes):
        return Kind.ALREADY_EXISTS, False
    if status == 404 or any(code in CLOUDFLARE_NOT_FOUND for code in codes):
        return Kind.NOT_FOUND, False
    if status in (401, 403):
        return Kind.TRANSIENT, True
    if status is None:
        return Kind.TRANSIENT, False
    return _by_status(status)


def _by_status(status: int) -> tuple[Kind, bool]:
    if status == 429:
        return Kind.RATE_LIMITED, False
    if status in (408, 409, 423, 425) or status >= 500 or status == 0:
        return Kind.TRANSIENT, False
    if status == 404:
        return Kind.NOT_FOUND, False
    if status in (401, 403):
        return Kind.TRANSIENT, True
    return Kind.PERMANENT, False

"""The one failure type of a reconcile pass: what went wrong, in the operator's terms.

Adapters, the rate limiter and the actuator all raise `Failure`; its `kind` says what the pass does next:
- `RATE_LIMITED`: wait until the limiter's estimate refills (`retry_in`), or a short backoff after a 429.
- `RETRYING`: transient, back off with jitter (5xx, timeouts, `locked`, `conflict`, lost connections;
  also rejected credentials, which an administrator fixes without touching the spec: `slow`).
- `WAITING`: something outside the providers (the gateway token Secret) is not there yet.
- `STALLED`: the spec cannot work as it is; Stalled with the provider's own message. A `frozen` stall
  (the provider refused the spec) is not tried again until the spec changes or a reconcile is requested:
  repeating a refused request only burns rate limit.
- `NOT_FOUND`, `ALREADY_EXISTS`: answers the caller handles itself (gone is gone; adopt or stall); one
  that escapes to the pass is retried like a transient error.

The classification is a pure function of (operation, code), tested row by row. Messages are the
provider's own and never contain a token: the SDK exceptions carry only the response body.
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    RETRYING = "retrying"
    WAITING = "waiting"
    STALLED = "stalled"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"


class Operation(StrEnum):
    READ = "read"
    CREATE = "create"
    ACTION = "action"
    UPDATE = "update"
    DELETE = "delete"


class Failure(Exception):
    """`reason` is the CamelCase event and condition reason; `message` is what a human reads."""

    def __init__(
        self,
        kind: FailureKind,
        reason: str,
        message: str,
        *,
        frozen: bool = False,
        slow: bool = False,
        retry_in: float | None = None,
        code: str = "",
        about: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason
        self.message = message
        self.frozen = frozen  # not retried until the spec changes or a reconcile is requested
        self.slow = slow  # credentials or capacity: retrying soon would not help
        self.retry_in = retry_in  # seconds until the rate limiter lets a request through
        self.code = code  # the provider's error code, when a provider answered
        self.about = about  # the condition type this failure also sets False (e.g. ConfigApplied)

    def __repr__(self) -> str:
        return f"Failure({self.kind.value}, {self.reason!r}, {self.message!r}, frozen={self.frozen})"


class RateLimited(Failure):
    """The limiter refused to send; retry no earlier than `retry_at` (unix seconds)."""

    def __init__(self, provider: str, retry_at: float, now: float) -> None:
        delay = max(0.0, retry_at - now)
        message = f"{provider} rate limit reached; retrying in {delay:.0f}s"
        super().__init__(FailureKind.RATE_LIMITED, "RateLimited", message, retry_in=delay)
        self.provider = provider
        self.retry_at = retry_at
        self.delay = delay


PROVIDER_REASONS = {
    FailureKind.RATE_LIMITED: "RateLimited",
    FailureKind.STALLED: "ProviderRejected",
}


def provider_failure(
    provider: str, operation: str, kind: FailureKind, slow: bool, code: str, message: str
) -> Failure:
    """A classified provider answer; a refusal (STALLED) is frozen, everything else is tried again."""
    return Failure(
        kind,
        PROVIDER_REASONS.get(kind, "ProviderRetrying"),
        f"{provider} {operation} failed ({code}): {message}",
        frozen=kind == FailureKind.STALLED,
        slow=slow,
        code=code,
    )


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
        "not_implemented",  # the endpoint does not exist on this API (the simulators answer it, 501)
    }
)


def classify_hetzner(operation: Operation, code: str | int) -> tuple[FailureKind, bool]:
    """(kind, slow) for one Hetzner error. hcloud's `code` is the error code of a JSON error body, or
    the HTTP status when the body was not one."""
    if isinstance(code, int):
        return _by_status(code)
    if code in ("rate_limit_exceeded", "limit_reached"):
        return FailureKind.RATE_LIMITED, False
    if code == "not_found":
        # Creating with an unknown type, image or location answers not_found: the spec is at fault.
        return (FailureKind.STALLED if operation == Operation.CREATE else FailureKind.NOT_FOUND), False
    if code == "uniqueness_error":
        return FailureKind.ALREADY_EXISTS, False
    if code in HETZNER_SLOW_TRANSIENT:
        return FailureKind.RETRYING, True
    if code in HETZNER_TRANSIENT:
        return FailureKind.RETRYING, False
    if code in HETZNER_PERMANENT:
        return FailureKind.STALLED, False
    return FailureKind.RETRYING, False  # a code newer than these tables: assume it passes


# Cloudflare DNS error codes (api.cloudflare.com; external-dns, certbot, lexicon handle the same ones).
CLOUDFLARE_ALREADY_EXISTS = frozenset({81053, 81054, 81057, 81058})
CLOUDFLARE_NOT_FOUND = frozenset({81044, 7003})


def classify_cloudflare(codes: tuple[int, ...], status: int | None) -> tuple[FailureKind, bool]:
    if status == 429:
        return FailureKind.RATE_LIMITED, False
    if any(code in CLOUDFLARE_ALREADY_EXISTS for code in codes):
        return FailureKind.ALREADY_EXISTS, False
    if any(code in CLOUDFLARE_NOT_FOUND for code in codes):
        return FailureKind.NOT_FOUND, False
    return _by_status(status or 0)


def _by_status(status: int) -> tuple[FailureKind, bool]:
    if status == 429:
        return FailureKind.RATE_LIMITED, False
    if status in (408, 409, 423, 425) or status >= 500 or status == 0:
        return FailureKind.RETRYING, False
    if status == 404:
        return FailureKind.NOT_FOUND, False
    if status in (401, 403):
        return FailureKind.RETRYING, True
    return FailureKind.STALLED, False

"""Error classification, one row per provider answer."""

from __future__ import annotations

import pytest

from openclaw_operator.providers.errors import (
    FailureKind,
    Operation,
    classify_cloudflare,
    classify_hetzner,
    provider_failure,
)

R, C, A, D = Operation.READ, Operation.CREATE, Operation.ACTION, Operation.DELETE


@pytest.mark.parametrize(
    ("operation", "code", "kind", "slow"),
    [
        (C, "rate_limit_exceeded", FailureKind.RATE_LIMITED, False),
        (C, "invalid_input", FailureKind.STALLED, False),
        (C, "resource_limit_exceeded", FailureKind.STALLED, False),
        (A, "invalid_server_type", FailureKind.STALLED, False),
        (D, "not_implemented", FailureKind.STALLED, False),  # never "gone": a delete must not pass
        (C, "not_found", FailureKind.STALLED, False),  # unknown image/type/location
        (D, "not_found", FailureKind.NOT_FOUND, False),
        (R, "not_found", FailureKind.NOT_FOUND, False),
        (C, "uniqueness_error", FailureKind.ALREADY_EXISTS, False),
        (A, "locked", FailureKind.RETRYING, False),
        (A, "conflict", FailureKind.RETRYING, False),
        (R, "service_error", FailureKind.RETRYING, False),
        (R, "timeout", FailureKind.RETRYING, False),
        (R, "unauthorized", FailureKind.RETRYING, True),
        (C, "resource_unavailable", FailureKind.RETRYING, True),
        (R, 502, FailureKind.RETRYING, False),  # not a JSON error body: hcloud's code is the HTTP status
        (R, 429, FailureKind.RATE_LIMITED, False),
        (C, 400, FailureKind.STALLED, False),
        (R, 401, FailureKind.RETRYING, True),
        (R, 404, FailureKind.NOT_FOUND, False),
        (C, "brand_new_code", FailureKind.RETRYING, False),  # newer than our tables: assume it passes
    ],
)
def test_classify_hetzner(operation: Operation, code: str | int, kind: FailureKind, slow: bool) -> None:
    assert classify_hetzner(operation, code) == (kind, slow)


@pytest.mark.parametrize(
    ("codes", "status", "kind"),
    [
        ((971,), 429, FailureKind.RATE_LIMITED),
        ((81057,), 400, FailureKind.ALREADY_EXISTS),
        ((81058,), 400, FailureKind.ALREADY_EXISTS),
        ((81053,), 400, FailureKind.ALREADY_EXISTS),
        ((81044,), 404, FailureKind.NOT_FOUND),
        ((9005,), 400, FailureKind.STALLED),
        ((1004,), 400, FailureKind.STALLED),
        ((10000,), 403, FailureKind.RETRYING),
        ((), 500, FailureKind.RETRYING),
        ((), 409, FailureKind.RETRYING),
    ],
)
def test_classify_cloudflare(codes: tuple[int, ...], status: int, kind: FailureKind) -> None:
    assert classify_cloudflare(codes, status)[0] == kind


@pytest.mark.parametrize(
    ("kind", "reason", "frozen"),
    [
        (FailureKind.STALLED, "ProviderRejected", True),  # not asked again until the spec changes
        (FailureKind.RETRYING, "ProviderRetrying", False),
        (FailureKind.RATE_LIMITED, "RateLimited", False),
        (FailureKind.NOT_FOUND, "ProviderRetrying", False),
    ],
)
def test_provider_failure_reason_and_freezing(kind: FailureKind, reason: str, frozen: bool) -> None:
    failure = provider_failure("hetzner", "create_server", kind, False, "invalid_input", "bad image")
    assert (failure.kind, failure.reason, failure.frozen) == (kind, reason, frozen)
    assert failure.message == "hetzner create_server failed (invalid_input): bad image"

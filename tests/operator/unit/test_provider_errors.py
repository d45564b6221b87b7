"""Error classification, one row per provider answer."""

from __future__ import annotations

import pytest

from openclaw_operator.providers.errors import Kind, Operation, classify_cloudflare, classify_hetzner

R, C, A, D = Operation.READ, Operation.CREATE, Operation.ACTION, Operation.DELETE


@pytest.mark.parametrize(
    ("operation", "code", "status", "kind", "slow"),
    [
        (C, "rate_limit_exceeded", None, Kind.RATE_LIMITED, False),
        (C, "invalid_input", None, Kind.PERMANENT, False),
        (C, "resource_limit_exceeded", None, Kind.PERMANENT, False),
        (A, "invalid_server_type", None, Kind.PERMANENT, False),
        (C, "not_found", None, Kind.PERMANENT, False),  # unknown image/type/location
        (D, "not_found", None, Kind.NOT_FOUND, False),
        (R, "not_found", None, Kind.NOT_FOUND, False),
        (C, "uniqueness_error", None, Kind.ALREADY_EXISTS, False),
        (A, "locked", None, Kind.TRANSIENT, False),
        (A, "conflict", None, Kind.TRANSIENT, False),
        (R, "service_error", None, Kind.TRANSIENT, False),
        (R, "timeout", None, Kind.TRANSIENT, False),
        (R, "unauthorized", None, Kind.TRANSIENT, True),
        (C, "resource_unavailable", None, Kind.TRANSIENT, True),
        (R, 502, 502, Kind.TRANSIENT, False),
        (R, 429, 429, Kind.RATE_LIMITED, False),
        (C, "brand_new_code", 400, Kind.PERMANENT, False),
        (C, "brand_new_code", 503, Kind.TRANSIENT, False),
    ],
)
def test_classify_hetzner(
    operation: Operation, code: str | int, status: int | None, kind: Kind, slow: bool
) -> None:
    assert classify_hetzner(operation, code, status) == (kind, slow)


@pytest.mark.parametrize(
    ("codes", "status", "kind"),
    [
        ((971,), 429, Kind.RATE_LIMITED),
        ((81057,), 400, Kind.ALREADY_EXISTS),
        ((81058,), 400, Kind.ALREADY_EXISTS),
        ((81053,), 400, Kind.ALREADY_EXISTS),
        ((81044,), 404, Kind.NOT_FOUND),
        ((9005,), 400, Kind.PERMANENT),
        ((1004,), 400, Kind.PERMANENT),
        ((10000,), 403, Kind.TRANSIENT),
        ((), 500, Kind.TRANSIENT),
        ((), 409, Kind.TRANSIENT),
    ],
)
def test_classify_cloudflare(codes: tuple[int, ...], status: int, kind: Kind) -> None:
    assert classify_cloudflare(Operation.CREATE, codes, status)[0] == kind

"""Cloudflare's numeric error codes, as the v4 API answers them (HTTP status, code, message)."""

from __future__ import annotations

from typing import Any

from ..simserver import ApiError


def cf_error(status: int, code: int, message: str, chain: list[tuple[int, str]] | None = None) -> ApiError:
    details: dict[str, Any] | None = None
    if chain:
        details = {"error_chain": [{"code": c, "message": m} for c, m in chain]}
    return ApiError(status, code, message, details)


def validation(code: int, message: str) -> ApiError:
    """Record validation failures travel as 1004 "DNS Validation Error" with the cause in `error_chain`."""
    return cf_error(400, 1004, "DNS Validation Error", [(code, message)])


def record_not_found() -> ApiError:
    return cf_error(404, 81044, "Record does not exist.")


def bad_route(path: str) -> ApiError:
    return cf_error(400, 7003, f"Could not route to {path}, perhaps your object identifier is invalid?")


def invalid_json(reason: str) -> ApiError:
    return cf_error(400, 9207, f"Request body is invalid: {reason}")

"""Hetzner's error codes and the HTTP status each travels with (docs.hetzner.cloud, "Errors")."""

from __future__ import annotations

from typing import Any

from ..simserver import ApiError

STATUS = {
    "invalid_input": 400,
    "json_error": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "resource_limit_exceeded": 403,
    "not_found": 404,
    "uniqueness_error": 409,
    "conflict": 409,
    "invalid_server_type": 422,
    "server_not_stopped": 422,
    "resource_unavailable": 422,
    "firewall_already_applied": 422,
    "firewall_resource_not_found": 422,
    "firewall_managed_by_label_selector": 422,
    "resource_in_use": 422,
    "locked": 423,
    "protected": 423,
    "rate_limit_exceeded": 429,
    "server_error": 500,
    "not_implemented": 501,  # the simulator's own: a documented route it does not serve
    "bad_gateway": 502,
    "service_error": 503,
    "unavailable": 503,
    "timeout": 504,
}


def hetzner_error(code: str, message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(STATUS.get(code, 400), code, message, details)


def invalid_input(field: str, message: str) -> ApiError:
    return hetzner_error(
        "invalid_input",
        f"invalid input in field '{field}': {message}",
        {"fields": [{"name": field, "messages": [message]}]},
    )


def not_found(kind: str, identifier: object) -> ApiError:
    return hetzner_error("not_found", f"{kind} with ID {identifier} not found")


def uniqueness(field: str, message: str) -> ApiError:
    return hetzner_error("uniqueness_error", message, {"fields": [{"name": field}]})


def json_error(reason: str) -> ApiError:
    return hetzner_error("json_error", reason)

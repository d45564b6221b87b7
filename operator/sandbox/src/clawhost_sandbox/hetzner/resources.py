"""What every named, labelled Hetzner resource (server, SSH key, firewall) shares: lookup by id, label
validation, and `PUT` semantics (rename unless the name is taken; labels sent replace the whole set)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from .errors import invalid_input, not_found, uniqueness
from .labels import label_problem

_HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
HOSTNAME = re.compile(rf"^{_HOST_LABEL}(?:\.{_HOST_LABEL})*$")  # RFC 1123: server names and PTR records


class Named(Protocol):
    id: int
    name: str
    labels: dict[str, str]


N = TypeVar("N", bound=Named)


def find(store: dict[int, N], kind: str, ident: str | int) -> N:
    found = store.get(int(ident)) if str(ident).isdigit() else None
    if found is None:
        raise not_found(kind, ident)
    return found


def checked_labels(body: dict[str, Any], default: dict[str, str]) -> dict[str, str]:
    labels = body.get("labels", default)
    if problem := label_problem(labels):
        raise invalid_input("labels", problem)
    return dict(labels)


def required_name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise invalid_input("name", "is required")
    return name


def ensure_unique_name(name: str, siblings: Iterable[Named], kind: str, except_id: int | None = None) -> None:
    if any(other.name == name and other.id != except_id for other in siblings):
        raise uniqueness("name", f"{kind} name is already used")


def update_named(
    resource: N,
    body: dict[str, Any],
    siblings: Iterable[Named],
    kind: str,
    check_name: Callable[[dict[str, Any]], str] = required_name,
) -> N:
    """Validate everything first, then change: a refused PUT leaves the resource as it was."""
    name = check_name(body) if "name" in body else resource.name
    ensure_unique_name(name, siblings, kind, except_id=resource.id)
    labels = checked_labels(body, resource.labels)
    resource.name, resource.labels = name, labels
    return resource

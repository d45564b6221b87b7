"""List semantics shared by every Hetzner collection: `name`, `label_selector`, `sort`, `page`/`per_page`
and the `meta.pagination` block (per_page defaults to 25, at most 50)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from multidict import MultiMapping

from .errors import invalid_input
from .labels import SelectorError, parse_selector

T = TypeVar("T")
DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 50


def _positive_int(query: MultiMapping[str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_input(name, "must be an integer") from None
    if value < 1:
        raise invalid_input(name, "must be at least 1")
    return value


def select(
    items: Sequence[T],
    query: MultiMapping[str],
    *,
    name: Callable[[T], str] | None = None,
    labels: Callable[[T], Mapping[str, str]] | None = None,
    sort_keys: Mapping[str, Callable[[T], Any]] | None = None,
) -> list[T]:
    """Filter by `name` and `label_selector`, then apply `sort=field[:asc|:desc]` (repeatable)."""
    chosen = list(items)
    if name is not None and "name" in query:
        chosen = [item for item in chosen if name(item) == query["name"]]
    if labels is not None and "label_selector" in query:
        try:
            selector = parse_selector(query["label_selector"])
        except SelectorError as exc:
            raise invalid_input("label_selector", str(exc)) from None
        chosen = [item for item in chosen if selector.matches(labels(item))]
    keys = sort_keys or {}
    for spec in reversed(query.getall("sort", [])):  # stable sorts, last key first
        field, _, direction = spec.partition(":")
        if field not in keys or direction not in ("", "asc", "desc"):
            raise invalid_input("sort", f"cannot sort by {spec!r}")
        chosen.sort(key=keys[field], reverse=direction == "desc")
    return chosen


def page_of(items: Sequence[T], query: MultiMapping[str]) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` and its `meta` block."""
    page = _positive_int(query, "page", 1)
    per_page = min(_positive_int(query, "per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    chunk = list(items[(page - 1) * per_page : page * per_page])
    pagination = {
        "page": page,
        "per_page": per_page,
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < last else None,
        "last_page": last,
        "total_entries": total,
    }
    return chunk, {"pagination": pagination}


def listing(
    key: str, items: Sequence[T], query: MultiMapping[str], render: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    chunk, meta = page_of(items, query)
    return {key: [render(item) for item in chunk], "meta": meta}

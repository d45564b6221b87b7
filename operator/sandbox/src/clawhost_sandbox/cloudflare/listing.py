"""List semantics of the v4 API: the SDK's dotted filters (`name.exact`, `comment.startswith`,
`tag.present`, ...), all case-insensitive; `match`/`tag_match`; ordering; and page-number pagination
whose pages past the end are empty (the SDK stops on an empty page)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from multidict import MultiMapping

from .errors import cf_error

Record = dict[str, Any]
Test = Callable[[Record], bool]
TEXT_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "exact": lambda value, wanted: value == wanted,
    "contains": lambda value, wanted: wanted in value,
    "startswith": lambda value, wanted: value.startswith(wanted),
    "endswith": lambda value, wanted: value.endswith(wanted),
}
ORDER_FIELDS = ("type", "name", "content", "ttl", "proxied")


def _text_test(field: str, operator: str, wanted: str) -> Test:
    if operator == "present":
        return lambda record: bool(record.get(field))
    if operator == "absent":
        return lambda record: not record.get(field)
    compare = TEXT_OPERATORS.get(operator)
    if compare is None:
        raise cf_error(400, 9300, f"Unknown filter operator {field}.{operator}.")
    return lambda record: compare(str(record.get(field) or "").lower(), wanted.lower())


def _tag_test(operator: str, wanted: str) -> Test:
    tag_name, _, tag_value = wanted.lower().partition(":")

    def values(record: Record) -> list[str]:
        pairs = (tag.lower().partition(":") for tag in record.get("tags") or [])
        return [value for name, _, value in pairs if name == tag_name]

    if operator == "present":
        return lambda record: bool(values(record))
    if operator == "absent":
        return lambda record: not values(record)
    compare = TEXT_OPERATORS.get(operator)
    if compare is None:
        raise cf_error(400, 9300, f"Unknown filter operator tag.{operator}.")
    return lambda record: any(compare(value, tag_value) for value in values(record))


def _field_test(field: str, operator: str, raw: str, qualify: Callable[[str], str]) -> Test | None:
    if field == "name":
        return _text_test("name", operator or "exact", qualify(raw) if operator in ("", "exact") else raw)
    if field in ("content", "comment"):
        return _text_test(field, operator or "exact", raw)
    if field == "type":
        return lambda record: bool(record["type"] == raw.upper())
    if field == "proxied":
        return lambda record: bool(record["proxied"] == (raw.lower() == "true"))
    if field == "search":  # for humans; a substring of name, content or comment is close enough
        return lambda record: any(
            raw.lower() in str(record.get(f) or "").lower() for f in ("name", "content", "comment")
        )
    return None  # paging, ordering and unknown parameters do not filter


def record_filter(query: MultiMapping[str], qualify: Callable[[str], str]) -> Test:
    """One predicate from the query. `name` values may be relative, like record names on create."""
    tests: list[Test] = []
    tag_tests: list[Test] = []
    for key, raw in query.items():
        field, _, operator = key.partition(".")
        if field == "tag" and operator:
            tag_tests.append(_tag_test(operator, raw))
        elif test := _field_test(field, operator, raw, qualify):
            tests.append(test)
    if tag_tests:
        combine_tags = any if query.get("tag_match") == "any" else all
        tests.append(lambda record: combine_tags(test(record) for test in tag_tests))
    combine = any if query.get("match") == "any" else all
    return lambda record: combine(test(record) for test in tests) if tests else True


def order(records: list[Record], query: MultiMapping[str]) -> list[Record]:
    field = query.get("order")
    if field is None:
        return records
    if field not in ORDER_FIELDS:
        raise cf_error(400, 9300, f"Cannot order by {field}.")
    return sorted(records, key=lambda r: str(r[field]), reverse=query.get("direction") == "desc")


def page_of(
    items: list[Any], query: MultiMapping[str], *, default: int, low: int, high: int, cap: int | None = None
) -> tuple[list[Any], dict[str, int]]:
    """One page. `low`..`high` are the published bounds of `per_page`; `cap`, if lower, is what the
    server really serves per page (`result_info.per_page` says so, and `total_pages` counts with it)."""
    try:
        page = int(query.get("page", "1"))
        asked = int(float(query.get("per_page", str(default))))
    except ValueError:
        raise cf_error(400, 1001, "page and per_page must be numbers") from None
    if page < 1 or not low <= asked <= high:
        raise cf_error(400, 1001, f"per_page must be between {low} and {high}; page must be at least 1")
    per_page = asked if cap is None else min(asked, cap)
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {
        "page": page,
        "per_page": per_page,
        "count": len(chunk),
        "total_count": len(items),
        "total_pages": max(1, math.ceil(len(items) / per_page)),
    }
    return chunk, info

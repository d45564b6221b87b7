"""Hetzner labels: the key/value rules and the label-selector language (`k=v`, `k!=v`, `k in (a,b)`,
`k notin (a,b)`, `k`, `!k`, comma = AND)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,61}[a-zA-Z0-9])?"
_PREFIX = r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]{0,251}[a-zA-Z0-9])?"
KEY = re.compile(rf"^(?:{_PREFIX}/)?{_NAME}$")
VALUE = re.compile(rf"^(?:{_NAME})?$")
RESERVED_PREFIX = "hetzner.cloud/"


def label_problem(labels: object) -> str | None:
    """Why these labels would be refused, or None."""
    if not isinstance(labels, dict):
        return "labels must be an object of strings"
    for key, value in labels.items():
        if not isinstance(value, str):
            return f"label value of {key!r} must be a string"
        if not KEY.match(key):
            return f"label key {key!r} is not correctly formatted"
        if key.startswith(RESERVED_PREFIX):
            return f"label key prefix {RESERVED_PREFIX!r} is reserved"
        if not VALUE.match(value):
            return f"label value {value!r} (key: {key!r}) is not correctly formatted"
    return None


class SelectorError(ValueError):
    pass


Requirement = Callable[[Mapping[str, str]], bool]

_SET = re.compile(r"^\s*(\S+)\s+(in|notin)\s*\(([^()]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s=!]+)\s*(==|=|!=)\s*([^\s=!,]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s=!(),]+)\s*$")


@dataclass(frozen=True)
class LabelSelector:
    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(requirement(labels) for requirement in self.requirements)


def _split(text: str) -> list[str]:
    """Split on commas outside parentheses: `a in (x,y),b` has two requirements."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _requirement(term: str) -> Requirement:
    if match := _SET.match(term):
        key, operator, raw_values = match.groups()
        values = frozenset(v.strip() for v in raw_values.split(","))
        if operator == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EQUALITY.match(term):
        key, operator, value = match.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if match := _EXISTS.match(term):
        negated, key = match.groups()
        if negated:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise SelectorError(f"invalid label selector term {term.strip()!r}")


def parse_selector(text: str) -> LabelSelector:
    if not text.strip():
        raise SelectorError("label selector is empty")
    return LabelSelector(text, tuple(_requirement(term) for term in _split(text)))

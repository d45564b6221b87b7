"""Validate Hetzner simulator responses against the operation's response schema in the OpenAPI description."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS30Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

# Hetzner's published OpenAPI description, kept in the repo with its MIT licence (spec/).
SPEC_FILE = Path(__file__).resolve().parent / "spec" / "hetzner-cloud-openapi.json"
SPEC_URI = "urn:hetzner-cloud-openapi"


def _nullable_refs(node: Any) -> Any:
    """The spec writes "a reference, or null" as `{allOf: [$ref], nullable: true}`; OAS 3.0.3 means null
    is allowed, but a validator applies the referenced schema to null too. Spell it out as anyOf."""
    if isinstance(node, list):
        return [_nullable_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_refs(value) for key, value in node.items()}
    if node.get("nullable") and "allOf" in node and "type" not in node:
        rest = {k: v for k, v in node.items() if k not in ("allOf", "nullable")}
        return {**rest, "anyOf": [{"allOf": node["allOf"]}, {"enum": [None]}]}
    return node


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = _nullable_refs(json.loads(SPEC_FILE.read_text()))
    return loaded


@cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, DRAFT4.create_resource(spec()))


def _pointer_part(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def response_key(template: str, method: str, status: int) -> str:
    """Which documented response a status falls under: the exact code, else `4xx`/`5xx`."""
    responses = spec()["paths"][template][method.lower()]["responses"]
    for key in (str(status), f"{str(status)[0]}xx"):
        if key in responses:
            return key
    raise AssertionError(f"{method} {template} documents no response for HTTP {status}: {sorted(responses)}")


def check_response(method: str, template: str, status: int, payload: Any) -> None:
    """Raise `ValidationError` (or AssertionError for undocumented statuses) if the answer is off-spec."""
    answer = json.dumps([method, template, status, payload], sort_keys=True)
    if answer not in _valid_answers:  # the same answer validates the same way: check it once
        _check(method, template, status, payload)
        _valid_answers.add(answer)


_valid_answers: set[str] = set()


def _check(method: str, template: str, status: int, payload: Any) -> None:
    key = response_key(template, method, status)
    content = spec()["paths"][template][method.lower()]["responses"][key].get("content")
    if content is None:  # e.g. 204: the spec promises no body
        if payload is not None:
            raise ValidationError(f"{method} {template} {status} must have no body, got {payload!r}")
        return
    errors = sorted(
        _validator(template, method.lower(), key).iter_errors(payload), key=lambda e: list(e.path)
    )
    if errors:
        first = errors[0]
        where = "/".join(map(str, first.absolute_path))
        raise ValidationError(f"{method} {template} {status} at /{where}: {first.message}")


@cache
def _validator(template: str, method: str, key: str) -> OAS30Validator:
    parts = ["paths", template, method, "responses", key, "content", "application/json", "schema"]
    pointer = "#/" + "/".join(map(_pointer_part, parts))
    return OAS30Validator(
        {"$ref": SPEC_URI + pointer}, registry=_registry(), format_checker=OAS30Validator.FORMAT_CHECKER
    )


def is_documented(method: str, template: str) -> bool:
    return method.lower() in spec()["paths"].get(template, {})

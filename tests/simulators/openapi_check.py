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


def example_request_body(method: str, template: str) -> Any:
    """A representative body for an operation: the spec's own example, else its required properties
    filled with their examples (or a value of their type). None for an operation that takes no body."""
    operation = spec()["paths"][template][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    if content.get("examples"):
        return next(iter(content["examples"].values()))["value"]
    return _example(content["schema"])


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec()
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = node
    return schema


def _example(schema: dict[str, Any]) -> Any:
    schema = _resolve(schema)
    if "example" in schema:
        return schema["example"]
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_example(part) or {})
        return merged
    for choice in ("oneOf", "anyOf"):
        if choice in schema:
            return _example(schema[choice][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: _example(properties[name]) for name in schema.get("required", []) if name in properties}
    if kind == "array":
        return [_example(schema["items"])] if "items" in schema else []
    return {"string": "x", "integer": 1, "number": 1, "boolean": False}.get(kind)


HTTP_METHODS = ("get", "put", "post", "delete", "patch")
DOCUMENTED_MODULE = (
    Path(__file__).resolve().parents[2] / "operator/sandbox/src/clawhost_sandbox/hetzner/documented_routes.py"
)


def documented_operations() -> list[tuple[str, str]]:
    """(METHOD, template) of every operation in the spec, in the spec's order."""
    return [
        (method.upper(), template)
        for template, operations in spec()["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    ]


def documented_module_text() -> str:
    """The simulator's copy of the operation list (`python -m tests.simulators.openapi_check` writes it)."""
    rows = "".join(f'    ("{method}", "{template}"),\n' for method, template in documented_operations())
    return (
        '"""Every operation the Hetzner Cloud OpenAPI description documents (generated; do not edit).\n\n'
        "Written by `python -m tests.simulators.openapi_check` from tests/simulators/spec/"
        "hetzner-cloud-openapi.json;\n"
        "tests/simulators/test_route_contract.py fails when the two differ. The simulator answers the ones\n"
        "it does not implement with 501 `not_implemented`. A list, not the spec: the package never reads\n"
        'tests/.\n"""\n\n'
        "DOCUMENTED_ROUTES: tuple[tuple[str, str], ...] = (\n" + rows + ")\n"
    )


if __name__ == "__main__":
    DOCUMENTED_MODULE.write_text(documented_module_text())
    print(f"wrote {len(documented_operations())} operations to {DOCUMENTED_MODULE}")

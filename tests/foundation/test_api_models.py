"""The pydantic models in api.py and the CRD schema describe the same API, so the two cannot drift."""

from __future__ import annotations

import enum
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from openclaw_operator import api

CRD = yaml.safe_load((Path(__file__).resolve().parents[2] / "crds" / "openclawinstances.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The model inside an annotation such as `DnsSpec`, `X | None` or `tuple[Condition, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = model_of(argument)
        if found is not None:
            return found
    return None


def enum_of(annotation: Any) -> set[str] | None:
    for candidate in [annotation, *typing.get_args(annotation)]:
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return {member.value for member in candidate}
        if typing.get_origin(candidate) is typing.Literal:
            return set(typing.get_args(candidate))
    return None


def pairs(
    model: type[BaseModel], schema: dict[str, Any], path: str
) -> list[tuple[str, type[BaseModel], dict[str, Any]]]:
    found = [(path, model, schema)]
    for field in model.model_fields.values():
        child = schema["properties"].get(field.alias or "")
        nested = model_of(field.annotation)
        if child is None or nested is None:
            continue
        child_schema = child["items"] if child.get("type") == "array" else child
        found += pairs(nested, child_schema, f"{path}.{field.alias}")
    return found


PAIRS = pairs(api.InstanceSpec, SCHEMA["spec"], "spec") + pairs(
    api.InstanceStatus, SCHEMA["status"], "status"
)


@pytest.mark.parametrize(("path", "model", "schema"), PAIRS, ids=[p[0] for p in PAIRS])
def test_field_names_agree(path: str, model: type[BaseModel], schema: dict[str, Any]) -> None:
    aliases = {field.alias for field in model.model_fields.values()}
    assert aliases == set(schema["properties"]), path


@pytest.mark.parametrize(("path", "model", "schema"), PAIRS, ids=[p[0] for p in PAIRS])
def test_required_fields_agree(path: str, model: type[BaseModel], schema: dict[str, Any]) -> None:
    required = {field.alias for field in model.model_fields.values() if field.is_required()}
    assert required == set(schema.get("required", [])), path


@pytest.mark.parametrize(("path", "model", "schema"), PAIRS, ids=[p[0] for p in PAIRS])
def test_enums_and_defaults_agree(path: str, model: type[BaseModel], schema: dict[str, Any]) -> None:
    for field in model.model_fields.values():
        prop = schema["properties"][field.alias]
        values = enum_of(field.annotation)
        assert values == (set(prop["enum"]) if "enum" in prop else None), f"{path}.{field.alias} enum"
        if "default" in prop and model_of(field.annotation) is None:
            default = field.default
            if isinstance(default, tuple):
                default = list(default)
            if isinstance(default, enum.Enum):
                default = default.value
            assert default == prop["default"], f"{path}.{field.alias} default"
        elif "default" not in prop and field.default is not PydanticUndefined and not field.is_required():
            assert field.default in (None, (), False) or model_of(field.annotation), f"{path}.{field.alias}"


def test_the_walk_covers_the_nested_objects() -> None:
    covered = {path for path, _, _ in PAIRS}
    assert {"spec", "spec.dns", "spec.gatewayTokenSecretRef", "spec.whmcs", "status", "status.conditions",
            "status.dnsRecordIds", "status.action"} <= covered  # fmt: skip


def test_a_full_example_parses_into_the_models() -> None:
    docs = yaml.safe_load_all((Path(__file__).resolve().parents[2] / "examples" / "full.yaml").read_text())
    body = next(d for d in docs if d["kind"] == api.KIND)
    instance = api.OpenClawInstance.from_body(body)
    assert instance.spec.server_type == "cpx31"
    assert instance.spec.gateway_token_secret_ref.key == "gateway-token"
    assert instance.spec.location is api.Location.NBG1
    assert instance.spec.to_api()["gatewayTokenSecretRef"] == {
        "name": "bob-gateway",
        "key": "gateway-token",
    }

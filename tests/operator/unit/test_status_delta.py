"""StatusDelta: the typed status change every planner returns. A misspelt field is an error, not a drop."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from openclaw_operator import api
from openclaw_operator.reconcile.model import StatusDelta

REPO = Path(__file__).resolve().parents[3]
BEFORE = api.InstanceStatus(server_id=7, server_name="a-1", ipv4="203.0.113.7", phase=api.Phase.RUNNING)


def test_an_unknown_field_is_refused_at_runtime() -> None:
    with pytest.raises(ValidationError) as error:
        StatusDelta(server_idd=7)  # type: ignore[call-arg]
    assert "server_idd" in str(error.value)


def test_a_value_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        StatusDelta(server_id="seven")  # type: ignore[arg-type]
    assert "server_id" in str(error.value)


def test_mypy_rejects_a_misspelt_field(tmp_path: Path) -> None:
    from mypy import api as mypy_api

    probe = tmp_path / "probe.py"
    probe.write_text(
        "from openclaw_operator.reconcile.model import StatusDelta\n"
        "StatusDelta(server_idd=7)\n"
        "StatusDelta(server_id=7)\n"
    )
    cache = Path.home() / ".cache" / "openclaw-hosting" / "mypy-probe"
    out, _, status = mypy_api.run(
        [
            "--config-file",
            str(REPO / "operator" / "pyproject.toml"),
            "--cache-dir",
            str(cache),
            str(probe),
        ]
    )
    assert status == 1, out
    assert 'Unexpected keyword argument "server_idd"' in out
    assert out.count("error:") == 1, out  # the correctly spelt field passes


def test_only_the_fields_given_change_and_none_clears() -> None:
    after = StatusDelta(server_id=None, ipv6="2001:db8::1").applied_to(BEFORE)
    assert after.server_id is None and after.ipv6 == "2001:db8::1"
    assert (after.server_name, after.ipv4, after.phase) == ("a-1", "203.0.113.7", api.Phase.RUNNING)
    assert StatusDelta().applied_to(BEFORE) == BEFORE


def test_a_later_delta_wins_where_both_set_a_field() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    combined = StatusDelta(server_id=1, ipv4="192.0.2.1").then(
        StatusDelta(server_id=None, shutdown_started_at=at)
    )
    assert combined.changes() == {"server_id": None, "ipv4": "192.0.2.1", "shutdown_started_at": at}


def test_clearing_a_field_is_not_leaving_it_alone() -> None:
    assert StatusDelta(server_id=None) != StatusDelta()
    assert StatusDelta(server_id=None) == StatusDelta(server_id=None)


def test_every_field_has_the_type_it_has_in_status() -> None:
    """applied_to copies validated values straight into InstanceStatus: the types must be the same."""
    delta = typing.get_type_hints(StatusDelta)
    status = typing.get_type_hints(api.InstanceStatus)
    fields = set(StatusDelta.model_fields)
    assert fields <= set(api.InstanceStatus.model_fields)
    assert {name: delta[name] for name in fields} == {name: status[name] for name in fields}

"""OpenClaw versions: parsing, npm's ordering, and the refusal of releases older than the safe minimum."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openclaw_operator.bootstrap.settings import DEFAULT_OPENCLAW_VERSION, MIN_OPENCLAW_VERSION
from openclaw_operator.bootstrap.versions import (
    VERSION_PATTERN,
    InvalidVersionError,
    OpenClawVersion,
    UnsafeVersionError,
    check_version,
    parse_version,
)
from tests.bootstrap.userdata import CRD_SPEC


def test_version_pattern_is_the_crds() -> None:
    assert CRD_SPEC["openclawVersion"]["pattern"] == VERSION_PATTERN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026.4.23", OpenClawVersion(2026, 4, 23)),
        ("2026.12.1", OpenClawVersion(2026, 12, 1)),
        ("2026.1.24-3", OpenClawVersion(2026, 1, 24, 3)),
        ("2099.12.31-999", OpenClawVersion(2099, 12, 31, 999)),
    ],
)
def test_parse(text: str, expected: OpenClawVersion) -> None:
    assert parse_version(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text",
    ["", "latest", "2026.4", "v2026.4.23", "2026.4.23-beta.1", "2026.4.23\n", "1999.1.1", "2026.123.1"],
)
def test_unreadable_versions_are_refused_as_unsafe(text: str) -> None:
    with pytest.raises(InvalidVersionError, match="not an OpenClaw version"):
        parse_version(text)
    with pytest.raises(UnsafeVersionError):
        check_version(text, "2026.4.23")


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("2026.4.22", "2026.4.23"),
        ("2026.4.23", "2026.4.24"),
        ("2026.3.31", "2026.4.1"),
        ("2026.9.5", "2026.10.1"),  # numeric, not string, comparison
        ("2025.12.31", "2026.1.1"),
        ("2026.4.23-1", "2026.4.23"),  # as in npm semver: a suffixed build precedes its release
        ("2026.4.23-2", "2026.4.23-10"),
        ("2026.4.22", "2026.4.23-1"),
    ],
)
def test_ordering(older: str, newer: str) -> None:
    assert parse_version(older) < parse_version(newer)
    assert not parse_version(newer) < parse_version(older)


@pytest.mark.parametrize("version", ["2026.4.23", "2026.4.24", "2026.9.5", "2027.1.1"])
def test_minimum_and_newer_are_accepted(version: str) -> None:
    check_version(version, "2026.4.23")


@pytest.mark.parametrize("version", ["2026.1.29", "2026.4.22", "2026.4.23-5", "2025.12.31"])
def test_older_than_minimum_is_refused_naming_both(version: str) -> None:
    with pytest.raises(UnsafeVersionError) as refused:
        check_version(version, "2026.4.23")
    message = str(refused.value)
    assert f"OpenClaw {version} is older than the minimum safe release 2026.4.23" in message
    assert "choose 2026.4.23 or newer" in message


versions = st.builds(
    OpenClawVersion,
    st.integers(2000, 2099),
    st.integers(0, 99),
    st.integers(0, 99),
    st.none() | st.integers(0, 999),
)


@given(versions, versions)
def test_order_is_total_and_matches_the_text_round_trip(a: OpenClawVersion, b: OpenClawVersion) -> None:
    assert parse_version(str(a)) == a
    assert (a < b) + (b < a) + (a == b) == 1


def test_default_is_the_newest_release_the_real_app_tests_ran() -> None:
    # tests/realapp installs and runs exactly these releases; the default must be one of them, the newest.
    versions_env = Path(__file__).parents[1] / "realapp" / "versions.env"
    pinned = re.search(r'^OPENCLAW_VERSIONS="([^"]+)"$', versions_env.read_text(), re.M)
    assert pinned is not None, f"{versions_env} has no OPENCLAW_VERSIONS line"
    tested = pinned.group(1).split()
    assert DEFAULT_OPENCLAW_VERSION == max(tested, key=parse_version) == tested[-1]
    check_version(DEFAULT_OPENCLAW_VERSION, MIN_OPENCLAW_VERSION)


def test_floor_is_above_the_2026_advisories() -> None:
    # CVE-2026-62218 was fixed in 2026.5.27 and CVE-2026-100579 in 2026.7.1.
    for fixed_in in ("2026.5.27", "2026.7.1"):
        assert parse_version(MIN_OPENCLAW_VERSION) >= parse_version(fixed_in)

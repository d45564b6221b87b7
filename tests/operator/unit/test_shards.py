"""Shard ownership as a table: the selector each shard's watch sends, and the same decision per instance,
so that every instance has exactly one owner among the shards of a cluster."""

from __future__ import annotations

import pytest

from openclaw_operator.api import SHARD_LABEL
from openclaw_operator.reconcile.shards import label_selector, owns, refusal

SHARDS = ("default", "eu-2", "us-1")

SELECTORS = [
    ("default", (), None),  # unsharded: everything
    ("default", ("default",), None),
    ("default", SHARDS, f"{SHARD_LABEL} notin (eu-2,us-1)"),
    ("eu-2", SHARDS, f"{SHARD_LABEL}=eu-2"),
    ("us-1", ("us-1",), f"{SHARD_LABEL}=us-1"),
]


@pytest.mark.parametrize(("shard", "shards", "selector"), SELECTORS)
def test_label_selector(shard: str, shards: tuple[str, ...], selector: str | None) -> None:
    assert label_selector(shard, shards) == selector


LABELS = [
    ({}, "default"),  # no label: the default shard only
    ({SHARD_LABEL: "default"}, "default"),
    ({SHARD_LABEL: "eu-2"}, "eu-2"),
    ({SHARD_LABEL: "us-1"}, "us-1"),
    ({SHARD_LABEL: "nowhere"}, "default"),  # a label naming no shard: still someone's
    ({"other": "x"}, "default"),
]


@pytest.mark.parametrize(("labels", "owner"), LABELS)
def test_exactly_one_shard_owns_each_instance(labels: dict[str, str], owner: str) -> None:
    assert [shard for shard in SHARDS if owns(shard, SHARDS, labels)] == [owner]


def test_a_shard_refuses_an_instance_another_one_recorded() -> None:
    assert refusal("eu-2", None) is None and refusal("eu-2", "eu-2") is None
    message = refusal("eu-2", "default")
    assert message is not None and "owned by operator shard default" in message and SHARD_LABEL in message

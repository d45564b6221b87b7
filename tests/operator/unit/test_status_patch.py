"""status_patch: the JSON merge patch a pass sends for status, nested objects included."""

from __future__ import annotations

from openclaw_operator import api
from openclaw_operator.reconciler import status_patch


def test_a_key_gone_from_a_nested_object_is_deleted_explicitly() -> None:
    """A merge patch merges objects key by key: without the None, billing.serverType would stay."""
    before = api.InstanceStatus(billing=api.Billing(server_type="cx23"), server_id=7)
    after = api.InstanceStatus(billing=api.Billing(snapshot_size_gb=3.0))
    assert status_patch(before, after) == {
        "billing": {"serverType": None, "snapshotSizeGB": 3.0},
        "serverId": None,
    }


def test_unchanged_fields_are_left_out_and_new_objects_sent_whole() -> None:
    before = api.InstanceStatus(server_id=7)
    after = api.InstanceStatus(server_id=7, hibernation=api.Hibernation(snapshot_id=41, size_gb=1.5))
    assert status_patch(before, after) == {"hibernation": {"snapshotId": 41, "sizeGB": 1.5}}

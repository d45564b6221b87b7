"""Plan memory decides the gateway's heap and whether the server gets swap."""

from __future__ import annotations

import pytest
from clawhost_sandbox.hetzner.catalogue import SERVER_TYPES

from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.bootstrap.sizing import (
    SERVER_MEMORY_GB,
    UNKNOWN_TYPE_MEMORY_GB,
    MemoryPlan,
    plan_memory,
)

DEFAULTS = BootstrapSettings()


@pytest.mark.parametrize(
    ("server_type", "expected"),
    [
        ("cpx11", MemoryPlan(memory_gb=2, heap_mb=1024, swap_mb=2048)),
        ("cx23", MemoryPlan(memory_gb=4, heap_mb=2048, swap_mb=2048)),
        ("cax11", MemoryPlan(memory_gb=4, heap_mb=2048, swap_mb=2048)),
        ("cpx31", MemoryPlan(memory_gb=8, heap_mb=4096, swap_mb=0)),
        ("cx53", MemoryPlan(memory_gb=32, heap_mb=16384, swap_mb=0)),
        ("ccx63", MemoryPlan(memory_gb=192, heap_mb=98304, swap_mb=0)),
        # Unknown types are sized as a small machine: a too-small heap is slow, a too-big one OOMs.
        ("zz999", MemoryPlan(memory_gb=UNKNOWN_TYPE_MEMORY_GB, heap_mb=1024, swap_mb=2048)),
    ],
)
def test_plan_with_default_settings(server_type: str, expected: MemoryPlan) -> None:
    assert (
        plan_memory(server_type, DEFAULTS.heap_fraction, DEFAULTS.swap_up_to_memory_gb, DEFAULTS.swap_size_mb)
        == expected
    )


@pytest.mark.parametrize(
    ("fraction", "swap_up_to", "swap_size", "expected"),
    [
        (0.25, 4, 1024, MemoryPlan(memory_gb=8, heap_mb=2048, swap_mb=0)),
        (0.5, 8, 4096, MemoryPlan(memory_gb=8, heap_mb=4096, swap_mb=4096)),
        (0.75, 16, 0, MemoryPlan(memory_gb=8, heap_mb=6144, swap_mb=0)),
    ],
)
def test_settings_change_the_plan(
    fraction: float, swap_up_to: int, swap_size: int, expected: MemoryPlan
) -> None:
    assert plan_memory("cx33", fraction, swap_up_to, swap_size) == expected


def test_memory_table_agrees_with_the_hetzner_simulator_catalogue() -> None:
    simulated = {server_type.name: server_type.memory for server_type in SERVER_TYPES}
    assert simulated, "the simulator catalogue is empty"
    assert {name: SERVER_MEMORY_GB.get(name) for name in simulated} == simulated

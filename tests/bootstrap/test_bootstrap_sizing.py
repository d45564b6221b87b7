"""Plan memory decides the gateway's heap, its unit's memory limits and whether the server gets swap."""

from __future__ import annotations

import pytest
from clawhost_sandbox.hetzner.catalogue import SERVER_TYPES

from openclaw_operator.bootstrap.settings import BootstrapSettings
from openclaw_operator.bootstrap.sizing import (
    GATEWAY_NON_HEAP_MB,
    GATEWAY_PEAK_RSS_MB,
    SERVER_MEMORY_GB,
    UNKNOWN_TYPE_MEMORY_GB,
    MemoryPlan,
    plan_memory,
)

DEFAULTS = BootstrapSettings()


def plan(server_type: str) -> MemoryPlan:
    return plan_memory(
        server_type, DEFAULTS.heap_fraction, DEFAULTS.swap_up_to_memory_gb, DEFAULTS.swap_size_mb
    )


@pytest.mark.parametrize(
    ("server_type", "expected"),
    # MemoryPlan(memory_gb, heap_mb, swap_mb, memory_high_mb, memory_max_mb)
    [
        ("cpx11", MemoryPlan(2, 1024, 2048, 1344, 1536)),
        ("cx23", MemoryPlan(4, 2048, 2048, 3136, 3584)),
        ("cax11", MemoryPlan(4, 2048, 2048, 3136, 3584)),
        ("cpx31", MemoryPlan(8, 4096, 0, 6720, 7680)),
        ("cx53", MemoryPlan(32, 16384, 0, 28224, 32256)),
        ("ccx63", MemoryPlan(192, 98304, 0, 171584, 196096)),
        # Unknown types are sized as a small machine: a too-small heap is slow, a too-big one OOMs.
        ("zz999", MemoryPlan(UNKNOWN_TYPE_MEMORY_GB, 1024, 2048, 1344, 1536)),
    ],
)  # fmt: skip
def test_plan_with_default_settings(server_type: str, expected: MemoryPlan) -> None:
    assert plan(server_type) == expected


@pytest.mark.parametrize(
    ("fraction", "swap_up_to", "swap_size", "expected"),
    [
        (0.25, 4, 1024, MemoryPlan(8, 2048, 0, 6720, 7680)),
        (0.5, 8, 4096, MemoryPlan(8, 4096, 4096, 6720, 7680)),
        (0.75, 16, 0, MemoryPlan(8, 6144, 0, 6720, 7680)),
    ],
)  # fmt: skip
def test_settings_change_the_plan(
    fraction: float, swap_up_to: int, swap_size: int, expected: MemoryPlan
) -> None:
    assert plan_memory("cx33", fraction, swap_up_to, swap_size) == expected


def test_a_large_heap_share_is_capped_below_memory_high() -> None:
    # 0.8 of a 2 GB plan would be 1638 MB of heap: with the gateway's native memory above MemoryHigh.
    capped = plan_memory("cpx11", 0.8, 4, 2048)
    assert capped.heap_mb == capped.memory_high_mb - GATEWAY_NON_HEAP_MB


@pytest.mark.parametrize("server_type", sorted(SERVER_MEMORY_GB))
def test_every_plan_holds_the_measured_gateway_peak(server_type: str) -> None:
    limits = plan(server_type)
    assert GATEWAY_PEAK_RSS_MB < limits.memory_high_mb < limits.memory_max_mb < limits.memory_gb * 1024
    assert limits.heap_mb + GATEWAY_NON_HEAP_MB <= limits.memory_high_mb


def test_memory_table_agrees_with_the_hetzner_simulator_catalogue() -> None:
    simulated = {server_type.name: server_type.memory for server_type in SERVER_TYPES}
    assert simulated, "the simulator catalogue is empty"
    assert {name: SERVER_MEMORY_GB.get(name) for name in simulated} == simulated

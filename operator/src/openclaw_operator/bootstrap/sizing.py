"""How big a plan is, and what that means for the gateway's heap and for swap.

The server type is all the renderer knows about the machine, so a small table maps Hetzner type names to
memory. An unknown (new or retired) type is treated as a small machine: a heap that is too small costs
some performance, one that is too big gets the gateway OOM-killed in a loop.
"""

from __future__ import annotations

from dataclasses import dataclass

# Memory in GB per Hetzner Cloud server type (Hetzner's public price list, 2025/2026).
SERVER_MEMORY_GB: dict[str, int] = {
    # Shared vCPU, Intel (older generation) and Cost-Optimized (cx*3)
    "cx22": 4, "cx32": 8, "cx42": 16, "cx52": 32,
    "cx23": 4, "cx33": 8, "cx43": 16, "cx53": 32,
    # Regular Performance, AMD
    "cpx11": 2, "cpx21": 4, "cpx31": 8, "cpx41": 16, "cpx51": 32,
    "cpx12": 2, "cpx22": 4, "cpx32": 8, "cpx42": 16, "cpx52": 24, "cpx62": 32,
    # Arm (Ampere)
    "cax11": 4, "cax21": 8, "cax31": 16, "cax41": 32,
    # Dedicated vCPU
    "ccx13": 8, "ccx23": 16, "ccx33": 32, "ccx43": 64, "ccx53": 128, "ccx63": 192,
}  # fmt: skip

UNKNOWN_TYPE_MEMORY_GB = 2


@dataclass(frozen=True)
class MemoryPlan:
    memory_gb: int
    heap_mb: int
    swap_mb: int  # 0 = no swap file


def memory_gb(server_type: str) -> int:
    return SERVER_MEMORY_GB.get(server_type, UNKNOWN_TYPE_MEMORY_GB)


def plan_memory(
    server_type: str, heap_fraction: float, swap_up_to_memory_gb: int, swap_size_mb: int
) -> MemoryPlan:
    """Heap = a fraction of RAM (what `openclaw gateway install` does for its own units, about half);
    swap only on plans at or below the threshold, where a leak or a burst would otherwise OOM the host."""
    memory = memory_gb(server_type)
    heap = int(memory * 1024 * heap_fraction)
    swap = swap_size_mb if memory <= swap_up_to_memory_gb else 0
    return MemoryPlan(memory_gb=memory, heap_mb=heap, swap_mb=swap)

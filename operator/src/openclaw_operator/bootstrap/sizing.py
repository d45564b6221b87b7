"""How big a plan is, and what that means for the gateway's heap, its memory limits and swap.

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

# The gateway's peak memory, measured, rounded up: the unit's peak charge (systemd's MemoryPeak) of the real
# 2026.9.6 gateway started from the rendered unit by tests/realapp, over startup, the probes, token and
# origin checks and WebSocket handshakes, was 849-921 MB on the 2-core development machine and 1,058 MB in
# CI with three test workers (docs/bootstrap.md, "Memory"); about 900 MB in the research run (Debian 13
# guest, 2026.9.5). 1,280 MB leaves a fifth above the highest run. tests/realapp fails when a run exceeds
# this, and every plan's MemoryHigh must hold it (tests/bootstrap/test_bootstrap_sizing.py).
GATEWAY_PEAK_RSS_MB = 1280
# Of that, what is not V8's old space (code, native SQLite, buffers, young generation): the heap limit
# must leave this much room under MemoryHigh.
GATEWAY_NON_HEAP_MB = 320
# Left to the rest of the server: sshd, Caddy (~40 MB), journald, and apt when unattended-upgrades runs.
SYSTEM_RESERVE_MB = 512
# MemoryHigh (reclaim and throttle) sits this far below MemoryMax (OOM kill), so a burst slows the gateway
# down and pushes it into swap before the kernel kills it.
MEMORY_HIGH_SHARE = 0.875


@dataclass(frozen=True)
class MemoryPlan:
    memory_gb: int
    heap_mb: int
    swap_mb: int  # 0 = no swap file
    memory_high_mb: int  # the unit's MemoryHigh
    memory_max_mb: int  # the unit's MemoryMax


def memory_gb(server_type: str) -> int:
    return SERVER_MEMORY_GB.get(server_type, UNKNOWN_TYPE_MEMORY_GB)


def plan_memory(
    server_type: str, heap_fraction: float, swap_up_to_memory_gb: int, swap_size_mb: int
) -> MemoryPlan:
    """Heap = a fraction of RAM (what `openclaw gateway install` does for its own units, about half), but
    never so large that heap plus the gateway's native memory would pass MemoryHigh; the unit may use all
    RAM but the system's reserve; swap only on plans at or below the threshold, where a leak or a burst
    would otherwise OOM the host."""
    memory = memory_gb(server_type)
    memory_max = memory * 1024 - SYSTEM_RESERVE_MB
    memory_high = int(memory_max * MEMORY_HIGH_SHARE)
    heap = min(int(memory * 1024 * heap_fraction), memory_high - GATEWAY_NON_HEAP_MB)
    swap = swap_size_mb if memory <= swap_up_to_memory_gb else 0
    return MemoryPlan(
        memory_gb=memory, heap_mb=heap, swap_mb=swap, memory_high_mb=memory_high, memory_max_mb=memory_max
    )

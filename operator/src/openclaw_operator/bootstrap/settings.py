"""Operator-wide choices for every server's bootstrap; every field has a default so `BootstrapSettings()`
works. The operator builds one from its configuration (CLAWHOST_DEFAULT_OPENCLAW_VERSION and
CLAWHOST_MIN_OPENCLAW_VERSION map to the two version fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .versions import parse_version

DEFAULT_OPENCLAW_VERSION = "2026.9.5"
# The first release with every 2026 advisory in the research fixed (GHSA-cwj3-vqpp-pmxr, 2026.4.23).
MIN_OPENCLAW_VERSION = "2026.4.23"
# OpenClaw supports Node 22.22.3+, 24.15+ and 25.9+ (never 23); 24 is the long-term-support line.
DEFAULT_NODE_MAJOR = 24
UNSUPPORTED_NODE_MAJORS = frozenset({23})
OLDEST_NODE_MAJOR = 22

_LINUX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# Accounts the bootstrap creates or the packages bring; the administrator must be someone else.
_RESERVED_USERS = frozenset({"root", "openclaw", "caddy", "nobody", "daemon", "sync"})
_CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class BootstrapSettings:
    default_openclaw_version: str = DEFAULT_OPENCLAW_VERSION
    min_openclaw_version: str = MIN_OPENCLAW_VERSION
    node_major: int = DEFAULT_NODE_MAJOR
    # The account the spec's SSH keys log in to (with passwordless sudo); root cannot log in over SSH.
    admin_user: str = "clawadmin"
    # Node heap as a share of the plan's memory (OpenClaw's own service installer uses about half).
    heap_fraction: float = 0.5
    # Plans with at most this much memory get a swap file of swap_size_mb.
    swap_up_to_memory_gb: int = 4
    swap_size_mb: int = 2048
    # When unattended-upgrades may reboot for a new kernel (HH:MM, server time = UTC); None = never.
    automatic_reboot_time: str | None = "04:30"

    def __post_init__(self) -> None:
        parse_version(self.default_openclaw_version)
        parse_version(self.min_openclaw_version)
        if self.node_major < OLDEST_NODE_MAJOR or self.node_major in UNSUPPORTED_NODE_MAJORS:
            raise ValueError(f"OpenClaw does not support Node.js {self.node_major}; use 22, 24 or newer")
        if not _LINUX_USER.fullmatch(self.admin_user) or self.admin_user in _RESERVED_USERS:
            raise ValueError(f"admin user {self.admin_user!r} is not a usable account name")
        if not 0.1 <= self.heap_fraction <= 0.8:
            raise ValueError(f"heap_fraction {self.heap_fraction} is outside 0.1..0.8")
        if self.swap_size_mb < 0:
            raise ValueError("swap_size_mb must not be negative")
        if self.automatic_reboot_time is not None and not _CLOCK_TIME.fullmatch(self.automatic_reboot_time):
            raise ValueError(f"automatic_reboot_time {self.automatic_reboot_time!r} is not HH:MM")

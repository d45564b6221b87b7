"""Operator-wide choices for every server's bootstrap; every field has a default so `BootstrapSettings()`
works. The operator builds one from its configuration (CLAWHOST_DEFAULT_OPENCLAW_VERSION and
CLAWHOST_MIN_OPENCLAW_VERSION map to the two version fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .versions import parse_version

# The newest release the real-app tests ran against (the last of OPENCLAW_VERSIONS in
# tests/realapp/versions.env; a test keeps the two equal).
DEFAULT_OPENCLAW_VERSION = "2026.9.6"
# The first release with every published 2026 advisory fixed: CVE-2026-62218 (fixed in 2026.5.27) and
# CVE-2026-100579 (fixed in 2026.7.1) both sit above the earlier floor, 2026.4.23 (GHSA-cwj3-vqpp-pmxr).
MIN_OPENCLAW_VERSION = "2026.7.1"
# The oldest Node of each major line OpenClaw's `engines` accepts (">=24.16.0 <25 || >=26.1.0" since
# 2026.9.3): 24.0-24.15 install fine, but the gateway exits 1 on them (node:sqlite truncates TEXT at an
# embedded NUL) and systemd restarts it forever. 24 is the long-term-support line. tests/realapp reads
# `engines` from the pinned package and fails when this table would let an unsupported Node through.
NODE_MINIMUM_BY_MAJOR: dict[int, str] = {24: "24.16.0", 26: "26.1.0"}
DEFAULT_NODE_MAJOR = 24

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
    # The operator's channel key (OpenSSH public key line) and the ranges it connects from; without a
    # key the server gets no channel agent (docs/channel.md).
    channel_public_key: str | None = None
    channel_source_ranges: tuple[str, ...] = ()

    @property
    def node_minimum(self) -> str:
        """The oldest Node of `node_major` the bootstrap accepts (it refuses an older one from the repo)."""
        return NODE_MINIMUM_BY_MAJOR[self.node_major]

    def __post_init__(self) -> None:
        parse_version(self.default_openclaw_version)
        parse_version(self.min_openclaw_version)
        if self.node_major not in NODE_MINIMUM_BY_MAJOR:
            supported = ", ".join(str(major) for major in NODE_MINIMUM_BY_MAJOR)
            raise ValueError(f"node_major {self.node_major}: OpenClaw runs on Node.js {supported}")
        if not _LINUX_USER.fullmatch(self.admin_user) or self.admin_user in _RESERVED_USERS:
            raise ValueError(f"admin user {self.admin_user!r} is not a usable account name")
        if not 0.1 <= self.heap_fraction <= 0.8:
            raise ValueError(f"heap_fraction {self.heap_fraction} is outside 0.1..0.8")
        if self.swap_size_mb < 0:
            raise ValueError("swap_size_mb must not be negative")
        if self.automatic_reboot_time is not None and not _CLOCK_TIME.fullmatch(self.automatic_reboot_time):
            raise ValueError(f"automatic_reboot_time {self.automatic_reboot_time!r} is not HH:MM")

"""The `clawhost-sandbox` console script: the development tools behind `make sandbox` and the tests.

Installed by `make venv` with the `clawhost-sandbox` package; never part of the operator's image.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from openclaw_operator.cli import Subcommands, dispatch

SUBCOMMANDS: Subcommands = {
    "up": ("clawhost_sandbox.supervisor", "configure_up", "the whole system on simulated clouds"),
    "down": ("clawhost_sandbox.supervisor", "configure_down", "stop a detached sandbox"),
    "controlplane": (
        "clawhost_sandbox.controlplane_cli",
        "configure",
        "start or stop a local Kubernetes control plane",
    ),
    "sim": ("clawhost_sandbox.sim_cli", "configure", "run a Hetzner Cloud or Cloudflare API simulator"),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("clawhost-sandbox", __doc__.splitlines()[0], SUBCOMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())

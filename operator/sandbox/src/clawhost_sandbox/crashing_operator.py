"""The operator, killed right after a provider write: `python -m clawhost_sandbox.crashing_operator
--after create_server[:N] run --namespace ...` runs `openclaw-operator run ...` with the named provider
method wrapped, and the process exits with 137 (what a SIGKILL looks like to its parent) as soon as the
N-th call of it has succeeded at the provider, before the answer reaches status or the observer.

That is the worst moment to die (the server exists, nobody knows its id), and a deterministic one, so the
crash tests can prove that a restarted operator finds the server again instead of creating a second one.
The fault lives here, in the development package the image never installs, not in the operator.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from openclaw_operator import cli
from openclaw_operator.providers.cloudflare import CloudflareProvider
from openclaw_operator.providers.hetzner import HetznerProvider

log = logging.getLogger(__name__)

EXIT_CODE = 137
# The provider methods that write: the points a crash can follow.
WRITES: dict[str, type[HetznerProvider] | type[CloudflareProvider]] = {
    "create_server": HetznerProvider,
    "server_action": HetznerProvider,
    "delete_server": HetznerProvider,
    "set_labels": HetznerProvider,
    "claim_server": HetznerProvider,
    "create_snapshot": HetznerProvider,
    "delete_snapshot": HetznerProvider,
    "set_snapshot_labels": HetznerProvider,
    "create_firewall": HetznerProvider,
    "set_firewall_rules": HetznerProvider,
    "apply_firewall_to_selector": HetznerProvider,
    "create_record": CloudflareProvider,
    "update_record": CloudflareProvider,
    "delete_record": CloudflareProvider,
}


def crash_point(value: str) -> tuple[str, int]:
    """`create_server` or `create_server:3` -> (method, the call after which the process dies)."""
    name, _, count = value.partition(":")
    if name not in WRITES:
        raise argparse.ArgumentTypeError(f"{name!r} is not one of {sorted(WRITES)}")
    if count and (not count.isdigit() or int(count) < 1):
        raise argparse.ArgumentTypeError(f"the count in {value!r} must be a positive number")
    return name, int(count or 1)


def crash_after(method: str, calls: int, exit: Callable[[int], Any] = os._exit) -> None:
    """Wrap the provider method so that the process exits once its `calls`-th call has returned."""
    owner = WRITES[method]
    original: Callable[..., Awaitable[Any]] = getattr(owner, method)
    done = 0

    @functools.wraps(original)
    async def then_die(self: object, *args: Any, **kwargs: Any) -> Any:
        nonlocal done
        result = await original(self, *args, **kwargs)
        done += 1
        if done >= calls:
            log.warning("crashing_operator: exiting right after %s call %d (test fault)", method, done)
            logging.shutdown()
            exit(EXIT_CODE)  # os._exit: no cleanup, no status write, like a SIGKILL
        return result

    setattr(owner, method, then_die)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clawhost_sandbox.crashing_operator", description=__doc__)
    parser.add_argument("--after", type=crash_point, required=True, metavar="METHOD[:N]")
    parser.add_argument("operator_args", nargs=argparse.REMAINDER, help="arguments of openclaw-operator")
    args = parser.parse_args(argv)
    method, calls = args.after
    crash_after(method, calls)
    return cli.main(args.operator_args)


if __name__ == "__main__":
    sys.exit(main())

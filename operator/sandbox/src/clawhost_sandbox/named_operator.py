"""The operator with the sandbox's server names: `python -m clawhost_sandbox.named_operator --hosts FILE
run ...` runs `openclaw-operator run ...` with each host name in FILE ("name address" lines, read again
whenever it changes) resolving to that address, as the instances' DNS records would point them at their
servers; every other name resolves as usual. With SSL_CERT_FILE naming a bundle that holds the servers'
CA, the operator's unchanged AppReady probe (`https://{hostname}/readyz`) reaches each sandbox server's
real Caddy and gateway. The seam lives here, in the development package, not in the operator.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openclaw_operator import cli


class HostsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._table: dict[str, str] = {}

    def table(self) -> dict[str, str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            lines = (line.split() for line in self.path.read_text().splitlines())
            self._table = {words[0]: words[1] for words in lines if len(words) == 2}
            self._stamp = (stat.st_mtime_ns, stat.st_size)
        return self._table


def resolve_through(hosts: HostsFile) -> None:
    """Route socket.getaddrinfo (what aiohttp's default resolver calls) through the hosts file."""
    original = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str):
            host = hosts.table().get(host, host)
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clawhost_sandbox.named_operator", description=__doc__)
    parser.add_argument("--hosts", type=Path, required=True, help='"name address" lines')
    parser.add_argument("operator_args", nargs=argparse.REMAINDER, help="arguments of openclaw-operator")
    args = parser.parse_args(argv)
    resolve_through(HostsFile(args.hosts))
    return cli.main(args.operator_args)


if __name__ == "__main__":
    sys.exit(main())

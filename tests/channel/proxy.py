"""Real Caddy for the channel tests, serving the Caddyfile the agent installed.

The production Caddyfile is used as it is, with a test block merged into its global options: free ports,
Caddy's local CA instead of ACME (nothing here can reach Let's Encrypt), storage and admin under the
test root. The site address gets the test HTTPS port and the upstream the test gateway's port; the rest
of the site block is untouched.

  python proxy.py ROOT reload|stop
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path


def test_caddyfile(production: str, root: Path, ports: dict[str, int]) -> str:
    options = (
        f"\thttp_port {ports['http']}\n\thttps_port {ports['https']}\n\tlocal_certs\n\tskip_install_trust\n"
        f"\tadmin 127.0.0.1:{ports['caddy_admin']}\n\tstorage file_system {root / 'caddy-data'}\n"
        "\tdefault_bind 127.0.0.1\n"
    )
    lines = production.splitlines(keepends=True)
    start = lines.index("{\n")  # the global options block
    lines.insert(start + 1, options)
    text = "".join(lines)
    # The site block: "<hostname> {" at the start of a line; the test gateway's port upstream.
    text = re.sub(r"(?m)^([a-z0-9.-]+\.[a-z]+) \{$", rf"\1:{ports['https']} {{", text)
    return re.sub(r"reverse_proxy 127\.0\.0\.1:\d+", f"reverse_proxy 127.0.0.1:{ports['gateway']}", text)


def main() -> None:
    root, command = Path(sys.argv[1]), sys.argv[2]
    ports = json.loads((root / "ports.json").read_text())
    config = root / "caddy-test.Caddyfile"
    admin = f"127.0.0.1:{ports['caddy_admin']}"
    if command == "stop":
        subprocess.run(["caddy", "stop", "--address", admin], capture_output=True, check=False)
        return
    config.write_text(test_caddyfile((root / "etc/caddy/Caddyfile").read_text(), root, ports))
    reload = ["caddy", "reload", "--config", str(config), "--adapter", "caddyfile", "--address", admin]
    if subprocess.run(reload, capture_output=True, check=False).returncode != 0:
        log = (root / "caddy.log").open("ab")
        subprocess.run(
            ["caddy", "start", "--config", str(config), "--adapter", "caddyfile"],
            stdout=log,
            stderr=log,
            check=True,
        )


if __name__ == "__main__":
    main()

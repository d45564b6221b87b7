"""Caddy's config in the e2e guest: the rendered Caddyfile, adapted, with Caddy's internal CA as issuer.

Installed in the image (seam.py) and run by caddy.service's drop-in before every start and reload. ACME
cannot work offline, and a global `local_certs` cannot be added around the rendered Caddyfile by an
import (its own global options block must come first), so the Caddyfile is adapted to JSON as Caddy
itself would load it, and only the certificate issuer is replaced. The rendered file is not changed.

Usage: caddy_internal_ca.py [CADDYFILE [OUTPUT_JSON]]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

RENDERED = "/etc/caddy/Caddyfile"
OUTPUT = "/run/caddy-e2e/caddy.json"


def with_internal_issuer(config: dict[str, Any]) -> dict[str, Any]:
    """What `local_certs` and `skip_install_trust` in the global options would have made of `config`."""
    apps = config.setdefault("apps", {})
    policies = apps.setdefault("tls", {}).setdefault("automation", {}).setdefault("policies", [])
    if not policies:
        policies.append({})
    for policy in policies:
        policy["issuers"] = [{"module": "internal"}]
    local = apps.setdefault("pki", {}).setdefault("certificate_authorities", {}).setdefault("local", {})
    local["install_trust"] = False
    return config


def main(caddyfile: str = RENDERED, output: str = OUTPUT) -> None:
    adapted = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", caddyfile],
        check=True,
        capture_output=True,
        text=True,
    )
    Path(output).write_text(json.dumps(with_internal_issuer(json.loads(adapted.stdout))), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""What differs between a server run here and a real one: one list, each entry with its reason."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# The account the gateway runs as here (DIFFERENCES: accounts). Caddy runs as Debian's `caddy` account.
GATEWAY_RUN_USER = "nobody"
# Where the cached install appears inside the gateway's mount namespace (on its private /home tmpfs).
APP_MOUNT = "/home/.clawhost-realapp"
# Servers' links to this host: /30 blocks of the benchmarking range (RFC 2544), never routed anywhere.
LINK_NETWORK = ipaddress.ip_network("198.18.0.0/15")


@dataclass(frozen=True)
class Difference:
    what: str
    here: str
    why: str


# The one list of what differs from a real server. Code that applies one names it in a comment.
DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "certificates",
        "Caddy issues the site's certificate from its internal CA: `local_certs` and `skip_install_trust` "
        "are added to the Caddyfile's global options; nothing else in the file changes (the sandbox gives "
        "every server's Caddy the same root, so a client trusts one CA)",
        "no ACME CA can reach this machine, and the host names are not ours",
    ),
    Difference(
        "network",
        "the server is a network namespace with one veth link to this host (a /30 of 198.18.0.0/15) and no "
        "route beyond it; clients reach https://<hostname> through a resolver that maps the name to it",
        "nothing may listen beyond this machine, and the host names do not resolve here",
    ),
    Difference(
        "service manager",
        "a supervised process instead of systemd: ExecStart, Environment, EnvironmentFile, User, "
        "WorkingDirectory, NoNewPrivileges, PrivateTmp, KillMode, TimeoutStopSec, SuccessExitStatus and "
        "MemoryMax are honoured, in a memory cgroup of the unit's own (on a cgroup v1 host MemoryHigh has no "
        "equivalent, as under systemd there); Restart=, ProtectSystem and ProtectKernel* are not applied",
        "PID 1 here is not systemd (no system bus; systemd-run cannot start units)",
    ),
    Difference(
        "accounts",
        f"the gateway runs as `{GATEWAY_RUN_USER}` instead of the `openclaw` account",
        "tests must not create accounts on a shared machine (Caddy's own package made `caddy`)",
    ),
    Difference(
        "file system",
        "each service has a private mount namespace: /home is a tmpfs holding /home/openclaw (bound to the "
        "server's temp directory); /etc/caddy and /var/lib/caddy are bound likewise; "
        "/etc/openclaw/gateway.env is read by the supervisor from the temp directory",
        "so the rendered absolute paths hold without writing to this machine's /home, /etc or /var",
    ),
    Difference(
        "installed software",
        "`/usr/bin/openclaw` in ExecStart is the cached install's `node_modules/.bin/openclaw`, bound "
        f"read-only at {APP_MOUNT}, and `node` on PATH is the cached Node; Caddy is Debian's package "
        "(2.6 on Debian 12), not the Caddy repository's",
        "Node and OpenClaw are not installed system-wide here, the cache's parent (~root) is 0700, and the "
        "vendor repositories are unreachable",
    ),
)

"""The one seam between the rendered user-data and a guest that can reach nothing but the host.

The user-data is booted exactly as the operator renders it. What a real server fetches from the internet
(vendor apt repositories, their keys, the npm registry, Debian's archive) is served instead by stand-ins on
the host's loopback, and the guest is pointed at them by its *image*, never by its user-data:

- `/etc/hosts` in the image maps every host in `STANDIN_HOSTS` to `GUEST_STANDIN_ADDRESS`, an unused
  address of qemu's user-mode network; `guestfwd` rules (`guestfwd_rules`) connect that address's ports 80
  and 443 to the stand-in servers on 127.0.0.1. With `restrict=on` nothing else leaves the guest.
- The image trusts a test CA (system store; `NODE_EXTRA_CA_CERTS` for Node, which ignores the system store
  by default) that signed the stand-ins' certificate for those host names.
- apt fetches no translations (`Acquire::Languages "none"`): the image was built without them, so the
  Debian stand-in has none to serve.
- ACME cannot work offline, so Caddy gets a systemd drop-in (`IMAGE_FILES`) that, before every start and
  reload, adapts the rendered `/etc/caddy/Caddyfile` to JSON and sets Caddy's internal CA as the issuer
  (`caddy_internal_ca.py`, what a global `local_certs` would do); Caddy runs that JSON. Certificates come
  from the internal CA instead of Let's Encrypt; the Caddyfile itself is not changed.

`STANDIN_HOSTS` must equal the hosts the rendered user-data fetches from (`tests/e2e_vm/test_seam.py`
parses the user-data, so a new vendor host fails that test until it has a stand-in here).
"""

from __future__ import annotations

from pathlib import Path

# Inside slirp's 10.0.2.0/24 and none of its own addresses (.2 host, .3 DNS, .15 guest).
GUEST_STANDIN_ADDRESS = "10.0.2.100"

# Every host the user-data makes the server fetch from, and what stands in for it.
STANDIN_HOSTS: dict[str, str] = {
    "deb.nodesource.com": "NodeSource's apt repository: a nodejs .deb built from the official Node binary",
    "dl.cloudsmith.io": "Caddy's apt repository: Debian's caddy .deb, re-signed with a test key",
    "registry.npmjs.org": "the npm registry: openclaw and its dependency tree, packed at setup",
    "deb.debian.org": "Debian's archive: the image's own Debian-signed index (nothing newer to install)",
}

CA_FILE_IN_GUEST = "/usr/local/share/ca-certificates/clawhost-e2e-ca.crt"
CADDY_CONFIG_SCRIPT = "/usr/local/lib/clawhost-e2e/caddy_internal_ca.py"
CADDY_E2E_CONFIG = "/run/caddy-e2e/caddy.json"  # written by that script, under the unit's RuntimeDirectory
_MAKE_CADDY_CONFIG = f"/usr/bin/python3 {CADDY_CONFIG_SCRIPT} /etc/caddy/Caddyfile {CADDY_E2E_CONFIG}"

# Files added to the image under / (path -> content).
IMAGE_FILES: dict[str, str] = {
    # systemd passes this to every service, cloud-final (npm install) included.
    "/etc/systemd/system.conf.d/clawhost-e2e.conf": (
        f"[Manager]\nDefaultEnvironment=NODE_EXTRA_CA_CERTS={CA_FILE_IN_GUEST}\n"
    ),
    # mmdebstrap builds the image without translations, so the Debian stand-in has none to serve, and
    # apt-get update fails on a 404 for them. A real server fetches them; nothing here reads them.
    "/etc/apt/apt.conf.d/99clawhost-e2e-no-translations": 'Acquire::Languages "none";\n',
    CADDY_CONFIG_SCRIPT: (Path(__file__).parent / "caddy_internal_ca.py").read_text(encoding="utf-8"),
    # Debian's caddy.service on the adapted config; the rendered Caddyfile stays where it is.
    "/etc/systemd/system/caddy.service.d/clawhost-e2e.conf": (
        "[Service]\n"
        "RuntimeDirectory=caddy-e2e\n"
        f"ExecStartPre={_MAKE_CADDY_CONFIG}\n"
        "ExecStart=\n"
        f"ExecStart=/usr/bin/caddy run --environ --config {CADDY_E2E_CONFIG}\n"
        "ExecReload=\n"
        f"ExecReload={_MAKE_CADDY_CONFIG}\n"
        f"ExecReload=/usr/bin/caddy reload --config {CADDY_E2E_CONFIG} --force\n"
    ),
}


def hosts_entries() -> str:
    """The lines the image appends to /etc/hosts."""
    return "".join(f"{GUEST_STANDIN_ADDRESS} {host}\n" for host in sorted(STANDIN_HOSTS))


def guestfwd_rules(https_port: int, http_port: int) -> list[str]:
    """qemu `guestfwd` options: the stand-in address's 443 and 80 to the host's stand-in servers.

    The `cmd:` form spawns one relay per guest connection; a chardev target would carry only one.
    """
    return [
        f"guestfwd=tcp:{GUEST_STANDIN_ADDRESS}:{guest}-cmd:socat - TCP:127.0.0.1:{host}"
        for guest, host in ((443, https_port), (80, http_port))
    ]

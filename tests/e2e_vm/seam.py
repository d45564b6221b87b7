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
- ACME cannot work offline, so Caddy gets a systemd drop-in (`IMAGE_FILES`) that runs it with the rendered
  `/etc/caddy/Caddyfile` imported under a global `local_certs` option: certificates come from Caddy's
  internal CA instead of Let's Encrypt. The Caddyfile itself is not changed.

`STANDIN_HOSTS` must equal the hosts the rendered user-data fetches from (`tests/e2e_vm/test_seam.py`
parses the user-data, so a new vendor host fails that test until it has a stand-in here).
"""

from __future__ import annotations

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
CADDY_E2E_CONFIG = "/etc/caddy-e2e/Caddyfile"

# Files added to the image under / (path -> content).
IMAGE_FILES: dict[str, str] = {
    # systemd passes this to every service, cloud-final (npm install) included.
    "/etc/systemd/system.conf.d/clawhost-e2e.conf": (
        f"[Manager]\nDefaultEnvironment=NODE_EXTRA_CA_CERTS={CA_FILE_IN_GUEST}\n"
    ),
    # mmdebstrap builds the image without translations, so the Debian stand-in has none to serve, and
    # apt-get update fails on a 404 for them. A real server fetches them; nothing here reads them.
    "/etc/apt/apt.conf.d/99clawhost-e2e-no-translations": 'Acquire::Languages "none";\n',
    CADDY_E2E_CONFIG: "{\n\tlocal_certs\n\tskip_install_trust\n}\nimport /etc/caddy/Caddyfile\n",
    # Debian's caddy.service with the e2e config above; the rendered Caddyfile stays where it is.
    "/etc/systemd/system/caddy.service.d/clawhost-e2e.conf": (
        "[Service]\n"
        "ExecStart=\n"
        f"ExecStart=/usr/bin/caddy run --environ --config {CADDY_E2E_CONFIG}\n"
        "ExecReload=\n"
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

"""The real OpenClaw gateway behind the real Caddy, run from a rendered cloud-config, as one server would.

Used by tests/realapp and by the sandbox. The API (kept stable; other branches build on it):

    installation = install()                 # tests/realapp/install.sh: Node + the pinned openclaw releases
                                             # in ~/.cache/openclaw-hosting/realapp; raises RealAppUnavailable
                                             # (its message is the reason, for a pytest skip)
    files = ServerFiles.from_user_data(text) # what the cloud-config writes: openclaw.json, gateway.env, the
                                             # unit (ExecStart, Environment, EnvironmentFile, User, KillMode,
                                             # TimeoutStopSec, ...), the Caddyfile, the pinned version
    with RealServer(installation, files) as server:   # start(): network, gateway, Caddy; waits for /readyz
                                             # (GatewayError with the log's tail if the app fails;
                                             # RealAppUnavailable if this machine cannot run it)
                                             # RealServer(..., ca=LocalCA.create(dir)): a shared CA root
        server.address        # the server's own IPv4 address (a private link to this host)
        server.https_url      # "https://<hostname>": Caddy on the server's port 443 (internal CA)
        server.connect_to     # (address, 443): where a client connects for that host name
        server.ca_file        # the internal CA's root certificate (PEM); server.ssl_context() trusts it
        server.connector()    # an aiohttp TCPConnector resolving the host name to the server, with that CA
        server.https_get(path, headers)   # (status, headers, body) through Caddy, as a remote client
        server.https_request(method, path, body, headers)     # the same for any method
        server.client_address # the address such a client connects from
        server.local_get(path)            # the same asked on the server itself, curl to 127.0.0.1:18789
        server.memory()       # GatewayMemory(rss_bytes, peak_rss_bytes) of the gateway's processes
        server.started_seconds            # how long the last start took until /readyz answered 200
        server.startup_log    # the gateway's JSON log entries up to the end of that start
        server.gateway_log(), server.caddy_log()
        server.run_cli("config", "validate", "--json")  # the openclaw CLI as the gateway's user, with the
                                                          # unit's environment (what openclaw-admin does)
        server.stop()         # -> StopResult, as `systemctl stop` with the unit's KillMode/TimeoutStopSec
        server.restart()      # stop() then start() on the same state -> StopResult
    # leaving the block stops everything, removes the network and the server's directory.

Each server gets its own network namespace with a veth link to this host, so inside it everything has its
production address and port (gateway 127.0.0.1:18789, Caddy on 80/443, admin on 2019) and a client on the
host is a remote client with a non-loopback address, as the operator is to a real server. Everything the
gateway and Caddy get comes from the rendered files; the only changes are listed in DIFFERENCES, each with
its reason. `ServerFiles` never reads a template: give it the production renderer's output.
"""

from clawhost_sandbox.realapp.differences import DIFFERENCES, Difference
from clawhost_sandbox.realapp.errors import GatewayError, RealAppUnavailable
from clawhost_sandbox.realapp.files import BOOTSTRAP_SCRIPT, CADDYFILE, ServerFiles, parse_environment_file
from clawhost_sandbox.realapp.installation import Installation, caddy_binary, install, pinned_versions
from clawhost_sandbox.realapp.server import (
    GatewayMemory,
    LocalCA,
    RealServer,
    StaticResolver,
    caddyfile_here,
    connector_for,
)
from clawhost_sandbox.realapp.unit import ControlGroup, StopResult, stop_unit

__all__ = [
    "BOOTSTRAP_SCRIPT",
    "CADDYFILE",
    "DIFFERENCES",
    "ControlGroup",
    "Difference",
    "GatewayError",
    "GatewayMemory",
    "Installation",
    "LocalCA",
    "RealAppUnavailable",
    "RealServer",
    "ServerFiles",
    "StaticResolver",
    "StopResult",
    "caddy_binary",
    "caddyfile_here",
    "connector_for",
    "install",
    "parse_environment_file",
    "pinned_versions",
    "stop_unit",
]

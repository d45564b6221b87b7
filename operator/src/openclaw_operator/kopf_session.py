"""The HTTP session Kopf talks to the apiserver through, with a ceiling on its connections.

Kopf's own session has no limit (`TCPConnector(limit=0)`). After a start, every instance's first pass ends
within seconds (the providers' state is observed once, in bulk), and Kopf then sends one PATCH per
instance at the same moment: 10,000 instances over two shards put 10,000 PATCHes in flight on one
apiserver, which answered none of them within its 60 s (504s, retried, growing its memory to 12 GB;
docs/benchmarks.md). With a ceiling, the PATCHes wait for a connection on the operator's side, where a
wait costs nothing, and the apiserver works through a steady few dozen.

Kopf accepts a session of our own from the login handler (`kopf.AiohttpSession`, Kopf >= 1.38) and closes
it when it is done with it; it is built here exactly as Kopf builds its own from the same ConnectionInfo
(TLS, headers, basic auth, proxy), with the limit as the only difference. Each watch stream holds a
connection for its whole life, so the ceiling leaves one per watched namespace on top of the requests.
"""

from __future__ import annotations

import warnings

import aiohttp
import kopf


def connection_limit(requests: int, watched_namespaces: int) -> int:
    """Connections for `requests` short requests at once beside the watch streams (one per namespace;
    one cluster-wide watch when none is listed), and one for a re-list or a peering request."""
    return requests + max(watched_namespaces, 1) + 1


def limited_session(info: kopf.ConnectionInfo, limit: int) -> kopf.AiohttpSession:
    """`info` as Kopf would use it, through at most `limit` connections."""
    with warnings.catch_warnings():  # as Kopf does: its own deprecation notes, aiohttp's pass through
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="kopf")
        auth = info.as_aiohttp_basic_auth()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        auth=auth,
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    return kopf.AiohttpSession(
        server=info.server,
        priority=info.priority,
        default_namespace=info.default_namespace,
        expiration=info.expiration,
        aiohttp_session=session,
    )

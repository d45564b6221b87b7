"""The real OpenClaw and Caddy, started from what the production renderer writes (clawhost_sandbox.realapp).

The install (Node and the pinned openclaw releases from npm, into ~/.cache/openclaw-hosting/realapp) runs
once per machine; without npm, Caddy or the namespaces these tests need, every test here skips and says
why. One gateway serves a whole test module (a start takes 5-30 s on two shared cores).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clawhost_sandbox import realapp

from openclaw_operator import api
from openclaw_operator.bootstrap.render import BootstrapSettings, render_user_data
from tests.bootstrap.userdata import instance

# A token with every character the renderer must escape for systemd's EnvironmentFile and the shell:
# the gateway only accepts it if the escaping round-trips.
TOKEN = 'tok-AAAAab$HOME"c\\d`id`$(id)-6f1c2b9e0d4a4c7f'
HOSTNAME = "alice.example.com"


def rendered_files(
    openclaw_version: str | None = None, token: str = TOKEN, **spec: object
) -> realapp.ServerFiles:
    """The server files of an instance, rendered by the production renderer."""
    if openclaw_version is not None:
        spec["openclawVersion"] = openclaw_version
    spec.setdefault("hostname", HOSTNAME)
    subject: api.OpenClawInstance = instance(**spec)
    return realapp.ServerFiles.from_user_data(render_user_data(subject, BootstrapSettings(), token))


@pytest.fixture(scope="session")
def installation() -> realapp.Installation:
    try:
        return realapp.install()
    except realapp.RealAppUnavailable as exc:
        pytest.skip(f"the real OpenClaw cannot run here: {exc}")


@pytest.fixture(scope="module")
def server(installation: realapp.Installation) -> Iterator[realapp.RealServer]:
    """One gateway with Caddy for the module, from the default rendering (newest pinned release)."""
    try:
        running = realapp.RealServer(installation, rendered_files())
        running.start()
    except realapp.RealAppUnavailable as exc:  # this machine, not the rendered files (GatewayError fails)
        pytest.skip(f"the real OpenClaw cannot run here: {exc}")
    try:
        yield running
    finally:
        running.close()

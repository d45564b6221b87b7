"""The two ways a real-app run ends early: this machine cannot, or the app failed."""

from __future__ import annotations


class RealAppUnavailable(RuntimeError):
    """The real app cannot run on this machine (install failed, a tool or a kernel feature is missing);
    the message says why. Tests skip on it."""


class GatewayError(RuntimeError):
    """The gateway or Caddy exited or did not answer in time: a failure of what was rendered, with the
    log's tail. Tests fail on it."""

"""The chart's RBAC tests drive the operator on the same stage as the operator's integration tests (both
simulators, a fresh namespace, operator subprocesses stopped afterwards): one fixture, imported."""

from tests.operator.integration.conftest import stage

__all__ = ["stage"]

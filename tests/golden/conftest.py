"""The operator integration tests' stage (both simulators on a background loop, a fresh namespace, the
operator processes a test starts), for the golden-image tests that run the operator."""

from tests.operator.integration.conftest import stage

__all__ = ["stage"]

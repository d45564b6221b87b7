"""The end-to-end test reuses the operator suite's stage: both simulators and the real operator process."""

from tests.operator.integration.conftest import stage

__all__ = ["stage"]

"""Reliability suites: the core's `stage` (both simulators, a namespace, the operator as a subprocess),
plus a `figures` recorder whose values are printed together at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.operator.integration.conftest import stage  # noqa: F401  (the core's fixture, reused as is)
from tests.reliability.support.figures import COLLECTED, Figures

pytestmark = pytest.mark.controlplane


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    recorded = Figures(request.node.nodeid.split("::", 1)[-1])
    yield recorded
    COLLECTED.append(recorded)
    print(recorded.line())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COLLECTED:
        terminalreporter.section("reliability figures")
        for recorded in COLLECTED:
            terminalreporter.line(recorded.line())

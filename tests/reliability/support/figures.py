"""The figures a suite reports (kills survived, faults injected, resources leaked, ...).

Each suite records its figures, prints them, and asserts them. The conftest collects every test's
figures and prints them in one "reliability figures" section at the end of the run, so they show in
`make test` and `make soak` output without `-s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COLLECTED: list[Figures] = []


@dataclass
class Figures:
    test: str
    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def update(self, values: dict[str, Any]) -> None:
        self.values.update(values)

    def line(self) -> str:
        shown = ", ".join(f"{name}={_show(value)}" for name, value in self.values.items())
        return f"{self.test}: {shown}"


def _show(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)

"""Quick and full variants of one suite: the same code, counts chosen by SOAK.

`make test` runs the quick variant; `make soak` (SOAK=1 pytest -m slow tests/reliability) runs the full
one. The full variant is marked `slow` and skipped unless SOAK=1, so a plain `pytest tests` never starts a
soak by accident.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

SOAK = os.environ.get("SOAK") == "1"
FULL_TIMEOUT_SECONDS = 3600


def variants(quick: Any, full: Any) -> list[Any]:
    """Parameters for `pytest.mark.parametrize`: the quick plan, and the full plan marked slow."""
    return [
        pytest.param(quick, id="quick"),
        pytest.param(
            full,
            id="full",
            marks=[
                pytest.mark.slow,
                pytest.mark.skipif(not SOAK, reason="full variant: run by `make soak` (SOAK=1)"),
                pytest.mark.timeout(FULL_TIMEOUT_SECONDS),
            ],
        ),
    ]

"""The module's "Open the Control UI" hands the gateway token over in the URL fragment (`#token=`), never in
a query string. This checks the other side with the real OpenClaw package: its Control UI bundle reads
`token` from `location.hash` (docs/web/urls.md says so; the bundle is what runs in the browser).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.whmcs.phpunit_runner import REPO

INSTALL = REPO / "tests" / "realapp" / "install.sh"
VERSION = "2026.9.6"


@pytest.fixture(scope="module")
def control_ui_assets() -> Path:
    if os.environ.get("CLAWHOST_SKIP_REALAPP"):
        pytest.skip("CLAWHOST_SKIP_REALAPP is set: the real OpenClaw package is not installed for this run")
    cache = _cache_dir()
    if not (cache / f"openclaw-{VERSION}" / ".complete").exists():
        # install.sh holds a lock while it installs; a finished install is read without waiting for it.
        done = subprocess.run(
            ["bash", str(INSTALL)], capture_output=True, text=True, timeout=1800, check=False
        )
        if done.returncode != 0:
            pytest.skip(f"the real OpenClaw package could not be installed here: {done.stderr[-500:]}")
        cache = Path(done.stdout.strip().splitlines()[-1])
    assets = cache / f"openclaw-{VERSION}" / "node_modules" / "openclaw" / "dist" / "control-ui" / "assets"
    assert assets.is_dir(), f"no Control UI in the installed package: {assets}"
    return assets


def _cache_dir() -> Path:
    """Where tests/realapp/install.sh installs (the same rule as the script's CACHE_ROOT)."""
    base = os.environ.get("OPENCLAW_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openclaw-hosting"
    )
    return Path(base) / "realapp"


def test_the_control_ui_reads_the_token_from_the_fragment(control_ui_assets: Path) -> None:
    # <v>=new URLSearchParams(x.hash.startsWith(`#`) ? x.hash.slice(1) : x.hash) ... <v>.get(`token`)
    fragment_params = re.compile(
        r"=new URLSearchParams\((\w+)\.hash\.startsWith\(`#`\)\?\1\.hash\.slice\(1\):\1\.hash\)"
    )
    readers = []
    for bundle in control_ui_assets.glob("*.js"):
        text = bundle.read_text(errors="replace")
        if "URLSearchParams" not in text:
            continue
        for match in fragment_params.finditer(text):
            before = re.search(r"(\w+)$", text[max(0, match.start() - 64) : match.start()])
            window = text[match.end() : match.end() + 600]
            if before and re.search(rf"\b{re.escape(before.group(1))}\.get\(`token`\)", window):
                readers.append(bundle.name)
    assert readers, "the Control UI no longer reads #token= from the fragment: the SSO hand-off must change"


def test_the_docs_recommend_the_fragment(control_ui_assets: Path) -> None:
    docs = control_ui_assets.parents[2] / "docs" / "web" / "urls.md"
    text = docs.read_text()
    assert "#token=" in text
    assert "fragments do not enter HTTP request logs" in text

"""The golden path booted for real (issue 18, `make e2e-vm`): a builder guest runs the install stage and
powers itself off; a second guest boots from its disk with the personalise stage's user-data and must
answer through Caddy with its own token, having downloaded nothing. Reports golden boot -> healthy beside
the cold run's (test_e2e_vm.py), both in bench/results/e2e-vm-<date>.json.

Skipped unless CLAWHOST_E2E_VM=1, as test_e2e_vm.py is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from tests.e2e_vm.guest import require_tools
from tests.e2e_vm.run import E2ERun, golden_e2e_run, print_and_record
from tests.e2e_vm.test_e2e_vm import ENABLE

pytestmark = [
    pytest.mark.skipif(
        os.environ.get(ENABLE) != "1",
        reason=f"boots a golden builder, then a guest on its disk: run `make e2e-vm` (sets {ENABLE}=1)",
    ),
    pytest.mark.timeout(3 * 60 * 60),
]


@pytest.fixture(scope="module")
def golden(request: pytest.FixtureRequest) -> Iterator[E2ERun]:
    missing = require_tools()
    assert not missing, f"missing host tools {missing}: run tests/e2e_vm/install-deps.sh"
    with golden_e2e_run() as run:
        yield run
    print_and_record(run, request.session.testsfailed, request.config.get_terminal_writer(), "e2e-vm golden")


def test_the_golden_server_finished_cloud_init_on_the_builders_install(golden: E2ERun) -> None:
    done = golden.guest.ssh("cloud-init status --wait --format json", timeout=1800, check=False)
    status = json.loads(done.stdout)
    assert (status["status"], status["errors"], status.get("recoverable_errors")) == ("done", [], {}), status
    output = golden.guest.ssh("sudo cat /var/log/cloud-init-output.log").stdout
    assert "OpenClaw" in output and "is up" in output, output[-3000:]
    # The personalise stage ran on the install the builder left: the marker it wrote is still there.
    golden.guest.ssh("test -s /var/lib/clawhost/install-stage-done")
    active = golden.guest.ssh("systemctl is-active openclaw-gateway caddy nftables", check=False).stdout
    assert active.split() == ["active", "active", "active"]


def test_the_golden_boot_downloads_nothing(golden: E2ERun) -> None:
    """Everything it installs is on the snapshot: no package and no npm request after the builder powered
    off (the stand-ins log every request). apt's own index refreshes (apt-daily) would be no install."""
    after_builder = golden.standins.requests()[golden.served_before_boot :]
    installs = [
        (r.host, r.path) for r in after_builder if r.path.endswith(".deb") or r.host == "registry.npmjs.org"
    ]
    assert installs == [], installs[:20]
    assert golden.served_before_boot > 100  # the builder did fetch: the log is not empty by accident


def test_the_golden_server_answers_with_its_own_token_through_caddy(golden: E2ERun) -> None:
    health = golden.curl("/healthz", "-D", "-")
    assert health.returncode == 0, health.stderr
    assert "HTTP/2 200" in health.stdout
    body = [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data",
        '{"tool":"sessions_list","args":{}}',
    ]
    assert golden.status_code("/tools/invoke", *body) == 401
    assert golden.status_code("/tools/invoke", *body, "-H", f"Authorization: Bearer {golden.token}") == 200

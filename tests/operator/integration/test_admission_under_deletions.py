"""A mass deletion that keeps requeueing does not starve a create (openclaw_operator/admission.py).

The operator runs with one provider thread, so two pass slots and one deletion slot. Every server delete
fails, so each deletion requeues again and again; a create made meanwhile still goes Ready in the time a
create takes. With Kopf's worker limit instead, the deletions would sleep their requeue delays inside
the workers and hold them."""

from __future__ import annotations

import time

import pytest

from tests.operator.integration.harness import Stage

pytestmark = pytest.mark.controlplane

DELETING = [f"del{i}" for i in range(6)]


def server_deletes_refused(stage: Stage) -> int:
    return sum(
        1
        for r in stage.hetzner.request_log
        if r.method == "DELETE" and r.template == "/servers/{id}" and r.status >= 500
    )


def test_requeueing_deletions_leave_a_create_its_pass(stage: Stage) -> None:
    stage.start_operator(CLAWHOST_CONCURRENCY="1")
    for name in DELETING:
        stage.create_instance(name)
    for name in DELETING:
        stage.wait_ready(name, timeout=120)

    stage.hetzner.faults.error_rate("DELETE", "/servers/{id}", 1.0, status=503, code="service_error")
    for name in DELETING:
        stage.delete(name)
    deadline = time.monotonic() + 60
    while server_deletes_refused(stage) < 2 * len(DELETING) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server_deletes_refused(stage) >= 2 * len(DELETING), stage.all_logs()[-4000:]  # all requeueing

    refused_before = server_deletes_refused(stage)
    started = time.monotonic()
    stage.create_instance("fresh")
    stage.wait_ready("fresh", timeout=60)
    took = time.monotonic() - started
    assert all(stage.exists(name) for name in DELETING)  # the deletions were under way all along
    assert server_deletes_refused(stage) > refused_before  # and kept requeueing meanwhile
    print(f"create Ready after {took:.1f} s beside {len(DELETING)} requeueing deletions")

    stage.hetzner.faults.clear()
    for name in DELETING:
        stage.wait_gone(name, timeout=120)
    assert len(stage.servers()) == 1  # only the fresh instance's

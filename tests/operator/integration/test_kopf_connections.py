"""Kopf's connections to the apiserver are bounded (kopf_session.py): a start with many instances whose
first passes end together queues its PATCHes in the operator instead of opening a connection for each.

The operator process is started after 120 instances exist, so every first pass arrives at once; its TCP
connections to the apiserver are sampled from outside (psutil) until all are Ready. An idle aiohttp
connection stays open for its keep-alive, so the open sockets are the pool's size, not a momentary count.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import psutil
import pytest

from openclaw_operator.kopf_session import connection_limit
from openclaw_operator.kube import THREADS
from tests.operator.integration.harness import Stage, condition

pytestmark = pytest.mark.controlplane

INSTANCES = 120
REQUESTS = 2  # CLAWHOST_KUBE_CONNECTIONS: small, so an unbounded pool would show


def apiserver_sockets(pid: int, port: int) -> int:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.NoSuchProcess:
        return 0
    return sum(1 for c in connections if c.raddr and c.raddr.port == port and c.status == "ESTABLISHED")


def test_a_start_with_many_instances_stays_within_the_connection_ceiling(stage: Stage) -> None:
    names = [f"k{i:03d}" for i in range(INSTANCES)]
    for name in names:
        stage.create_instance(name)
    operator = stage.start_operator(CLAWHOST_KUBE_CONNECTIONS=str(REQUESTS))
    port = urlsplit(stage.cluster.server).port
    assert port is not None
    peak, pending = 0, list(names)
    deadline = time.monotonic() + 300
    while pending and time.monotonic() < deadline:
        assert operator.alive(), operator.logs()[-4000:]
        peak = max(peak, apiserver_sockets(operator.proc.pid, port))
        pending = [n for n in pending[:10] if condition(stage.get(n), "Ready") != "True"] + pending[10:]
        time.sleep(0.05)
    assert not pending, f"not Ready: {pending[:5]}...\n{stage.all_logs()[-4000:]}"
    # Kopf's pool (one namespace watched) beside our own client's threads (Secret reads).
    ceiling = connection_limit(REQUESTS, 1) + THREADS
    print(f"peak connections to the apiserver {peak} (ceiling {ceiling}) for {INSTANCES} instances")
    assert 0 < peak <= ceiling
    assert "Timeout" not in operator.logs()

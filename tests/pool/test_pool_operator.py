"""The warm pool with the real operator process, the real apiserver and the Hetzner simulator: the pool
fills from the golden snapshot with pool-only user-data, a burst of instances claims its servers (never
one server twice, one server per instance), the pool refills, a stale pool server is drained and never
claimed, and a SIGKILL right after the claim's relabel loses nothing and doubles nothing.

Judged from the simulator's own record: every PUT /servers/{id} it answered (a response hook) and its
final state. The channel has a key but nothing listens where it connects (a refused connection), so a
claimed server is never personalised here and its instance never Ready: what is asserted is the claim.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clawhost_sandbox.hetzner.catalogue import find_server_type
from pydantic import SecretStr

from openclaw_operator.bootstrap.render import BOOTSTRAP_SCRIPT, GATEWAY_CONFIG_FILE, TOKEN_FILE
from openclaw_operator.providers.hetzner import HetznerProvider
from openclaw_operator.providers.ratelimit import RateLimiter
from openclaw_operator.reconcile import golden, naming, pool
from tests.bootstrap.userdata import parse
from tests.channel.server import operator_key
from tests.golden.test_golden_operator import SETTINGS, build_golden
from tests.operator.integration.conftest import stage
from tests.operator.integration.harness import CLUSTER_ID, OperatorProcess, Stage, free_port, wait_until

__all__ = ["stage"]
pytestmark = pytest.mark.controlplane

STALE_HASH = "0" * 32


class Relabels:
    """From the simulator's answers: every server PUT answered with 200 (server id -> the instance uids it
    was given) and every server created with the pool's labels."""

    def __init__(self, stage: Stage) -> None:
        self._lock = threading.Lock()
        self.uids: dict[int, list[str]] = {}
        self.pool_created: set[int] = set()
        stage.hetzner.response_hooks.append(self._seen)

    def _seen(self, method: str, template: str, status: int, payload: Any) -> None:
        if (method, template, status) == ("POST", "/servers", 201):
            if pool.is_pool_server(payload["server"]["labels"], CLUSTER_ID):
                with self._lock:
                    self.pool_created.add(payload["server"]["id"])
            return
        if (method, template, status) != ("PUT", "/servers/{id}", 200):
            return
        server = payload["server"]
        uid = server["labels"].get(naming.INSTANCE_UID_LABEL)
        if uid is not None:
            with self._lock:
                self.uids.setdefault(server["id"], []).append(uid)


@pytest.fixture
def pooled(stage: Stage, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The operator's environment for a pool in fsn1/cx23, the golden snapshot built first."""
    stage.hetzner.world.ipv4_pool = ipaddress.IPv4Address("127.0.0.0")  # the channel is refused at once
    build_golden(stage, SETTINGS.default_openclaw_version)
    yield {
        "CLAWHOST_GOLDEN_IMAGES": "true",
        "CLAWHOST_CHANNEL_SSH_KEY_FILE": str(operator_key(tmp_path)),
        "CLAWHOST_CHANNEL_PORT": str(free_port()),
        "CLAWHOST_CHANNEL_TIMEOUT_SECONDS": "2",
    }


def create_server(stage: Stage, name: str, labels: dict[str, str]) -> int:
    """A server made through the real client, as an older operator would have made it."""
    provider = HetznerProvider(
        SecretStr(stage.hetzner_token), stage.hetzner.url, RateLimiter("hetzner"), 2, 10
    )
    try:
        server, _ = asyncio.run(
            provider.create_server(
                name=name,
                server_type="cx23",
                image="ubuntu-24.04",
                location="fsn1",
                labels=labels,
                user_data="",
            )
        )
    finally:
        provider.close()
    return server.id


def pool_servers(stage: Stage, ready: bool = False) -> list[dict[str, Any]]:
    return [
        s
        for s in stage.servers()
        if pool.is_pool_server(s["labels"], CLUSTER_ID) and (not ready or s["status"] == "running")
    ]


def metric(process: OperatorProcess, series: str) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{process.metrics_port}/metrics", timeout=2) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    return next((float(row.split()[-1]) for row in text.splitlines() if row.startswith(series + " ")), None)


def ready_in_operator(process: OperatorProcess, size: int) -> bool:
    """The operator's own view (its listing), which claims are planned from: its pool gauge."""
    series = 'clawhost_warm_pool_servers{location="fsn1",server_type="cx23",state="ready"}'
    return metric(process, series) == size


def server_ids(stage: Stage, names: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}

    def all_placed() -> bool:
        for name in names:
            server_id = (stage.get(name).get("status") or {}).get("serverId")
            if server_id is not None:
                ids[name] = server_id
        return len(ids) == len(names)

    wait_until(all_placed, timeout=120, what="every instance to have a server")
    return ids


def assert_no_server_claimed_twice_and_no_leak(stage: Stage, relabels: Relabels, pool_size: int) -> None:
    for server_id, uids in relabels.uids.items():
        assert len(set(uids)) == 1, f"server {server_id} was given to {sorted(set(uids))}"
    live = {i["metadata"]["uid"] for i in stage.kube.instances(stage.namespace)}
    owned: dict[str, list[int]] = {}
    for server in stage.servers():
        uid = server["labels"].get(naming.INSTANCE_UID_LABEL)
        if uid is not None:
            owned.setdefault(uid, []).append(server["id"])
        else:
            assert pool.is_pool_server(server["labels"], CLUSTER_ID), f"a stray server {server['name']}"
    assert set(owned) == live and all(len(ids) == 1 for ids in owned.values()), owned
    wait_until(lambda: len(pool_servers(stage)) == pool_size, timeout=60, what="the pool to refill")


def test_a_burst_claims_each_pool_server_once_and_the_pool_refills(
    stage: Stage, pooled: dict[str, str]
) -> None:
    # A pool server of another golden image, left by an older operator: drained, never claimed.
    stale = create_server(stage, "clawhost-pool-fsn1-cx23-old", pool.pool_labels(STALE_HASH, 1, CLUSTER_ID))
    relabels = Relabels(stage)
    operator = stage.start_operator(CLAWHOST_WARM_POOL="fsn1/cx23=2", **pooled)
    wait_until(lambda: ready_in_operator(operator, 2), timeout=90, what="a full pool")
    assert stale not in {s["id"] for s in stage.servers()}, "the stale pool server was not drained"
    ready = {s["id"]: s for s in pool_servers(stage, ready=True)}
    for server in ready.values():  # made from the golden snapshot with the pool's user-data
        assert server["labels"][golden.INPUTS_LABEL] != STALE_HASH
        user_data = stage.hetzner.user_data(server["id"])
        assert user_data is not None
        parsed = parse(user_data)
        assert "npm install" not in parsed.content(BOOTSTRAP_SCRIPT)
        assert "enable --now openclaw-gateway" not in parsed.content(BOOTSTRAP_SCRIPT)
        assert not {TOKEN_FILE, GATEWAY_CONFIG_FILE} & {f["path"] for f in parsed.config["write_files"]}

    names = [f"burst-{i}" for i in range(6)]
    for name in names:
        stage.create_instance(name)
    ids = server_ids(stage, names)
    assert len(set(ids.values())) == len(names), f"two instances share a server: {ids}"
    # Both ready pool servers were claimed, and so may be refills made during the burst.
    assert set(ready) <= set(ids.values()), f"a ready pool server was left while instances waited: {ids}"
    claimed = {name for name, server_id in ids.items() if server_id in relabels.pool_created}
    for name in names:
        kind = stage.get(name)["status"]["bootImage"]["kind"]
        assert kind == ("Pool" if name in claimed else "Golden"), name
    for name in claimed:
        server = next(s for s in stage.servers() if s["id"] == ids[name])
        assert server["name"] == naming.server_name(name, stage.get(name)["metadata"]["uid"])
        assert pool.POOL_LABEL not in server["labels"]
    assert stale not in relabels.uids
    assert_no_server_claimed_twice_and_no_leak(stage, relabels, pool_size=2)
    # Two cx23 at the simulator's (Hetzner's) net monthly price.
    cost = 'clawhost_warm_pool_monthly_cost_eur{location="fsn1",server_type="cx23"}'
    cx23 = find_server_type("cx23")
    assert cx23 is not None
    wait_until(lambda: metric(operator, cost) == 2 * float(cx23.monthly_eur), what="the pool's cost")
    stage.assert_no_secrets_leaked()


def test_a_sigkill_right_after_the_claims_relabel_is_adopted_not_repeated(
    stage: Stage, pooled: dict[str, str]
) -> None:
    relabels = Relabels(stage)
    env = {"CLAWHOST_WARM_POOL": "fsn1/cx23=1", **pooled}
    first = stage.start_operator(crash_after="claim_server", **env)
    wait_until(lambda: ready_in_operator(first, 1), timeout=90, what="a full pool")
    (taken,) = pool_servers(stage, ready=True)
    stage.create_instance("first")
    wait_until(lambda: first.proc.poll() is not None, timeout=60, what="the operator to die after the claim")
    assert first.proc.returncode == 137
    assert stage.get("first").get("status", {}).get("serverId") is None  # status never heard of it
    stage.start_operator(**env)
    stage.create_instance("second")
    ids = server_ids(stage, ["first", "second"])
    assert ids["first"] == taken["id"], "the claimed server was not adopted by its instance"
    assert ids["second"] != taken["id"]
    assert relabels.uids[taken["id"]] == [stage.get("first")["metadata"]["uid"]]
    assert_no_server_claimed_twice_and_no_leak(stage, relabels, pool_size=1)

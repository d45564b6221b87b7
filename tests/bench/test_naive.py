"""The naive baseline costs what it claims: one server GET and one DNS list per instance per reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.accounting import tally
from bench.fleet import ZONE, Clouds
from bench.naive import BACKOFF_CAP, Item, NaiveReconciler, Outcome, Settings, load_items, next_delay
from bench.processes import CLOUDFLARE_TOKEN, HETZNER_TOKEN
from bench.seed import SeededInstance


@pytest.mark.parametrize(
    ("outcome", "failures", "expected"),
    [
        (Outcome.READY, 0, 300.0),  # Ready: back after the resync period
        (Outcome.PENDING, 0, 2.0),  # between states: back after the poll interval
        (Outcome.FAILED, 1, 0.005),  # controller-runtime's per-item backoff: 5 ms ...
        (Outcome.FAILED, 2, 0.01),
        (Outcome.FAILED, 11, 5.12),
        (Outcome.FAILED, 40, BACKOFF_CAP),  # ... doubling up to 1,000 s
    ],
)
def test_next_delay(outcome: Outcome, failures: int, expected: float) -> None:
    assert next_delay(outcome, failures, resync=300.0, poll=2.0) == pytest.approx(expected)


@pytest.fixture
def naive(clouds: Clouds) -> NaiveReconciler:
    settings = Settings(
        hetzner_url=clouds.hetzner.url, cloudflare_url=clouds.cloudflare.url, zone=ZONE,
        app_health_url=clouds.hetzner.base_url + "/_sim/app/{server_id}/healthz", time_scale=100.0,
        resync_seconds=300.0, poll_seconds=2.0, workers=1, instances_file="",
    )  # fmt: skip
    reconciler = NaiveReconciler(settings, HETZNER_TOKEN, CLOUDFLARE_TOKEN)
    reconciler.zone_id = clouds.cloudflare.zone_id(ZONE)
    return reconciler


def requests_during(clouds: Clouds, action: object) -> tuple[dict[str, int], dict[str, int]]:
    start = clouds.clock.now()
    assert callable(action)
    action()
    end = clouds.clock.now() + 1e-6
    hetzner = tally(clouds.hetzner.request_log, clouds.hetzner.api_prefix, start, end).by_operation
    cloudflare = tally(clouds.cloudflare.request_log, clouds.cloudflare.api_prefix, start, end).by_operation
    return hetzner, cloudflare


def test_a_ready_instance_costs_one_get_and_one_dns_list(
    clouds: Clouds, fleet: list[SeededInstance], naive: NaiveReconciler
) -> None:
    items = [Item(s.instance, s.server_id, ready=True) for s in fleet]
    outcomes: list[Outcome] = []
    hetzner, cloudflare = requests_during(clouds, lambda: outcomes.extend(map(naive.reconcile, items)))
    assert outcomes == [Outcome.READY] * len(items)
    assert hetzner == {"GET /servers/{id}": len(items)}
    assert cloudflare == {"GET /zones/{zone_id}/dns_records": len(items)}
    assert naive.reconciles == len(items)


def test_a_deleted_server_is_noticed_and_created_again(
    clouds: Clouds, fleet: list[SeededInstance], naive: NaiveReconciler, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = fleet[0]
    clouds.hetzner.delete_server_out_of_band(victim.server_id)
    item = Item(victim.instance, victim.server_id, ready=True)
    outcomes: list[Outcome] = []
    hetzner, cloudflare = requests_during(clouds, lambda: outcomes.append(naive.reconcile(item)))
    assert outcomes == [Outcome.PENDING]
    assert hetzner == {"GET /servers/{id}": 1, "GET /servers": 1, "POST /servers": 1}  # 404, by name, create
    assert cloudflare == {}
    assert item.server_id not in (None, victim.server_id)
    assert [c.uid for c in clouds.creations] == [victim.instance.metadata.uid]
    events = [json.loads(line)["event"] for line in capsys.readouterr().out.splitlines()]
    assert events == ["drift", "create"]


def test_instances_file_round_trip(tmp_path: Path, fleet: list[SeededInstance]) -> None:
    path = tmp_path / "instances.json"
    entries = [
        {"body": s.instance.model_dump(by_alias=True, mode="json"), "server_id": s.server_id} for s in fleet
    ]
    entries.append({"body": entries[0]["body"], "server_id": None})
    path.write_text(json.dumps(entries))
    items = load_items(str(path))
    assert [i.server_id for i in items] == [*(s.server_id for s in fleet), None]
    assert [i.ready for i in items] == [True] * len(fleet) + [False]  # no server yet: not Ready
    assert items[0].instance.metadata.uid == fleet[0].instance.metadata.uid

"""Injected faults over HTTP (deterministic under a seed), the app health endpoint, the inspection routes
and the `sim` command line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import hcloud
import pytest
import requests
from clawhost_sandbox.cloudflare.simulator import CloudflareSimulator
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import Latency, LatencyModel, SimClock
from hcloud.images import Image
from hcloud.server_types import ServerType

from tests.simulators.openapi_check import check_response

TOKEN = "fault-token"


async def fault_run(seed: int) -> list[tuple[str, int, str | None]]:
    """The same 60 requests against a fresh simulator with the same fault plan."""
    sim = HetznerSimulator(token=TOKEN, clock=SimClock(time_scale=1e-6), seed=seed)
    sim.faults.error_rate("GET", "/servers", 0.3, 503, "service_error")
    sim.faults.error_rate("GET", "/locations", 0.5, 502, "bad_gateway")
    sim.faults.drop_connections(0.1)
    await sim.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            for path in ["/servers", "/locations", "/server_types"] * 20:
                try:
                    async with session.get(sim.url + path) as response:
                        await response.read()
                except aiohttp.ClientError:
                    pass  # a dropped connection
    finally:
        await sim.stop()
    return [(r.template, r.status, r.fault) for r in sim.request_log]


async def test_fault_injection_is_deterministic_under_a_seed() -> None:
    first = await fault_run(seed=3)
    assert first == await fault_run(seed=3)
    assert first != await fault_run(seed=4)
    kinds = {(template, status) for template, status, fault in first if fault}
    assert {("/servers", 503), ("/locations", 502)} <= kinds
    assert any(status == 0 for _, status, _ in first)  # dropped
    assert all(fault is None for template, status, fault in first if template == "/server_types" and status)


def test_faults_as_the_sdk_sees_them(hclient: hcloud.Client, hetzner: HetznerSimulator) -> None:
    hetzner.faults.drop_connections(1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        hclient.locations.get_all()
    hetzner.faults.clear()
    hetzner.faults.outage(start_s=0, duration_s=3600)
    with pytest.raises(hcloud.APIException) as caught:
        hclient.locations.get_all()
    assert caught.value.code == "service_error"
    hetzner.clock.advance(3600)
    assert hclient.locations.get_all()  # the outage window is over
    hetzner.faults.slow("/locations", 1000.0)  # 5 wall seconds at 200x: beyond the client's patience
    impatient = hcloud.Client("hetzner-test-token", api_endpoint=hetzner.url, timeout=0.3)
    with pytest.raises(requests.exceptions.Timeout):
        impatient._client._retry_max_retries = 0
        impatient.locations.get_all()


def test_app_health_follows_the_server(hclient: hcloud.Client, hetzner: HetznerSimulator) -> None:
    response = hclient.servers.create(
        name="app", server_type=ServerType(name="cx23"), image=Image(name="debian-12")
    )
    url = hetzner.app_health_url(response.server.id)
    assert url == f"{hetzner.base_url}/_sim/app/{response.server.id}/healthz"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=5)  # not running yet: nothing listens
    for action in [response.action, *response.next_actions]:
        action.wait_until_finished()
    booting = requests.get(url, timeout=5)
    assert (booting.status_code, booting.json()) == (503, {"ok": False})
    hetzner.clock.advance(hetzner.app_boot_seconds)
    healthy = requests.get(url, timeout=5)
    assert (healthy.status_code, healthy.json()) == (200, {"ok": True})
    ready_url = url.removesuffix("/healthz") + "/readyz"  # the operator's default probe path
    assert requests.get(ready_url, timeout=5).status_code == 200
    hetzner.break_app(response.server.id)
    assert requests.get(url, timeout=5).status_code == 503
    assert requests.get(ready_url, timeout=5).status_code == 503
    hetzner.break_app(response.server.id, broken=False)
    hclient.servers.get_by_id(response.server.id).power_off().wait_until_finished()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, timeout=5)
    statuses = [r.status for r in hetzner.request_log if r.template == "/_sim/app/{server_id}/healthz"]
    assert statuses == [0, 503, 200, 503, 0]


def test_inspection_routes_show_state_but_never_tokens(
    hclient: hcloud.Client, hetzner: HetznerSimulator
) -> None:
    hclient.servers.create(name="seen", server_type=ServerType(name="cx23"), image=Image(name="debian-12"),
                           labels={"clawhost.dev/instance-uid": "u-1"})  # fmt: skip
    state = requests.get(f"{hetzner.base_url}/_sim/state", timeout=5)
    assert state.status_code == 200  # no credentials needed
    assert [(s["name"], s["labels"]) for s in state.json()["servers"]] == [
        ("seen", {"clawhost.dev/instance-uid": "u-1"})
    ]
    counters = requests.get(f"{hetzner.base_url}/_sim/requests", timeout=5).json()
    assert {"method": "POST", "template": "/servers", "status": 201, "count": 1} in counters["counters"]
    for body in (state.text, str(counters), str(hetzner.request_log)):
        assert "hetzner-test-token" not in body


async def test_cloudflare_state_lists_records() -> None:
    sim = CloudflareSimulator(token=TOKEN, zones=["example.com"])
    await sim.start()
    try:
        sim.add_record_out_of_band("example.com", name="www", type="A", content="192.0.2.1", ttl=1)
        async with aiohttp.ClientSession() as session, session.get(sim.base_url + "/_sim/state") as response:
            state = await response.json()
    finally:
        await sim.stop()
    [zone] = state["zones"]
    assert (zone["name"], [r["name"] for r in zone["records"]]) == ("example.com", ["www.example.com"])
    assert TOKEN not in str(state)


def test_cli_serves_logs_requests_and_stops(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("cli-secret-token\n")
    command = [sys.executable, "-m", "clawhost_sandbox.cli", "sim", "hetzner", "--port", "0",
               "--token-file", str(token_file), "--time-scale", "60", "--seed", "5"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline().split()
        assert first[:2] == ["listening", "on"]
        url = first[2]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        client = hcloud.Client("cli-secret-token", api_endpoint=url)
        assert client.server_types.get_by_name("cx23").disk == 40
        line = process.stdout.readline()
        assert line.startswith("GET /v1/server_types?name=cx23 200 sim=")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "cli-secret-token" not in line + out + err


def test_cli_help_names_both_simulators() -> None:
    result = subprocess.run([sys.executable, "-m", "clawhost_sandbox.cli", "sim", "--help"],
                            capture_output=True, text=True, timeout=30, check=True)  # fmt: skip
    assert "hetzner" in result.stdout and "cloudflare" in result.stdout


async def test_cloudflare_cli_requires_a_zone() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "clawhost_sandbox.cli", "sim", "cloudflare", "--token", "t",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 2
    assert b"--zone" in err


async def test_latency_per_operation_delays_only_that_operation() -> None:
    latency = LatencyModel(per_operation={"GET /locations": Latency.constant(300.0)})  # 0.3 s at 1000x
    sim = HetznerSimulator(token=TOKEN, clock=SimClock(time_scale=1000.0), latency=latency)
    await sim.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            took = {}
            for path in ("/locations", "/server_types"):
                started = time.monotonic()
                async with session.get(sim.url + path) as response:
                    assert response.status == 200
                took[path] = time.monotonic() - started
    finally:
        await sim.stop()
    assert took["/locations"] >= 0.3
    assert took["/server_types"] < took["/locations"]


async def test_unknown_api_paths_answer_in_the_providers_error_shape() -> None:
    hetzner = HetznerSimulator(token=TOKEN)
    cloudflare = CloudflareSimulator(token=TOKEN, zones=["example.com"])
    await hetzner.start()
    await cloudflare.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
            async with session.get(hetzner.url + "/teleporters") as response:  # Hetzner has none
                assert response.status == 404
                # any documented operation's 4xx answer is the same error_response schema
                check_response("GET", "/servers", 404, await response.json())
            async with session.get(cloudflare.url + "/accounts") as response:
                assert response.status == 404
                assert (await response.json())["errors"][0]["code"] == 7000
    finally:
        await hetzner.stop()
        await cloudflare.stop()
    assert hetzner.request_log[-1].template == "/teleporters"  # unmatched paths are logged as themselves

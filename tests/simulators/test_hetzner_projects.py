"""Several Hetzner projects in one simulator, as Hetzner scopes tokens: each token sees only its own
project's servers, has its own server limit and rate-limit bucket; ids are unique across projects; a
location without capacity for a type answers resource_unavailable in every project."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import hcloud
import pytest
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import SimulatorThread
from hcloud.images import Image
from hcloud.locations import Location
from hcloud.server_types import ServerType

from tests.simulators.conftest import HETZNER_TOKEN

OTHER_TOKEN = "hetzner-other-project-token"
BASE = {"server_type": ServerType(name="cx23"), "image": Image(name="debian-12")}


def client(sim: HetznerSimulator, token: str) -> hcloud.Client:
    made = hcloud.Client(token, api_endpoint=sim.url, poll_interval=0.01)
    made._client._retry_max_retries = 0
    return made


def code_of(call: object) -> str:
    with pytest.raises(hcloud.APIException) as caught:
        call()  # type: ignore[operator]
    return str(caught.value.code)


def test_tokens_are_scoped_to_their_project(hetzner: HetznerSimulator, hclient: hcloud.Client) -> None:
    hetzner.add_project("b", OTHER_TOKEN, server_limit=1)
    other = client(hetzner, OTHER_TOKEN)
    mine = hclient.servers.create(name="same-name", **BASE).server
    theirs = other.servers.create(name="same-name", **BASE).server  # names are unique per project only
    assert mine.id != theirs.id  # ids are unique across projects
    assert [s.id for s in hclient.servers.get_all()] == [mine.id]
    assert [s.id for s in other.servers.get_all()] == [theirs.id]
    assert code_of(lambda: other.servers.get_by_id(mine.id)) == "not_found"
    assert code_of(lambda: other.servers.create(name="second", **BASE)) == "resource_limit_exceeded"
    hclient.servers.create(name="second", **BASE)  # the default project has no limit
    assert {s["id"] for s in hetzner.servers("b")} == {theirs.id}
    assert len(hetzner.servers()) == 3
    assert hetzner.project_of_server(theirs.id) == "b"
    hetzner.delete_server_out_of_band(theirs.id)  # out-of-band calls find the server's project
    assert hetzner.servers("b") == []
    scopes = {r.project for r in hetzner.request_log if r.template == "/servers" and r.method == "POST"}
    assert scopes == {"default", "b"}
    assert code_of(lambda: client(hetzner, "nobody").servers.get_all()) == "unauthorized"
    assert hetzner.request_log[-1].project is None


def test_each_token_has_its_own_bucket() -> None:
    sim = HetznerSimulator(token=HETZNER_TOKEN, rate_limit_capacity=2, rate_limit_refill_per_second=0.001)
    sim.add_project("b", OTHER_TOKEN)
    with SimulatorThread(sim):
        one, two = client(sim, HETZNER_TOKEN), client(sim, OTHER_TOKEN)
        one.servers.get_all()
        one.servers.get_all()
        assert code_of(lambda: one.servers.get_all()) == "rate_limit_exceeded"
        assert two.servers.get_all() == []  # the other project's bucket is full


def test_a_location_without_capacity_answers_resource_unavailable(
    hetzner: HetznerSimulator, hclient: hcloud.Client
) -> None:
    hetzner.add_project("b", OTHER_TOKEN)
    hetzner.make_unavailable("fsn1", "cx23")
    fsn1, nbg1 = Location(name="fsn1"), Location(name="nbg1")
    for made in (hclient, client(hetzner, OTHER_TOKEN)):
        create = made.servers.create
        assert code_of(lambda: create(name="x", location=fsn1, **BASE)) == "resource_unavailable"  # noqa: B023
        assert made.servers.create(name="x", location=nbg1, **BASE).server.location.name == "nbg1"
    other_type = {"server_type": ServerType(name="cx33"), "image": Image(name="debian-12")}
    assert hclient.servers.create(name="y", location=fsn1, **other_type).server.location.name == "fsn1"
    hetzner.make_unavailable("fsn1", "cx23", False)
    assert hclient.servers.create(name="z", location=fsn1, **BASE).server.location.name == "fsn1"


def test_cli_serves_several_projects_and_unavailable_locations(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("cli-token-a\n")
    (tmp_path / "b").write_text("cli-token-b\n")
    command = [sys.executable, "-m", "clawhost_sandbox.cli", "sim", "hetzner", "--port", "0", "--quiet",
               "--token-file", str(tmp_path / "a"), "--project", f"b={tmp_path / 'b'}:1",
               "--unavailable", "fsn1/cx23"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[2]
        a, b = client_at(url, "cli-token-a"), client_at(url, "cli-token-b")
        assert code_of(lambda: b.servers.create(name="x", location=Location(name="fsn1"), **BASE)) == (
            "resource_unavailable"
        )
        b.servers.create(name="x", location=Location(name="nbg1"), **BASE)
        assert code_of(lambda: b.servers.create(name="y", location=Location(name="nbg1"), **BASE)) == (
            "resource_limit_exceeded"
        )
        assert a.servers.get_all() == [] and len(b.servers.get_all()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert "cli-token-b" not in out + err


def client_at(url: str, token: str) -> hcloud.Client:
    made = hcloud.Client(token, api_endpoint=url)
    made._client._retry_max_retries = 0
    return made

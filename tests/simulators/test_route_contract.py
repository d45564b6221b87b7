"""The Hetzner simulator against every operation the OpenAPI description documents: each one either is
implemented, and answers a representative request as its response schema says (success or a documented
error), or answers 501 `not_implemented` in Hetzner's error envelope. Never a silent 404, which hcloud and
the operator read as "that resource is gone".

Which operations count as implemented comes from the simulator's own route table, so this holds for
whatever subset of the API the simulator grows to cover.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hcloud
import httpx
import pytest
from clawhost_sandbox.hetzner.documented_routes import DOCUMENTED_ROUTES
from clawhost_sandbox.hetzner.simulator import HetznerSimulator
from clawhost_sandbox.simcore import SimulatorThread
from hcloud.floating_ips import FloatingIP
from hcloud.networks import Network
from hcloud.placement_groups import PlacementGroup
from hcloud.volumes import Volume

from openclaw_operator.providers.errors import FailureKind, Operation, classify_hetzner
from tests.simulators import test_hetzner_schema as schema
from tests.simulators.openapi_check import check_response, documented_operations, example_request_body

TOKEN = schema.TOKEN
IMPLEMENTED = {(route.method, route.template) for route in HetznerSimulator(token=TOKEN).route_table()}
DOCUMENTED = documented_operations()
LACKING = [op for op in DOCUMENTED if op not in IMPLEMENTED]
UNDOCUMENTED = [("GET", "/teleporters"), ("PATCH", "/servers"), ("GET", "/servers/1/actions/2/3"),
                ("POST", "/volumes/1")]  # fmt: skip
project = schema.project  # the schema test's small project: servers in every state, a key, firewalls


def test_the_simulators_copy_of_the_documented_routes_matches_the_spec() -> None:
    assert list(DOCUMENTED_ROUTES) == DOCUMENTED, "regenerate: python -m tests.simulators.openapi_check"


def test_every_documented_route_is_registered_and_nothing_else() -> None:
    sim = HetznerSimulator(token=TOKEN)
    refused = {(route.method, route.template) for route in sim.not_implemented_routes()}
    assert set(DOCUMENTED) >= IMPLEMENTED
    assert IMPLEMENTED.isdisjoint(refused)
    assert IMPLEMENTED | refused == set(DOCUMENTED)


async def concrete_path(project: schema.Project, template: str) -> str:
    """The template with each placeholder replaced by the id of the first item the collection before it
    lists (a server, its first action, ...), or 1 where that collection is empty or not implemented."""
    path = ""
    for part in template.strip("/").split("/"):
        if part.startswith("{"):
            status, listed = await project.call("GET", path)
            items = listed.get(path.rsplit("/", 1)[-1]) if status == 200 else None
            part = str(items[0]["id"]) if items else "1"
        path += "/" + part
    return path


def _ids(operations: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {template}" for method, template in operations]


@pytest.mark.parametrize(("method", "template"), sorted(IMPLEMENTED), ids=_ids(sorted(IMPLEMENTED)))
async def test_an_implemented_route_answers_as_documented(
    project: schema.Project, method: str, template: str
) -> None:
    path = await concrete_path(project, template)
    status, payload = await project.call(method, path, example_request_body(method, template))
    assert project.sim.request_log[-1].template == template  # this route answered, not the 404 fallback
    assert status != 501 and (status < 400 or payload["error"]["code"] != "not_implemented")
    for answer in project.seen:  # this answer and every one the path lookup saw
        check_response(*answer)


@pytest.fixture(scope="module")
def bare_hetzner() -> Iterator[HetznerSimulator]:
    sim = HetznerSimulator(token=TOKEN)
    with SimulatorThread(sim):
        yield sim


@pytest.mark.parametrize(("method", "template"), LACKING, ids=_ids(LACKING))
def test_a_documented_route_it_lacks_answers_not_implemented(
    bare_hetzner: HetznerSimulator, method: str, template: str
) -> None:
    path = template.replace("{", "").replace("}", "")  # any value fills a placeholder
    answer = httpx.request(
        method,
        bare_hetzner.url + path,
        json=example_request_body(method, template),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = answer.json()
    error = body["error"]
    assert (answer.status_code, error["code"], error["details"]) == (501, "not_implemented", {})
    assert f"{method} {template}" in error["message"]
    assert bare_hetzner.request_log[-1].template == template
    check_response(method, template, answer.status_code, body)


@pytest.mark.parametrize(
    ("method", "path"),
    UNDOCUMENTED,
)
def test_what_hetzner_does_not_document_is_not_found(
    bare_hetzner: HetznerSimulator, method: str, path: str
) -> None:
    answer = httpx.request(method, bare_hetzner.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")


def _unimplemented_calls(client: hcloud.Client) -> list[tuple[str, Operation, Any]]:
    """Calls a new user's program might make to resources the simulator does not model."""
    return [
        ("GET /volumes", Operation.READ, lambda: client.volumes.get_all()),
        ("DELETE /volumes/{id}", Operation.DELETE, lambda: client.volumes.delete(Volume(id=1))),
        ("DELETE /networks/{id}", Operation.DELETE, lambda: client.networks.delete(Network(id=1))),
        ("GET /placement_groups/{id}", Operation.READ, lambda: client.placement_groups.get_by_id(1)),
        ("DELETE /placement_groups/{id}", Operation.DELETE,
         lambda: client.placement_groups.delete(PlacementGroup(id=1))),
        ("DELETE /floating_ips/{id}", Operation.DELETE, lambda: client.floating_ips.delete(FloatingIP(id=1))),
        ("GET /servers/{id}/metrics", Operation.READ,
         lambda: client.servers.get_metrics(hcloud.servers.Server(id=1), type="cpu",
                                            start="2026-01-01T00:00:00Z", end="2026-01-01T01:00:00Z")),
    ]  # fmt: skip


def test_hcloud_and_the_operator_see_a_missing_route_as_a_refusal_not_as_gone(
    bare_hetzner: HetznerSimulator,
) -> None:
    # The SDK's own retries stay on: not_implemented is not among the codes it retries, so it fails at once.
    client = hcloud.Client(TOKEN, api_endpoint=bare_hetzner.url)
    for operation, kind, call in _unimplemented_calls(client):
        before = len(bare_hetzner.request_log)
        with pytest.raises(hcloud.APIException) as caught:
            call()
        assert caught.value.code == "not_implemented", operation
        assert len(bare_hetzner.request_log) == before + 1, operation
        # the operator's adapter passes the SDK's code (or the HTTP status when the body was not JSON):
        # never "gone", and never retried hot: the instance stalls with the provider's message
        assert classify_hetzner(kind, caught.value.code) == (FailureKind.STALLED, False), operation
        assert classify_hetzner(kind, 501)[0] != FailureKind.NOT_FOUND, operation

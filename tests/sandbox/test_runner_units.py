"""The sandbox's pure parts, table-driven: the live table, the zones and Secrets it derives from the
examples, and the shell-sourceable env file."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from clawhost_sandbox.supervisor import Row, env_text, missing_secrets, render_table, rows, zones_for

CREATED = "2026-11-01T10:00:00Z"
CREATED_TS = 1793527200.0  # CREATED as unix seconds


def instance(
    name: str, ns: str = "customers", status: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "kind": "OpenClawInstance",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": CREATED},
        "spec": {"hostname": f"{name}.example.com", "gatewayTokenSecretRef": {"name": f"{name}-gw"}, **spec},
        "status": status or {},
    }


READY = {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-01T10:00:42Z"}

ROW_CASES = {
    "no status yet: elapsed runs on": (
        instance("a"),
        Row("customers/a", "-", "-", "-", "a.example.com", 100.0),
    ),
    "provisioning": (
        instance("a", status={"phase": "Provisioning", "conditions": [{**READY, "status": "False"}]}),
        Row("customers/a", "Provisioning", "False", "-", "a.example.com", 100.0),
    ),
    "ready: elapsed stops at the Ready transition": (
        instance("a", status={"phase": "Running", "ipv4": "100.64.0.2", "conditions": [READY]}),
        Row("customers/a", "Running", "True", "100.64.0.2", "a.example.com", 42.0),
    ),
}


@pytest.mark.parametrize(("item", "expected"), ROW_CASES.values(), ids=ROW_CASES.keys())
def test_rows(item: dict[str, Any], expected: Row) -> None:
    assert rows([item], now=CREATED_TS + 100) == [expected]


def test_rows_sorted_and_table_aligned() -> None:
    table = rows([instance("zed"), instance("alice", ns="a")], now=CREATED_TS + 5)
    assert [row.name for row in table] == ["a/alice", "customers/zed"]
    lines = render_table(table).splitlines()
    assert lines[0].split() == ["NAME", "PHASE", "READY", "IP", "HOSTNAME", "ELAPSED"]
    assert lines[1].index("-") == lines[0].index("PHASE") == lines[2].index("-")
    assert lines[2].endswith("5s")
    assert not rows([instance("a")], now=0)[0].is_ready


ZONE_CASES = {
    "hostname's parent domain": ([instance("a")], ["example.com"]),
    "explicit dns.zone wins": ([instance("a", hostname="x.shop.ex.org", dns={"zone": "shop.ex.org"})],
                               ["shop.ex.org"]),
    "deduplicated and sorted": ([instance("b", hostname="b.zz.io"), instance("a"), instance("c")],
                                ["example.com", "zz.io"]),
}  # fmt: skip


@pytest.mark.parametrize(("items", "zones"), ZONE_CASES.values(), ids=ZONE_CASES.keys())
def test_zones_for(items: list[dict[str, Any]], zones: list[str]) -> None:
    assert zones_for(items) == zones


def secret(name: str, ns: str = "customers") -> dict[str, Any]:
    return {"kind": "Secret", "metadata": {"name": name, "namespace": ns}}


SECRET_CASES = {
    "present": ([secret("a-gw"), instance("a")], []),
    "missing, default key": ([instance("a")], [("customers", "a-gw", "token")]),
    "missing, own key": (
        [instance("a", gatewayTokenSecretRef={"name": "s", "key": "gateway-token"})],
        [("customers", "s", "gateway-token")],
    ),
    "same name in another namespace does not count": ([secret("a-gw", ns="other"), instance("a")],
                                                      [("customers", "a-gw", "token")]),
}  # fmt: skip


@pytest.mark.parametrize(("documents", "missing"), SECRET_CASES.values(), ids=SECRET_CASES.keys())
def test_missing_secrets(documents: list[dict[str, Any]], missing: list[tuple[str, str, str]]) -> None:
    assert missing_secrets(documents) == missing


def test_env_file_round_trips_through_a_real_shell() -> None:
    values = {"KUBECONFIG": "/tmp/a b/kubeconfig", "WHMCS_TOKEN": "x'y\"$HOME`id`", "EMPTY": ""}
    script = env_text(values) + "".join(f'printf "%s\\0" "${name}"\n' for name in values)
    printed = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert printed.split("\0")[:-1] == list(values.values())

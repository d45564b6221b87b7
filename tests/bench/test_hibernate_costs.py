"""The hibernate bench's arithmetic: monthly costs from the simulator's own price list (one place for
prices), and the report section that shows them."""

from __future__ import annotations

from typing import Any

import pytest
from clawhost_sandbox.hetzner.catalogue import SERVER_TYPES
from clawhost_sandbox.hetzner.pricing import PRIMARY_IP_MONTHLY, SNAPSHOT_PER_GB_MONTH, render_pricing

from bench.hibernate import monthly_costs, per_instance
from bench.report import assemble, markdown


@pytest.mark.parametrize(
    ("server_type", "snapshot_gb", "power_off", "hibernate"),
    [
        # cx23 EUR 3.49 + IPv4 0.50 a month, kept powered off; a 2 GB snapshot at 0.0119 per GB.
        ("cx23", 2.0, 3.99, 0.0238),
        ("cx33", 4.0, 5.99, 0.0476),
    ],
)
def test_monthly_costs_come_from_the_price_list(
    server_type: str, snapshot_gb: float, power_off: float, hibernate: float
) -> None:
    costs = monthly_costs(render_pricing(), server_type, "fsn1", snapshot_gb, 1000)
    assert costs["power_off_per_instance"] == pytest.approx(power_off)
    assert costs["hibernate_per_instance"] == pytest.approx(hibernate)
    assert costs["power_off_fleet_monthly"] == pytest.approx(power_off * 1000)
    assert costs["hibernate_fleet_monthly"] == pytest.approx(hibernate * 1000)
    assert costs["saving_fleet_monthly"] == pytest.approx((power_off - hibernate) * 1000)


def test_the_figures_follow_the_simulators_prices() -> None:
    """No price is written twice: the bench reads what GET /pricing serves."""
    (cx23,) = [t for t in SERVER_TYPES if t.name == "cx23"]
    costs = monthly_costs(render_pricing(), "cx23", "fsn1", 1.0, 1)
    assert costs["snapshot_per_gb_month_net"] == float(SNAPSHOT_PER_GB_MONTH)
    assert costs["primary_ipv4_monthly_net"] == float(PRIMARY_IP_MONTHLY["ipv4"])
    assert str(cx23.render()["prices"][0]["price_monthly"]["net"]).startswith(
        f"{costs['server_monthly_net']:.2f}"
    )


def test_requests_per_instance() -> None:
    assert per_instance({"GET /servers": 3, "POST /servers": 10}, 10) == {
        "GET /servers": 0.3,
        "POST /servers": 1.0,
    }


def test_the_report_shows_the_cycle_and_both_costs() -> None:
    hibernate: dict[str, Any] = {
        "instances": 10,
        "used_disk_gb": 5.0,
        "hibernate": {"requests_per_instance": 9.5, "rate_limited": 0, "seconds": 180.0},
        "unsuspend": {"requests_per_instance": 8.0, "rate_limited": 0, "seconds": 120.0},
        "cycle_requests_per_instance": 17.5,
        "monthly": monthly_costs(render_pricing(), "cx23", "fsn1", 2.0, 1000),
    }
    results = assemble(
        {"date": "d", "command": "c", "machine": "m", "wall_seconds": 1.0}, {}, None, hibernate
    )
    text = markdown(results, None)
    assert results["hibernate"] is hibernate
    assert "| whole cycle | 17.5 |" in text
    assert "3,990.00" in text and "23.80" in text

"""`GET /pricing`: what the project pays for, in EUR net with 19 % VAT (a German project owner).

The figure that matters here is `image.price_per_gb_month`, what a snapshot costs per GB of its
`image_size` a month: EUR 0.0119 net (Hetzner's price list as quoted by hetsnap.com/docs/snapshots,
"~0.0119 EUR / GB / month"). Server types carry the catalogue's prices; backups cost 20 % of the server
(the same page: "20% of server monthly price"); a primary IPv4 EUR 0.50 a month, IPv6 nothing. The
remaining figures (volumes, floating IPs, load balancers) are approximate: the spec requires them,
nothing here uses them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .catalogue import EVERYWHERE, SERVER_TYPES, VAT_RATE, hourly, price

SNAPSHOT_PER_GB_MONTH = Decimal("0.0119")
BACKUP_PERCENT = Decimal("20.00")
PRIMARY_IP_MONTHLY = {"ipv4": Decimal("0.50"), "ipv6": Decimal("0.00")}
# Approximate (see the module doc).
VOLUME_PER_GB_MONTH = Decimal("0.0440")
FLOATING_IP_MONTHLY = {"ipv4": Decimal("3.00"), "ipv6": Decimal("3.00")}
LOAD_BALANCER_MONTHLY = (("lb11", Decimal("5.39")), ("lb21", Decimal("10.79")), ("lb31", Decimal("21.59")))
TRAFFIC_PER_TB = Decimal("1.00")


def _per_location(monthly: Decimal, *, hourly_too: bool = True, traffic: int | None = None) -> list[Any]:
    prices = []
    for location in EVERYWHERE:
        entry: dict[str, Any] = {"location": location, "price_monthly": price(monthly)}
        if hourly_too:
            entry["price_hourly"] = price(hourly(monthly))
        if traffic is not None:
            entry |= {"included_traffic": traffic, "price_per_tb_traffic": price(TRAFFIC_PER_TB)}
        prices.append(entry)
    return prices


def render_pricing() -> dict[str, Any]:
    pricing = {
        "currency": "EUR",
        "vat_rate": f"{VAT_RATE:.2f}",
        "image": {"price_per_gb_month": price(SNAPSHOT_PER_GB_MONTH)},
        "volume": {"price_per_gb_month": price(VOLUME_PER_GB_MONTH)},
        "server_backup": {"percentage": f"{BACKUP_PERCENT:.2f}"},
        "server_types": [{"id": t.id, "name": t.name, "prices": t.render()["prices"]} for t in SERVER_TYPES],
        "primary_ips": [
            {"type": ip_type, "prices": _per_location(monthly)}
            for ip_type, monthly in PRIMARY_IP_MONTHLY.items()
        ],
        "floating_ip": {"price_monthly": price(FLOATING_IP_MONTHLY["ipv4"])},  # deprecated, still required
        "floating_ips": [
            {"type": ip_type, "prices": _per_location(monthly, hourly_too=False)}
            for ip_type, monthly in FLOATING_IP_MONTHLY.items()
        ],
        "load_balancer_types": [
            {"id": index, "name": name, "prices": _per_location(monthly, traffic=20 * 1024**4)}
            for index, (name, monthly) in enumerate(LOAD_BALANCER_MONTHLY, start=1)
        ],
    }
    return {"pricing": pricing}

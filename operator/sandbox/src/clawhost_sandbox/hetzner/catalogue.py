"""The read-only catalogue: server types, locations, datacenters and system images, as the API renders them.

Figures follow Hetzner's public price list (2025/2026, EUR net per month); shapes follow the OpenAPI spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

CATALOGUE_CREATED = "2024-01-01T00:00:00Z"
EU = ("fsn1", "nbg1", "hel1")
EVERYWHERE = (*EU, "ash", "hil", "sin")
TB = 1024**4


@dataclass(frozen=True)
class Location:
    id: int
    name: str
    description: str
    country: str
    city: str
    latitude: float
    longitude: float
    network_zone: str
    datacenter: str

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "country": self.country,
            "city": self.city,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "network_zone": self.network_zone,
        }

    def included_traffic(self) -> int:
        return 20 * TB if self.network_zone == "eu-central" else 1 * TB


# fmt: off
_LOCATION_ROWS = [
    ("fsn1", "Falkenstein DC Park 1", "DE", "Falkenstein", 50.47612, 12.370071, "eu-central", "fsn1-dc14"),
    ("nbg1", "Nuremberg DC Park 1", "DE", "Nuremberg", 49.452102, 11.076665, "eu-central", "nbg1-dc3"),
    ("hel1", "Helsinki DC Park 1", "FI", "Helsinki", 60.169855, 24.938379, "eu-central", "hel1-dc2"),
    ("ash", "Ashburn, VA", "US", "Ashburn, VA", 39.045821, -77.487073, "us-east", "ash-dc1"),
    ("hil", "Hillsboro, OR", "US", "Hillsboro, OR", 45.54222, -122.951924, "us-west", "hil-dc1"),
    ("sin", "Singapore", "SG", "Singapore", 1.283333, 103.833333, "ap-southeast", "sin-dc1"),
]
# fmt: on
LOCATIONS = tuple(Location(index, *row) for index, row in enumerate(_LOCATION_ROWS, start=1))


@dataclass(frozen=True)
class ServerType:
    id: int
    name: str
    cores: int
    memory: float
    disk: int
    architecture: str
    cpu_type: str
    monthly_eur: str
    locations: tuple[str, ...]
    category: str

    def render(self) -> dict[str, Any]:
        return _render_server_type(self)


VAT_RATE = Decimal("19.00")  # German VAT, what a German project owner is shown


def price(net: Decimal) -> dict[str, str]:
    return {"net": f"{net:.4f}", "gross": f"{net * (1 + VAT_RATE / 100):.4f}"}


def hourly(monthly: Decimal) -> Decimal:
    """Hetzner bills by the hour up to the monthly price; 730 hours make the month."""
    return (monthly / 730).quantize(Decimal("0.0001"))


@cache
def _render_server_type(server_type: ServerType) -> dict[str, Any]:
    """Rendered once per type (every server answer embeds one); the dict is shared: never mutate it."""
    monthly = Decimal(server_type.monthly_eur)

    return {
        "id": server_type.id,
        "name": server_type.name,
        "description": server_type.name.upper(),
        "category": server_type.category,
        "cores": server_type.cores,
        "memory": server_type.memory,
        "disk": server_type.disk,
        "architecture": server_type.architecture,
        "cpu_type": server_type.cpu_type,
        "storage_type": "local",
        "deprecated": False,
        "deprecation": None,
        "locations": [
            {
                "id": location_by_name(name).id,
                "name": name,
                "deprecation": None,
                "available": True,
                "recommended": server_type.category != "Shared vCPU",  # the older generation is not
            }
            for name in server_type.locations
        ],
        "prices": [
            {
                "location": name,
                "price_hourly": price(hourly(monthly)),
                "price_monthly": price(monthly),
                "included_traffic": location_by_name(name).included_traffic(),
                "price_per_tb_traffic": price(Decimal("1.00")),
            }
            for name in server_type.locations
        ],
    }


def _types() -> tuple[ServerType, ...]:
    # fmt: off
    rows = [
        # name, cores, memory GB, disk GB, architecture, cpu, EUR/month, locations, category
        ("cx22", 2, 4, 40, "x86", "shared", "3.79", EU, "Shared vCPU"),
        ("cx23", 2, 4, 40, "x86", "shared", "3.49", EU, "Cost-Optimized"),
        ("cx32", 4, 8, 80, "x86", "shared", "6.80", EU, "Shared vCPU"),
        ("cx33", 4, 8, 80, "x86", "shared", "5.49", EU, "Cost-Optimized"),
        ("cx42", 8, 16, 160, "x86", "shared", "16.40", EU, "Shared vCPU"),
        ("cx43", 8, 16, 160, "x86", "shared", "9.49", EU, "Cost-Optimized"),
        ("cx52", 16, 32, 320, "x86", "shared", "32.40", EU, "Shared vCPU"),
        ("cx53", 16, 32, 320, "x86", "shared", "17.49", EU, "Cost-Optimized"),
        ("cpx11", 2, 2, 40, "x86", "shared", "4.35", EVERYWHERE, "Regular Purpose"),
        ("cpx21", 3, 4, 80, "x86", "shared", "7.55", EVERYWHERE, "Regular Purpose"),
        ("cpx22", 3, 4, 80, "x86", "shared", "7.99", EVERYWHERE, "Regular Purpose"),
        ("cpx31", 4, 8, 160, "x86", "shared", "13.60", EVERYWHERE, "Regular Purpose"),
        ("cpx32", 4, 8, 160, "x86", "shared", "13.99", EVERYWHERE, "Regular Purpose"),
        ("cpx41", 8, 16, 240, "x86", "shared", "25.20", EVERYWHERE, "Regular Purpose"),
        ("cpx51", 16, 32, 360, "x86", "shared", "54.90", EVERYWHERE, "Regular Purpose"),
        ("cax11", 2, 4, 40, "arm", "shared", "3.79", EU, "Cost-Optimized"),
        ("cax21", 4, 8, 80, "arm", "shared", "6.49", EU, "Cost-Optimized"),
        ("cax31", 8, 16, 160, "arm", "shared", "12.49", EU, "Cost-Optimized"),
        ("cax41", 16, 32, 320, "arm", "shared", "24.49", EU, "Cost-Optimized"),
        ("ccx13", 2, 8, 80, "x86", "dedicated", "12.49", EVERYWHERE, "Dedicated vCPU"),
        ("ccx23", 4, 16, 160, "x86", "dedicated", "24.49", EVERYWHERE, "Dedicated vCPU"),
        ("ccx33", 8, 32, 240, "x86", "dedicated", "48.49", EVERYWHERE, "Dedicated vCPU"),
    ]
    # fmt: on
    return tuple(ServerType(index, *row) for index, row in enumerate(rows, start=101))


SERVER_TYPES = _types()


@dataclass(frozen=True)
class Image:
    id: int
    name: str
    description: str
    os_flavor: str
    os_version: str
    architecture: str

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "system",
            "status": "available",
            "name": self.name,
            "description": self.description,
            "image_size": None,
            "disk_size": 5,
            "created": CATALOGUE_CREATED,
            "created_from": None,
            "bound_to": None,
            "os_flavor": self.os_flavor,
            "os_version": self.os_version,
            "rapid_deploy": True,
            "protection": {"delete": False},
            "deprecated": None,
            "deleted": None,
            "labels": {},
            "architecture": self.architecture,
        }


def _images() -> tuple[Image, ...]:
    systems = [
        ("ubuntu-22.04", "Ubuntu 22.04", "ubuntu", "22.04"),
        ("ubuntu-24.04", "Ubuntu 24.04", "ubuntu", "24.04"),
        ("debian-12", "Debian 12", "debian", "12"),
        ("debian-13", "Debian 13", "debian", "13"),
    ]
    images = []
    for offset, architecture in ((0, "x86"), (100, "arm")):
        for index, (name, description, flavor, version) in enumerate(systems):
            images.append(Image(161_000 + offset + index, name, description, flavor, version, architecture))
    return tuple(images)


IMAGES = _images()


def location_by_name(name: str) -> Location:
    return next(location for location in LOCATIONS if location.name == name)


def find_location(id_or_name: str | int) -> Location | None:
    return next((loc for loc in LOCATIONS if str(id_or_name) in (str(loc.id), loc.name)), None)


def find_server_type(id_or_name: str | int) -> ServerType | None:
    return next((st for st in SERVER_TYPES if str(id_or_name) in (str(st.id), st.name)), None)


def find_image(id_or_name: str | int, architecture: str) -> Image | None:
    """Images are named per architecture: `ubuntu-24.04` means the arm build on an arm server type."""
    key = str(id_or_name)
    by_id = next((image for image in IMAGES if str(image.id) == key), None)
    return by_id or next((i for i in IMAGES if i.name == key and i.architecture == architecture), None)


@cache
def render_datacenter(location: Location) -> dict[str, Any]:
    """Shared like the server types' renderings: never mutate it."""
    available = [st.id for st in SERVER_TYPES if location.name in st.locations]
    return {
        "id": location.id,
        "name": location.datacenter,
        "description": f"{location.city} DC {location.datacenter.rsplit('dc', 1)[-1]}",
        "location": location.render(),
        "server_types": {
            "supported": available,
            "available": available,
            "available_for_migration": available,
        },
    }

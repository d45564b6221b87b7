"""The first boot's stages derived from the guest's raw record, on lines as the guest writes them.

Fast and always run (part of `make test`): no guest.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e_vm.timings import (
    gateway_unit_marks,
    journal_marks,
    npm_reported,
    since_boot,
    stage_seconds,
    startup_spans,
    systemd_span_seconds,
)

BOOT = 1796321680.0

# cloud-init's output in `journalctl -b -t cloud-init -o short-unix`, shortened from a real boot.
JOURNAL = """\
1796321755.100000 alice cloud-init[461]: Get:1 http://deb.debian.org/debian trixie InRelease [140 kB]
1796321770.000000 alice cloud-init[461]: Setting up unattended-upgrades (2.12) ...
1796321801.000000 alice cloud-init[461]: Get:1 https://deb.nodesource.com/node_24.x nodistro InRelease [1 kB]
1796321806.306153 alice cloud-init[461]: Get:3 https://dl.cloudsmith.io/public/caddy/stable/deb/debian any-version InRelease [909 B]
1796321901.675062 alice cloud-init[461]: Setting up nodejs (24.22.3-1nodesource1) ...
1796321901.926876 alice cloud-init[461]: Setting up caddy (2.6.2-12+deb13u1) ...
1796321928.999713 alice cloud-init[461]: Processing triggers for libc-bin (2.41-12+deb13u5) ...
1796322100.500000 alice cloud-init[461]: npm warn install-scripts skipped for koffi
1796322120.000000 alice cloud-init[461]: added 334 packages in 3m
1796322150.000000 alice cloud-init[461]: clawhost-bootstrap: OpenClaw 2026.9.6 is up
"""  # noqa: E501


def test_journal_marks_start_at_the_first_vendor_line() -> None:
    marks = journal_marks(JOURNAL)
    assert marks == {
        "vendor repositories first fetched": [
            1796321801.0,
            "Get:1 https://deb.nodesource.com/node_24.x nodistro InRelease [1 kB]",
        ],
        # Debian's unattended-upgrades line comes before the vendor lines and is not nodejs/caddy.
        "apt (nodejs, caddy) last line": [
            1796321928.999713,
            "Processing triggers for libc-bin (2.41-12+deb13u5) ...",
        ],
        "npm install done": [1796322120.0, "added 334 packages in 3m"],
        "bootstrap reports OpenClaw up": [1796322150.0, "clawhost-bootstrap: OpenClaw 2026.9.6 is up"],
    }


def test_no_vendor_line_means_no_apt_or_npm_marks_but_the_golden_servers_up() -> None:
    assert journal_marks("1796321770.0 alice cloud-init[461]: Setting up curl (8.14) ...\n") == {}
    golden = (
        "1796321770.0 alice cloud-init[461]: Setting up curl (8.14) ...\n"
        "1796321790.5 alice cloud-init[461]: clawhost-bootstrap: OpenClaw 2026.9.6 is up\n"
    )
    assert journal_marks(golden) == {
        "bootstrap reports OpenClaw up": [1796321790.5, "clawhost-bootstrap: OpenClaw 2026.9.6 is up"]
    }


# systemd's lines about the gateway's unit, as `journalctl -u openclaw-gateway -o short-unix` prints them.
UNIT_JOURNAL = """1796396100.100000 alice systemd[1]: Started openclaw-gateway.service - OpenClaw Gateway.
1796396255.000000 alice node[5012]: state lease heartbeat did not become ready (timeoutMs=5000)
1796396255.200000 alice systemd[1]: openclaw-gateway.service: Main process exited, code=exited, status=1/FAILURE
1796396255.210000 alice systemd[1]: openclaw-gateway.service: Failed with result 'exit-code'.
1796396260.400000 alice systemd[1]: openclaw-gateway.service: Scheduled restart job, restart counter is at 1.
1796396260.500000 alice systemd[1]: Started openclaw-gateway.service - OpenClaw Gateway.
"""  # noqa: E501


def test_the_gateway_units_first_start_and_its_failed_runs() -> None:
    assert gateway_unit_marks(UNIT_JOURNAL) == {
        "unit first started": 1796396100.1,
        "starts": 2,
        "failed runs": 1,
    }
    assert gateway_unit_marks("") == {"unit first started": None, "starts": 0, "failed runs": 0}


@pytest.mark.parametrize(
    ("span", "seconds"),
    [("14.425s", 14.425), ("11min 30.068s", 690.068), ("345ms", 0.345), ("1h 2min 3s", 3723.0)],
)
def test_systemd_time_spans(span: str, seconds: float) -> None:
    assert systemd_span_seconds(span) == pytest.approx(seconds)


def test_a_span_that_is_not_one_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a systemd time span"):
        systemd_span_seconds("soon")


@pytest.mark.parametrize(
    ("line", "spans"),
    [
        (
            "Startup finished in 14.425s (kernel) + 11min 30.068s (userspace) = 11min 44.494s.",
            {"kernel": 14.425, "userspace": 690.068},
        ),
        (
            "Startup finished in 2.1s (kernel) + 3.5s (initrd) + 40.2s (userspace) = 45.8s\n"
            "graphical.target reached after 40.1s in userspace.",
            {"kernel": 2.1, "initrd": 3.5, "userspace": 40.2},
        ),
        ("Bootup is not yet finished (org.freedesktop.systemd1.Manager.FinishTimestampMonotonic=0).", {}),
    ],
)
def test_systemds_startup_line(line: str, spans: dict[str, float]) -> None:
    assert startup_spans(line) == pytest.approx(spans)


@pytest.mark.parametrize(
    ("line", "reported"),
    [
        ("added 334 packages in 46s", (334, 46.0)),
        ("added 334 packages in 3m", (334, 180.0)),
        ("added 12 packages in 812ms", (12, 0.812)),
        ("added 1 packages", (1, None)),
    ],
)
def test_npms_own_summary(line: str, reported: tuple[int, float | None]) -> None:
    assert npm_reported(line) == pytest.approx(reported)


def _event(name: str, kind: str, at: float) -> dict[str, Any]:
    return {
        "name": name,
        "event_type": kind,
        "timestamp": at,
        "result": "SUCCESS" if kind == "finish" else None,
    }


def test_stages_run_from_mark_to_mark() -> None:
    record = {
        "boot_epoch": BOOT,
        "systemd_startup": "Startup finished in 14.4s (kernel) + 11min 30.0s (userspace) = 11min 44.4s.",
        # As cloud-init 25.1 writes status.json: seconds since boot, not epoch times.
        "cloud_init_stages": {
            "init-local": {"start": 20.0, "finished": 40.0},
            "modules-final": {"start": 75.0, "finished": 480.0},
        },
        "cloud_init_events": [
            _event("modules-final/config-package-update-upgrade-install", "start", BOOT + 76.0),
            _event("modules-final/config-package-update-upgrade-install", "finish", BOOT + 104.5),
            _event("modules-final/config-scripts-user", "start", BOOT + 110.0),
            _event("modules-final/config-scripts-user", "finish", BOOT + 471.0),
        ],
        "journal_marks": journal_marks(JOURNAL),
    }
    up = 1796322150.0 - BOOT
    assert stage_seconds(record) == {
        "kernel (to systemd in the root filesystem)": 14.4,
        "systemd to cloud-init init-local": 5.6,
        "cloud-init init-local, init, modules-config (network, users, SSH, files)": 55.0,
        "cloud-init package update, upgrade, install (Debian)": 28.5,
        "bootstrap: firewall, sshd, vendor repositories, apt install nodejs caddy": round(
            1796321928.999713 - BOOT - 110.0, 1
        ),
        "bootstrap: npm install -g openclaw": round(1796322120.0 - 1796321928.999713, 1),
        "bootstrap: gateway and Caddy start to first /readyz 200": 30.0,
        "kernel start to OpenClaw up (guest clock)": round(up, 1),
        "kernel start to cloud-init done (guest clock)": 480.0,
    }


@pytest.mark.parametrize(("value", "seconds"), [(159.44, 159.44), (BOOT + 159.5, 159.5)])
def test_cloud_init_times_are_uptimes_or_epochs(value: float, seconds: float) -> None:
    assert since_boot(value, BOOT) == pytest.approx(seconds)


def test_a_record_without_marks_has_only_the_stages_it_can_show() -> None:
    record = {"boot_epoch": BOOT, "systemd_startup": "", "cloud_init_stages": {}, "journal_marks": {}}
    assert stage_seconds(record) == {}

"""The results document: figures in their places, ratios, target verdicts, and its two renderings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.report import assemble, chart, markdown, ratio, targets


def steady(
    hetzner: float, cloudflare: float, drift: float | None, kept_up: bool = True, scale: float = 20.0
) -> dict[str, Any]:
    return {
        "time_scale": scale,
        "hetzner_requests_per_hour": hetzner,
        "cloudflare_requests_per_hour": cloudflare,
        "drift_detection_seconds": drift,
        "drift_repair_seconds": None if drift is None else drift + 5,
        "kept_up": kept_up,
        "listings": {"period_seconds": {"p50": 301.0, "p90": 302.0, "max": 305.5}, "duration_seconds": None},
        "hetzner_rate_limited": 0,
        "cloudflare_rate_limited": 3,
        "list_passes": 12,
        "expected_list_passes": 12,
        "startup": {"wall_seconds": 4.0},
        "resources": {"peak_rss_mb": 120.0, "cpu_seconds_per_reconcile": 0.002},
    }


def burst(
    elapsed: float | None, bound: float = 44.6, limited: int = 0, duplicates: int = 0
) -> dict[str, Any]:
    return {
        "time_to_all_ready_seconds": elapsed,
        "lower_bound_seconds": bound,
        "ratio_to_lower_bound": None if elapsed is None else elapsed / bound,
        "rate_limited_responses": limited,
        "duplicate_servers": duplicates,
        "hetzner_requests": 900,
        "cloudflare_requests": 400,
        "phases": {"until_server_created": {"p50": 1.0, "p90": 2.0, "max": 3.0}, "app_up_until_ready": None},
    }


META = {
    "load_average": {"start": [0.5, 1, 1], "end": [2.25, 1, 1]},
    "date": "2026-01-02",
    "command": "make bench",
    "machine": "2 CPUs",
    "wall_seconds": 600.0,
    "time_scale": 20,
}


def results(ours_1000: dict[str, Any], ours_burst: dict[str, Any]) -> dict[str, Any]:
    return assemble(
        META,
        {1000: {"ours": ours_1000, "baseline": steady(12000.0, 12000.0, 600.0, scale=30.0)}},
        {"time_scale": 2.0, "instances": 200, "ours": ours_burst, "baseline": burst(400.0, limited=2489)},
    )


def test_figures_land_where_the_issue_names_them() -> None:
    doc = results(steady(240.0, 12.0, 250.0), burst(50.0))
    assert doc["time_scale"] == 20
    assert doc["steady_state"]["1000"]["hetzner_requests_per_hour"] == 240.0
    assert doc["steady_state"]["1000"]["drift_detection_seconds"] == 250.0
    assert doc["resources"]["1000"]["peak_rss_mb"] == 120.0
    assert doc["burst"]["lower_bound_seconds"] == 44.6
    assert doc["baseline"]["steady_state"]["1000"]["hetzner_requests_per_hour"] == 12000.0
    assert doc["baseline"]["burst"]["rate_limited_responses"] == 2489
    assert doc["baseline"]["resources"]["1000"]["cpu_seconds_per_reconcile"] == 0.002
    assert doc["ratios"]["1000"]["hetzner_requests_per_hour"] == 50.0
    assert doc["ratios"]["burst_time_to_all_ready"] == 8.0


@pytest.mark.parametrize(
    ("ours_1000", "ours_burst", "failed"),
    [
        (steady(240.0, 12.0, 250.0), burst(50.0), set()),
        (steady(300.0, 12.0, 300.0), burst(44.6 * 1.2), set()),  # the limits themselves pass
        (steady(301.0, 12.0, 250.0), burst(50.0), {"steady_1000_hetzner_within_300_per_hour"}),
        (steady(240.0, 12.0, 301.0), burst(50.0), {"steady_1000_drift_within_one_resync"}),
        (steady(240.0, 12.0, None), burst(50.0), {"steady_1000_drift_within_one_resync"}),  # never noticed
        # An operator that fell behind its schedule under-counts: its request figure proves nothing.
        (steady(240.0, 12.0, 250.0, kept_up=False), burst(50.0), {"steady_1000_hetzner_within_300_per_hour"}),
        (steady(240.0, 12.0, 250.0), burst(54.0), {"burst_within_1_2x_lower_bound"}),
        (steady(240.0, 12.0, 250.0), burst(None), {"burst_within_1_2x_lower_bound"}),  # never all Ready
        (steady(240.0, 12.0, 250.0), burst(50.0, limited=1), {"burst_zero_429"}),
        (steady(240.0, 12.0, 250.0), burst(50.0, duplicates=1), {"burst_zero_duplicates"}),
    ],
)
def test_target_verdicts(ours_1000: dict[str, Any], ours_burst: dict[str, Any], failed: set[str]) -> None:
    verdicts = targets(results(ours_1000, ours_burst))
    assert {name for name, met in verdicts.items() if not met} == failed
    assert len(verdicts) == 5


def test_targets_of_scenarios_that_did_not_run_are_absent() -> None:
    assert targets(assemble(META, {}, None)) == {}


@pytest.mark.parametrize(
    ("baseline", "ours", "expected"), [(100, 10, 10.0), (1, 3, 0.33), (5, 0, None), (None, 1, None)]
)
def test_ratio(baseline: float | None, ours: float | None, expected: float | None) -> None:
    assert ratio(baseline, ours) == expected


def test_markdown_and_chart_render_the_same_document(tmp_path: Path) -> None:
    doc = results(steady(240.0, 12.0, 250.0), burst(50.0))
    text = markdown(doc, "chart.png")
    assert "| 1,000 | 20x / 30x | 240.0 / 12,000.0 | 50x |" in text
    assert "| 250.0 / 600.0 | 255.0 / 605.0 | 3 / 3 | yes (12/12) / yes |" in text
    assert "| operator | 50.0 | 44.6 | 1.12x | 0 | 0 | 900 / 400 |" in text
    assert "![results](chart.png)" in text
    assert "load average 0.5 to 2.25" in text
    assert "1,000: period 301 / 305.5 s, listing n/a s" in text
    assert "burst within 1 2x lower bound: **met**" in text
    chart(doc, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_ratio_for_an_operator_that_fell_behind() -> None:
    doc = results(steady(240.0, 12.0, 250.0, kept_up=False), burst(50.0))
    assert doc["ratios"]["1000"] == dict.fromkeys(
        ("hetzner_requests_per_hour", "cloudflare_requests_per_hour", "drift_detection_seconds")
    )
    assert "| 1,000 | 20x / 30x | 240.0 / 12,000.0 | n/a |" in markdown(doc, None)
    assert "NO (12/12)" in markdown(doc, None)

"""The scale part of the results (issue 16): the sharded 10,000-instance run and the memory footprint, their
target verdicts and their markdown. bench/report.py puts them into the one results document."""

from __future__ import annotations

from typing import Any

TARGET_PEAK_RSS_MB = 250.0  # per shard, at 5,000 instances
FOOTPRINT_SIZE = 5000
TARGET_BURST_RATIO = 1.2
RESYNC_SECONDS = 300.0


def scale_targets(results: dict[str, Any]) -> dict[str, bool | None]:
    """Each True, False, or absent when its scenario did not run."""
    verdicts: dict[str, bool | None] = {}
    footprint = (results.get("footprint") or {}).get(str(FOOTPRINT_SIZE))
    if footprint is not None and not results["footprint"].get("tracemalloc"):
        verdicts["footprint_5000_peak_rss_within_250_mb"] = footprint["peak_rss_mb"] <= TARGET_PEAK_RSS_MB
    sharded = results.get("sharded")
    if sharded is None:
        return verdicts
    steady, burst = sharded["steady_state"], sharded["burst"]
    shard_peaks = [p["peak_rss_mb"] for p in steady["processes"].values() if p["instances"] <= FOOTPRINT_SIZE]
    verdicts["sharded_peak_rss_within_250_mb_per_shard"] = bool(shard_peaks) and max(shard_peaks) <= (
        TARGET_PEAK_RSS_MB
    )
    verdicts["sharded_every_process_kept_up"] = steady["kept_up"]
    drift = steady["drift_detection_seconds"]
    verdicts["sharded_drift_within_one_resync"] = drift is not None and drift <= RESYNC_SECONDS
    verdicts["sharded_no_429_in_steady_state"] = not any(
        p["rate_limited"] for p in steady["projects"].values()
    )
    elapsed = burst["time_to_all_ready_seconds"]
    verdicts["sharded_burst_within_1_2x_lower_bound"] = (
        elapsed is not None and elapsed <= TARGET_BURST_RATIO * burst["lower_bound_seconds"]
    )
    verdicts["sharded_burst_zero_429"] = burst["rate_limited_responses"] == 0
    verdicts["sharded_burst_zero_duplicates"] = burst["duplicate_servers"] == 0
    return verdicts


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _n(value: Any) -> str:
    if value is None:
        return "n/a"
    return (
        f"{value:,.1f}"
        if isinstance(value, float)
        else f"{value:,}"
        if isinstance(value, int)
        else str(value)
    )


def scale_sections(results: dict[str, Any]) -> list[str]:
    return _sharded_section(results.get("sharded")) + _footprint_section(results.get("footprint"))


def _sharded_section(sharded: dict[str, Any] | None) -> list[str]:
    if sharded is None:
        return []
    ours, naive = sharded["steady_state"], sharded["baseline"]["steady_state"]
    layout = "; ".join(
        f"shard {name}: {', '.join(s['projects'])} ({s['zone']})" for name, s in sharded["layout"].items()
    )
    lines = [
        f"## Sharded: {sharded['instances']:,} instances, {len(ours['projects'])} Hetzner projects, "
        f"{len(ours['processes'])} shards",
        "",
        f"{layout}. Started as a {sharded.get('start', 'first adoption')} (first passes of all shards in "
        f"{ours['startup']['wall_seconds']:g} s wall). Steady state at {ours['time_scale']:g}x for "
        f"{ours['window_sim_seconds']:g} simulated s (operator / naive baseline, one baseline process per "
        "project).",
        "",
        _row("project", "servers", "Hetzner req/h", "429s", "listings done / due"),
        _row(*["---"] * 5),
    ]
    for name, project in ours["projects"].items():
        base = naive["projects"][name]
        lines.append(
            _row(
                name,
                _n(project["servers"]),
                f"{_n(project['hetzner_requests_per_hour'])} / {_n(base['hetzner_requests_per_hour'])}",
                f"{project['rate_limited']} / {base['rate_limited']}",
                f"{project['list_passes']}/{project['expected_list_passes']}",
            )
        )
    lines += [
        "",
        _row(
            "process",
            "instances",
            "reconciles per instance per interval",
            "CPU s per reconcile",
            "cores in real time",
            "peak RSS MB",
            "kept up",
        ),
        _row(*["---"] * 7),
    ]
    for who, figures in (("shard", ours), ("baseline", naive)):
        for name, p in figures["processes"].items():
            lines.append(
                _row(
                    f"{who} {name}",
                    _n(p["instances"]),
                    p["reconciles_per_instance_per_resync"],
                    p["cpu_seconds_per_reconcile"],
                    p["cores_in_real_time"],
                    p["peak_rss_mb"],
                    "yes" if p["kept_up"] else "NO",
                )
            )
    drift = ours["drift"]
    lines += [
        "",
        f"Drift (one out-of-band deletion per project): noticed within {drift['noticed_seconds']} s, "
        f"repair sent within {drift['repair_started_seconds']} s "
        f"(baseline: {naive['drift']['noticed_seconds']} / "
        f"{naive['drift']['repair_started_seconds']}).",
        "",
    ]
    lines += _sharded_burst(sharded)
    return lines


def _sharded_burst(sharded: dict[str, Any]) -> list[str]:
    ours, naive = sharded["burst"], sharded["baseline"]["burst"]
    lines = [
        f"Burst of {ours['instances']:,} (operator {ours['time_scale']:g}x, "
        f"baseline {naive['time_scale']:g}x):",
        "",
        _row(
            "",
            "Ready",
            "time to all Ready s",
            "lower bound s",
            "ratio",
            "429s",
            "duplicates",
            "servers per project",
        ),
        _row(*["---"] * 8),
    ]
    for who, figures in (("operator", ours), ("naive baseline", naive)):
        spread = ", ".join(f"{name} {p['servers']}" for name, p in figures["projects"].items())
        lines.append(
            _row(
                who,
                figures["ready"],
                _n(figures["time_to_all_ready_seconds"]),
                _n(figures["lower_bound_seconds"]),
                _n(figures["ratio_to_lower_bound"]),
                figures["rate_limited_responses"],
                figures["duplicate_servers"],
                spread,
            )
        )
    cpu = ", ".join(f"{name} {p['cpu_seconds']} s" for name, p in (ours.get("processes") or {}).items())
    return [*lines, "", f"Operator CPU during the burst: {cpu}.", ""]


def _footprint_section(footprint: dict[str, Any] | None) -> list[str]:
    if footprint is None:
        return []
    sizes = [key for key in footprint if key.isdigit()]
    lines = [
        "## Memory footprint: one operator process",
        "",
        _row(
            "instances",
            "peak RSS MB",
            "RSS at rest MB",
            "observer MB",
            "Kopf memories MB",
            "tasks MB",
            "per-instance memory MB",
        ),
        _row(*["---"] * 7),
    ]
    lines.append(
        _row(
            "0 (baseline)",
            footprint["baseline"]["peak_rss_mb"],
            footprint["baseline"]["rss_at_rest_mb"],
            "",
            "",
            "",
            "",
        )
    )
    for n in sizes:
        found = footprint[n]
        parts = found.get("structures") or {}

        def mb(key: str, parts: dict[str, Any] = parts) -> str:
            return _n((parts.get(key) or {}).get("mb"))

        lines.append(
            _row(
                f"{int(n):,}",
                found["peak_rss_mb"],
                found["rss_at_rest_mb"],
                mb("observer snapshots (servers, records, views)"),
                mb("kopf per-object memories (live bodies, timers)"),
                mb("asyncio tasks not reached above"),
                mb("reconciler per-instance memory"),
            )
        )
    if footprint.get("tracemalloc"):
        lines += ["", "Measured under tracemalloc (it inflates RSS): no verdict on the RSS target."]
    return [*lines, ""]

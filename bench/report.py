"""Results: the JSON every figure lives in, the markdown report a human reads, and the PNG chart.

`assemble` turns the scenario outputs into the results document (the operator's figures at the top level,
the naive baseline's under `baseline`, ratios and target verdicts beside them); `markdown` and `chart`
only render that document, so the three can never disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

from bench.scale_report import scale_sections, scale_targets

TARGET_HETZNER_PER_HOUR_AT_1000 = 300.0
TARGET_BURST_RATIO = 1.2
RESYNC_SECONDS = 300.0
STEADY_KEYS = ("hetzner_requests_per_hour", "cloudflare_requests_per_hour", "drift_detection_seconds")


def ratio(baseline: float | None, ours: float | None) -> float | None:
    """How many times the baseline's figure is ours (None when either is missing or ours is zero)."""
    if baseline is None or ours is None or ours == 0:
        return None
    return round(baseline / ours, 2)


def assemble(
    meta: dict[str, Any],
    steady: dict[int, dict[str, Any]],
    burst: dict[str, Any] | None,
    hibernate: dict[str, Any] | None = None,
    scale: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`scale` holds the issue-16 scenarios, `sharded` and `footprint` (bench/scale_report.py)."""
    results: dict[str, Any] = {**meta, "steady_state": {}, "resources": {}, "baseline": {}, "ratios": {}}
    base: dict[str, Any] = {"steady_state": {}, "resources": {}}
    for n, run in sorted(steady.items()):
        ours, naive = run["ours"], run["baseline"]
        results["steady_state"][str(n)] = _without(ours, "resources")
        results["resources"][str(n)] = ours["resources"]
        base["steady_state"][str(n)] = _without(naive, "resources")
        base["resources"][str(n)] = naive["resources"]
        # A reconciler that fell behind under-counts: its figures make no ratio (the baseline's only
        # understate ours, so they stay, marked in the report).
        results["ratios"][str(n)] = {
            key: ratio(naive.get(key), ours.get(key)) if ours.get("kept_up", True) else None
            for key in STEADY_KEYS
        }
    if burst is not None:
        results["burst"] = {
            "time_scale": burst["time_scale"],
            "instances": burst["instances"],
            **burst["ours"],
        }
        base["burst"] = {
            "time_scale": burst["time_scale"],
            "instances": burst["instances"],
            **burst["baseline"],
        }
        results["ratios"]["burst_time_to_all_ready"] = ratio(
            burst["baseline"]["time_to_all_ready_seconds"], burst["ours"]["time_to_all_ready_seconds"]
        )
    if hibernate is not None:
        results["hibernate"] = hibernate
    results["baseline"] = base
    results.update(scale or {})
    results["targets"] = {**targets(results), **scale_targets(results)}
    return results


def _without(figures: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in figures.items() if key not in keys}


def targets(results: dict[str, Any]) -> dict[str, bool | None]:
    """The acceptance targets, each True, False, or None when its scenario did not run."""
    verdicts: dict[str, bool | None] = {}
    at_1000 = results["steady_state"].get("1000")
    if at_1000 is not None:
        verdicts["steady_1000_hetzner_within_300_per_hour"] = (
            at_1000.get("kept_up", True)
            and at_1000["hetzner_requests_per_hour"] <= TARGET_HETZNER_PER_HOUR_AT_1000
        )
        drift = at_1000["drift_detection_seconds"]
        verdicts["steady_1000_drift_within_one_resync"] = drift is not None and drift <= RESYNC_SECONDS
    burst = results.get("burst")
    if burst is not None:
        elapsed = burst["time_to_all_ready_seconds"]
        verdicts["burst_within_1_2x_lower_bound"] = (
            elapsed is not None and elapsed <= TARGET_BURST_RATIO * burst["lower_bound_seconds"]
        )
        verdicts["burst_zero_429"] = burst["rate_limited_responses"] == 0
        verdicts["burst_zero_duplicates"] = burst["duplicate_servers"] == 0
    return verdicts


# --- markdown ----------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}x"


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _pair(ours: dict[str, Any], naive: dict[str, Any], key: str) -> str:
    return f"{_fmt(ours[key])} / {_fmt(naive[key])}"


def _verdict(value: bool | None) -> str:
    return "not run" if value is None else "met" if value else "NOT met"


def markdown(results: dict[str, Any], chart_name: str | None) -> str:
    lines = [
        f"# Benchmark results {results['date']}",
        "",
        f"Command: `{results['command']}` (commit `{results.get('commit', '?')}`, {results['machine']}, "
        f"load average {_load(results)}); took {results['wall_seconds'] / 60:.1f} min. The simulators ran "
        "faster than real time (factors below); every figure is converted back to real (simulated) seconds "
        "and hours. Each cell reads operator / naive baseline.",
        "",
    ]
    if results.get("note"):
        lines += [f"Note: {results['note']}", ""]
    if chart_name:
        lines += [f"![results]({chart_name})", ""]
    lines += _steady_section(results)
    lines += _burst_section(results)
    lines += _hibernate_section(results)
    lines += scale_sections(results)
    lines += ["## Targets", ""]
    lines += [f"- {name.replace('_', ' ')}: **{_verdict(v)}**" for name, v in results["targets"].items()]
    lines += ["", "How these figures are produced, and what was seeded: docs/benchmarks.md.", ""]
    return "\n".join(lines)


def _hibernate_section(results: dict[str, Any]) -> list[str]:
    found = results.get("hibernate")
    if not found:
        return []
    money = found["monthly"]
    currency, fleet = money["currency"], money["fleet"]
    lines = [
        "## Hibernate (suspendMode)",
        "",
        f"{found['instances']} instances ({money['server_type']}, {found['used_disk_gb']:g} GB used) "
        "hibernated together, then unsuspended; Hetzner requests per instance, shared listings included.",
        "",
        _row("phase", "Hetzner requests per instance", "429s", "simulated seconds"),
        _row("---", "---", "---", "---"),
    ]
    for phase in ("hibernate", "unsuspend"):
        part = found[phase]
        lines.append(
            _row(phase, _fmt(part["requests_per_instance"]), part["rate_limited"], _fmt(part["seconds"]))
        )
    lines += [
        _row("whole cycle", _fmt(found["cycle_requests_per_instance"]), "", ""),
        "",
        f"Monthly cost of {fleet:,} suspended instances, {currency} net (prices from the simulator's "
        "GET /pricing; sources in docs/benchmarks.md):",
        "",
        _row("suspendMode", "per instance", f"{fleet:,} instances"),
        _row("---", "---", "---"),
        _row(
            f"PowerOff ({money['server_type']} {money['server_monthly_net']:g} + IPv4 "
            f"{money['primary_ipv4_monthly_net']:g})",
            f"{money['power_off_per_instance']:.2f}",
            f"{money['power_off_fleet_monthly']:,.2f}",
        ),
        _row(
            f"Hibernate ({money['snapshot_gb']:g} GB snapshot x {money['snapshot_per_gb_month_net']:g})",
            f"{money['hibernate_per_instance']:.4f}",
            f"{money['hibernate_fleet_monthly']:,.2f}",
        ),
        "",
    ]
    return lines


def _steady_section(results: dict[str, Any]) -> list[str]:
    steady, base = results["steady_state"], results["baseline"]["steady_state"]
    if not steady:
        return []
    lines = [
        "## Steady state: one simulated hour of Ready instances",
        "",
        _row("instances", "time scale", "Hetzner req/h", "ratio", "Cloudflare req/h", "ratio",
             "drift noticed within s (worst)", "drift repair sent within s (worst)", "429s", "kept schedule"),
        _row(*["---"] * 10),
    ]  # fmt: skip
    for n, ours in steady.items():
        naive, ratios = base[n], results["ratios"][n]
        limited = (ours["hetzner_rate_limited"] + ours["cloudflare_rate_limited"],
                   naive["hetzner_rate_limited"] + naive["cloudflare_rate_limited"])  # fmt: skip
        lines.append(
            _row(f"{int(n):,}", f"{ours['time_scale']:g}x / {naive['time_scale']:g}x",
                 _pair(ours, naive, "hetzner_requests_per_hour"), _times(ratios["hetzner_requests_per_hour"]),
                 _pair(ours, naive, "cloudflare_requests_per_hour"),
                 _times(ratios["cloudflare_requests_per_hour"]),
                 _pair(ours, naive, "drift_detection_seconds"), _pair(ours, naive, "drift_repair_seconds"),
                 f"{limited[0]} / {limited[1]}", f"{_kept(ours, passes=True)} / {_kept(naive)}")
        )  # fmt: skip
    lines += [
        "",
        "Drift: n/a means at least one of the deletions was not noticed (or not repaired) within the hour. "
        "Kept schedule: the operator listed once per resync interval (passes done / due), the baseline "
        "reconciled each instance about once per interval; a run that did not keep up was CPU-bound at "
        "this time scale and under-counts its requests per hour, so it gets no ratio.",
        "",
        "The operator notices drift at its next full listing, so its worst case is about one listing "
        "period plus one listing: "
        + "; ".join(f"{int(n):,}: period {_spread(ours, 'period_seconds')} s, listing "
                    f"{_spread(ours, 'duration_seconds')} s" for n, ours in steady.items())
        + " (p50 / max).",
    ]  # fmt: skip
    lines += ["", _row("instances", "peak RSS MB", "CPU s per reconcile", "start-up until settled, wall s"),
              _row(*["---"] * 4)]  # fmt: skip
    for n in steady:
        ours_r, naive_r = results["resources"][n], results["baseline"]["resources"][n]
        startup = f"{_fmt(steady[n]['startup']['wall_seconds'])} / {_fmt(base[n]['startup']['wall_seconds'])}"
        lines.append(_row(f"{int(n):,}", _pair(ours_r, naive_r, "peak_rss_mb"),
                          _pair(ours_r, naive_r, "cpu_seconds_per_reconcile"), startup))  # fmt: skip
    return [*lines, ""]


def _burst_section(results: dict[str, Any]) -> list[str]:
    burst = results.get("burst")
    if burst is None:
        return []
    naive = results["baseline"]["burst"]
    lines = [
        f"## Burst: {burst['instances']} instances at once (time scale {burst['time_scale']:g}x, "
        f"baseline {naive['time_scale']:g}x)",
        "",
        _row("", "time to all Ready s", "lower bound s", "ratio", "429s", "duplicate servers",
             "Hetzner / Cloudflare requests"),
        _row(*["---"] * 7),
    ]  # fmt: skip
    for who, figures in (("operator", burst), ("naive baseline", naive)):
        lines.append(
            _row(who, _fmt(figures["time_to_all_ready_seconds"]), _fmt(figures["lower_bound_seconds"]),
                 _times(figures["ratio_to_lower_bound"]), figures["rate_limited_responses"],
                 figures["duplicate_servers"],
                 f"{figures['hetzner_requests']} / {figures['cloudflare_requests']}")
        )  # fmt: skip
    phases = burst["phases"]
    return [
        *lines,
        "",
        "Where the operator's time went (p50 / p90 / max, s): until its POST /servers was answered "
        f"{_phase(phases['until_server_created'])}; from the moment the app could first answer until Ready "
        f"{_phase(phases['app_up_until_ready'])}.",
        "",
    ]


def _spread(figures: dict[str, Any], key: str) -> str:
    found = (figures.get("listings") or {}).get(key)
    return "n/a" if not found else f"{found['p50']:g} / {found['max']:g}"


def _load(results: dict[str, Any]) -> str:
    """The 1-minute load average at start and end: other work on the machine slows a run down."""
    load = results.get("load_average") or {}
    return " to ".join(f"{values[0]:g}" for values in (load.get("start"), load.get("end")) if values) or "n/a"


def _kept(figures: dict[str, Any], passes: bool = False) -> str:
    done = f" ({figures['list_passes']}/{figures['expected_list_passes']})" if passes else ""
    return ("yes" if figures.get("kept_up") else "NO") + done


def _phase(figures: dict[str, float] | None) -> str:
    return "n/a" if figures is None else f"{figures['p50']} / {figures['p90']} / {figures['max']}"


# --- chart -------------------------------------------------------------------------------------------
def chart(results: dict[str, Any], path: Path) -> None:
    steady, base = results["steady_state"], results["baseline"]["steady_state"]
    sizes = [int(n) for n in steady]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, key, title in (
        (axes[0], "hetzner_requests_per_hour", "Hetzner requests per hour"),
        (axes[1], "cloudflare_requests_per_hour", "Cloudflare requests per hour"),
    ):
        ax.plot(sizes, [steady[str(n)][key] for n in sizes], "o-", label="operator (shared observer)")
        ax.plot(sizes, [base[str(n)][key] for n in sizes], "s--", label="naive per-instance polling")
        ax.set(xscale="log", yscale="log", xlabel="Ready instances", title=title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].axhline(3600, color="red", lw=0.8, ls=":", label="Hetzner budget (3,600/h)")
    axes[1].axhline(14400, color="red", lw=0.8, ls=":", label="Cloudflare budget (1,200/5 min)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    burst = results.get("burst")
    if burst is not None:
        naive = results["baseline"]["burst"]
        labels = ["lower bound", "operator", "naive"]
        values = [burst["lower_bound_seconds"], burst["time_to_all_ready_seconds"] or 0,
                  naive["time_to_all_ready_seconds"] or 0]  # fmt: skip
        axes[2].bar(labels, values, color=["grey", "tab:blue", "tab:orange"])
        axes[2].set(ylabel="seconds", title=f"Burst of {burst['instances']}: time until all Ready")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

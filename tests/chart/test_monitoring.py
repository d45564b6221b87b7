"""The alerts and the Grafana dashboard only name metrics (and labels) that operator/metrics.py exports,
so a renamed metric breaks this test instead of silently blanking a panel or an alert."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml
from prometheus_client import REGISTRY

from openclaw_operator import api, metrics
from openclaw_operator.providers import cloudflare, hetzner
from openclaw_operator.providers.errors import FailureKind
from tests.chart.chartkit import CHART_DIR, FULL_VALUES, only, render

SERIES = re.compile(r"\b(clawhost_[a-z0-9_]+)\s*(\{[^}]*\})?")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
EXACT = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:!=|=)\s*"([^"]*)"')
# The values the operator writes into each label, from the code that writes them (reconciler.py labels
# outcomes "ok", "stalled", "frozen" or the FailureKind of a failed pass).
LABEL_VALUES: dict[str, set[str]] = {
    "phase": {phase.value for phase in api.Phase} | {"Unknown"},
    "condition": {condition.value for condition in api.ConditionType},
    "provider": {hetzner.PROVIDER, cloudflare.PROVIDER},
    "outcome": {kind.value for kind in FailureKind} | {"ok", "frozen"},
}
# Series suffixes each metric type exports (prometheus-client's exposition).
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported_series() -> dict[str, set[str]]:
    """Every series name the operator's metrics module exports, with the label names it may carry."""
    own = {
        collector
        for collector in vars(metrics).values()
        if hasattr(collector, "_name") and hasattr(collector, "_labelnames")
    }
    series: dict[str, set[str]] = {}
    for collector in own:
        family = collector.describe()[0]
        labels = set(collector._labelnames)
        for suffix in SUFFIXES[family.type]:
            series[family.name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    assert series, "no metrics found in openclaw_operator.metrics"
    assert all(name in REGISTRY._names_to_collectors for name in series if not name.endswith("_bucket"))
    return series


def expressions() -> Iterator[tuple[str, str]]:
    rule = only(render(values=(FULL_VALUES,)), "PrometheusRule")
    for group in rule["spec"]["groups"]:
        for item in group["rules"]:
            yield f"alert {item['alert']}", item["expr"]
    dashboard = json.loads((CHART_DIR / "dashboards" / "openclaw-operator.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']}", target["expr"]


def used_series() -> list[tuple[str, str, set[str]]]:
    found = []
    for where, expr in expressions():
        for match in SERIES.finditer(expr):
            labels = set(MATCHER.findall(match.group(2) or ""))
            found.append((where, match.group(1), labels))
    return found


def test_rules_and_dashboard_name_only_exported_metrics() -> None:
    exported = exported_series()
    problems = []
    for where, name, labels in used_series():
        if name not in exported:
            problems.append(f"{where}: {name} is not exported by openclaw_operator.metrics")
        elif not labels <= exported[name]:
            problems.append(f"{where}: {name} has no label(s) {sorted(labels - exported[name])}")
    assert not problems, "\n".join(problems)


def test_label_values_are_ones_the_operator_writes() -> None:
    problems = []
    for where, expr in expressions():
        for label, value in EXACT.findall(expr):
            if label in LABEL_VALUES and value not in LABEL_VALUES[label]:
                problems.append(
                    f"{where}: {label}={value!r} never occurs; known: {sorted(LABEL_VALUES[label])}"
                )
    assert not problems, "\n".join(problems)


def test_check_sees_every_expression() -> None:
    """The parser finds a clawhost metric in every alert but the scrape-based one, and in every panel."""
    without = [where for where, expr in expressions() if not SERIES.search(expr)]
    assert without == ["alert OpenClawOperatorDown"]


def test_required_alerts_exist() -> None:
    rule = only(render(values=(FULL_VALUES,)), "PrometheusRule")
    alerts = {item["alert"] for group in rule["spec"]["groups"] for item in group["rules"]}
    assert {
        "OpenClawOperatorDown",
        "OpenClawInstancesStalled",
        "OpenClawReconcileErrors",
        "OpenClawRateLimitHeadroomLow",
    } <= alerts


def test_operator_down_alert_watches_the_scraped_service() -> None:
    manifests = render(values=(FULL_VALUES,))
    service = only(manifests, "Service")
    monitor = only(manifests, "ServiceMonitor")
    expr = next(e for w, e in expressions() if w == "alert OpenClawOperatorDown")
    # The Prometheus Operator names a ServiceMonitor's job after the Service it scrapes.
    assert f'job="{service["metadata"]["name"]}"' in expr
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"


@pytest.mark.parametrize(
    "panel_title",
    ["Instances by phase", "Time to Ready (p50, p95)", "Provider calls by status", "Rate-limit headroom"],
)
def test_dashboard_has_the_required_panels(panel_title: str) -> None:
    dashboard = json.loads((CHART_DIR / "dashboards" / "openclaw-operator.json").read_text())
    assert panel_title in {panel["title"] for panel in dashboard["panels"]}


def test_dashboard_configmap_carries_the_dashboard() -> None:
    configmap = only(render(), "ConfigMap")
    shipped = json.loads(configmap["data"]["openclaw-operator.json"])
    assert shipped == json.loads((CHART_DIR / "dashboards" / "openclaw-operator.json").read_text())
    assert yaml.safe_load(yaml.safe_dump(configmap["metadata"]["labels"]))["grafana_dashboard"] == "1"

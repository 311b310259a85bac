"""The Grafana dashboard (deployments/grafana/rivergen.json) against rivergen/metrics.py: every
metric has a panel, every panel's expression names real metrics, every histogram shows its
p50, p95 and p99, and every panel reads the dashboard's Prometheus datasource variable."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from rivergen.metrics import METRICS, MetricSpec

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deployments" / "grafana" / "rivergen.json"
NAME = re.compile(r"\bray_rivergen_[a-z0-9_]+")
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def load() -> dict[str, Any]:
    dashboard = json.loads(DASHBOARD.read_text())
    assert isinstance(dashboard, dict)
    return dashboard


def graphs(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def metric_of(series: str) -> MetricSpec | None:
    """The metric a Prometheus series name belongs to (a histogram's _bucket/_count/_sum)."""
    for spec in METRICS:
        if spec.kind == "counter" and series == spec.exported:
            return spec
        if spec.kind == "histogram" and series in {spec.exported + s for s in HISTOGRAM_SERIES}:
            return spec
    return None


def unknown_names(dashboard: dict[str, Any]) -> list[str]:
    return [
        f"{panel['title']}: {name}"
        for panel in graphs(dashboard)
        for target in panel["targets"]
        for name in NAME.findall(target["expr"])
        if metric_of(name) is None
    ]


def test_every_metric_has_a_panel() -> None:
    named = {
        name
        for panel in graphs(load())
        for t in panel["targets"]
        for name in NAME.findall(t["expr"])
    }
    covered = {spec.name for name in named if (spec := metric_of(name)) is not None}
    assert sorted({spec.name for spec in METRICS} - covered) == []


def test_every_expression_names_a_real_metric() -> None:
    dashboard = load()
    assert unknown_names(dashboard) == []
    for panel in graphs(dashboard):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert NAME.search(target["expr"]), (panel["title"], target["expr"])


def test_a_misspelled_metric_is_caught() -> None:
    """The check above can fail: a panel naming a metric rivergen/metrics.py lacks."""
    dashboard = load()
    target = graphs(dashboard)[0]["targets"][0]
    target["expr"] = target["expr"].replace(
        "ray_rivergen_requests_total", "ray_rivergen_request_total"
    )
    assert unknown_names(dashboard) != []


@pytest.mark.parametrize("spec", [s for s in METRICS if s.kind == "histogram"], ids=lambda s: s.key)
def test_every_histogram_has_p50_p95_p99(spec: MetricSpec) -> None:
    exprs = [t["expr"] for panel in graphs(load()) for t in panel["targets"]]
    bucket = f"{spec.exported}_bucket"
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(
            expr.startswith(f"histogram_quantile({quantile},") and bucket in expr for expr in exprs
        ), (spec.name, quantile)


def test_counters_are_shown_as_rates() -> None:
    for panel in graphs(load()):
        for target in panel["targets"]:
            for name in NAME.findall(target["expr"]):
                assert f"rate({name}" in target["expr"].replace(" ", ""), (panel["title"], name)


def test_panels_read_the_datasource_variable() -> None:
    dashboard = load()
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] == "prometheus"
    wanted = {"type": "prometheus", "uid": f"${{{variable['name']}}}"}
    for panel in graphs(dashboard):
        assert panel["datasource"] == wanted, panel["title"]
        assert all(t["datasource"] == wanted for t in panel["targets"]), panel["title"]


def test_panel_ids_are_unique_and_every_panel_is_placed() -> None:
    panels = load()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]

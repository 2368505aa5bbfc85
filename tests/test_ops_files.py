"""The Grafana dashboard and Prometheus alert rules shipped in ops/ (issue #16): the files parse,
and every metric name in their queries is one thermaliq writes (``thermaliq.report.metrics.METRICS``;
a histogram also as its ``_bucket``/``_sum``/``_count`` series), with labels the metric carries."""
from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from thermaliq.report.metrics import METRICS

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "ops" / "grafana" / "thermaliq-facilities.json"
RULES = ROOT / "ops" / "prometheus" / "thermaliq-rules.yml"
NAME = re.compile(r"\bthermaliq_[a-z0-9_]+")


def _written() -> set[str]:
    names = set()
    for name, (kind, _) in METRICS.items():
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dash["templating"]["list"] if isinstance(v.get("query"), dict)]
    return exprs


def _rule_exprs() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def test_files_parse_and_have_their_parts():
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] == "thermaliq-facilities" and len(dash["panels"]) >= 8
    rules = yaml.safe_load(RULES.read_text())
    names = [r["alert"] for g in rules["groups"] for r in g["rules"]]
    assert len(names) == len(set(names)) >= 5
    for g in rules["groups"]:
        for r in g["rules"]:
            assert set(r) >= {"alert", "expr", "labels", "annotations"}, r


def test_every_metric_name_is_one_thermaliq_writes():
    used = {m for e in _dashboard_exprs() + _rule_exprs() for m in NAME.findall(e)}
    assert used, "no metric found: the regular expression is wrong"
    assert used <= _written(), sorted(used - _written())


def test_the_dashboard_covers_what_an_operator_watches_per_facility():
    """Efficiency, balance, data quality, alerts and last successful run, each in some panel."""
    used = {m for e in _dashboard_exprs() for m in NAME.findall(e)}
    assert {"thermaliq_efficiency", "thermaliq_energy_balance_percent", "thermaliq_data_quality_score",
            "thermaliq_alerts_latest_day", "thermaliq_last_successful_run_timestamp_seconds"} <= used


def test_brackets_balance_in_every_expression():
    for expr in _dashboard_exprs() + _rule_exprs():
        for a, b in ("()", "{}", "[]"):
            assert expr.count(a) == expr.count(b), expr

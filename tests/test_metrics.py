"""Prometheus text file: format checked by prometheus_client's own parser, merge rules, atomicity.

Reference: Prometheus exposition formats, text format 0.0.4 (HELP/TYPE lines, label escaping of
backslash, double quote and newline, histogram _bucket/_sum/_count with cumulative ``le`` buckets).
"""
from __future__ import annotations

import math

import numpy as np

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from thermaliq.report.metrics import (DURATION_BUCKETS, METRICS, counter, gauge, histogram, read_state,
                               results_samples, write_metrics)


def parse(path) -> dict[str, dict]:
    """{family name: {"type": ..., "samples": {(sample name, frozenset(labels)): value}}}."""
    out = {}
    for fam in text_string_to_metric_families(path.read_text()):
        out[fam.name] = {"type": fam.type, "documentation": fam.documentation,
                         "samples": {(s.name, frozenset(s.labels.items())): s.value for s in fam.samples}}
    return out


def value(parsed, family, sample, **labels):
    return parsed[family]["samples"][(sample, frozenset(labels.items()))]


def test_roundtrip_help_type_and_values(tmp_path):
    path = tmp_path / "metrics" / "thermaliq.prom"
    write_metrics(path, [gauge("thermaliq_efficiency", 84.25, facility_id="FAC-A"),
                         gauge("thermaliq_data_quality_score", 0.97, facility_id="FAC-A"),
                         counter("thermaliq_readings_ingested_total", 96_000, facility_id="FAC-A"),
                         gauge("thermaliq_stage_duration_seconds", 1.5, stage="ingest")])
    text = path.read_text()
    assert "# HELP thermaliq_efficiency " in text and "# TYPE thermaliq_efficiency gauge" in text
    assert "# TYPE thermaliq_readings_ingested_total counter" in text
    p = parse(path)
    assert value(p, "thermaliq_efficiency", "thermaliq_efficiency", facility_id="FAC-A") == 84.25
    # prometheus_client names a counter family without the _total suffix.
    assert p["thermaliq_readings_ingested"]["type"] == "counter"
    assert value(p, "thermaliq_readings_ingested", "thermaliq_readings_ingested_total", facility_id="FAC-A") == 96_000
    assert value(p, "thermaliq_stage_duration_seconds", "thermaliq_stage_duration_seconds", stage="ingest") == 1.5
    assert not [f for f in path.parent.iterdir() if f.name.endswith(".tmp")]  # atomic: no leftovers


def test_design_metric_names_are_all_known():
    """Every name of DESIGN §8 plus the ingest/stage/run metrics of the task."""
    design = ["thermaliq_efficiency", "thermaliq_efficiency_7d_avg", "thermaliq_energy_balance_percent",
              "thermaliq_data_quality_score", "thermaliq_calculation_data_completeness",
              "thermaliq_missing_data_points_total", "thermaliq_outliers_detected_total",
              "thermaliq_meter_last_reading_timestamp", "thermaliq_calculation_duration_seconds",
              "thermaliq_sankey_generation_duration_seconds", "thermaliq_sankey_generation_errors_total",
              "thermaliq_connector_timeouts_total", "thermaliq_circuit_breaker_state",
              "thermaliq_readings_ingested_total", "thermaliq_readings_rejected_total",
              "thermaliq_readings_interpolated_total", "thermaliq_stage_duration_seconds",
              "thermaliq_last_successful_run_timestamp_seconds",
              "thermaliq_alerts_latest_day"]   # issue #16: the dashboards' and alert rules' alert counts
    # issue 17: the latest day's uncertainty and CHP indicators
    design += ["thermaliq_efficiency_uncertainty_points", "thermaliq_chp_electrical_efficiency",
               "thermaliq_chp_thermal_efficiency", "thermaliq_chp_purpa_efficiency",
               "thermaliq_chp_effective_electrical_efficiency",
               "thermaliq_chp_primary_energy_savings_percent"]
    # issue #18 (README "Metrics and alerts"): CO2e and energy-baseline gauges
    design += ["thermaliq_co2e_kg", "thermaliq_co2e_intensity_kg_per_mwh", "thermaliq_baseline_enpi_ratio",
               "thermaliq_baseline_cusum_kwh", "thermaliq_baseline_cv_rmse_percent"]
    assert sorted(design) == sorted(METRICS)
    assert METRICS["thermaliq_calculation_duration_seconds"][0] == "histogram"


def test_merge_keeps_other_facilities_adds_counters_replaces_gauge_groups(tmp_path):
    path = tmp_path / "thermaliq.prom"
    write_metrics(path, [gauge("thermaliq_efficiency", 80.0, facility_id="FAC-A"),
                         gauge("thermaliq_efficiency", 70.0, facility_id="FAC-B"),
                         counter("thermaliq_readings_ingested_total", 100, facility_id="FAC-A"),
                         gauge("thermaliq_meter_last_reading_timestamp", 1000, facility_id="FAC-A", tag="T1"),
                         gauge("thermaliq_meter_last_reading_timestamp", 1000, facility_id="FAC-A", tag="T2"),
                         gauge("thermaliq_meter_last_reading_timestamp", 900, facility_id="FAC-B", tag="T9")])
    # Second run covers FAC-A only; T2 no longer exists in its configuration.
    write_metrics(path, [gauge("thermaliq_efficiency", 82.5, facility_id="FAC-A"),
                         counter("thermaliq_readings_ingested_total", 50, facility_id="FAC-A"),
                         gauge("thermaliq_meter_last_reading_timestamp", 2000, facility_id="FAC-A", tag="T1")])
    p = parse(path)
    assert value(p, "thermaliq_efficiency", "thermaliq_efficiency", facility_id="FAC-A") == 82.5
    assert value(p, "thermaliq_efficiency", "thermaliq_efficiency", facility_id="FAC-B") == 70.0
    assert value(p, "thermaliq_readings_ingested", "thermaliq_readings_ingested_total", facility_id="FAC-A") == 150
    last = p["thermaliq_meter_last_reading_timestamp"]["samples"]
    assert set(last) == {("thermaliq_meter_last_reading_timestamp", frozenset({("facility_id", "FAC-A"), ("tag", "T1")})),
                         ("thermaliq_meter_last_reading_timestamp", frozenset({("facility_id", "FAC-B"), ("tag", "T9")}))}
    # Without merging only this run's samples are written.
    write_metrics(path, [gauge("thermaliq_efficiency", 1.0, facility_id="FAC-C")], merge_existing=False)
    assert set(parse(path)) == {"thermaliq_efficiency"} and len(read_state(path)) == 1


def test_histogram_buckets_sum_count_and_accumulation(tmp_path):
    """Hand-worked: observations 0.3, 2.0, 700 s → le=0.25: 0, le=0.5: 1, le=2.5: 2, le=600: 2, +Inf: 3."""
    path = tmp_path / "thermaliq.prom"
    name = "thermaliq_calculation_duration_seconds"
    write_metrics(path, histogram(name, [0.3, 2.0, 700.0], facility_id="FAC-A"))
    p = parse(path)
    assert p[name]["type"] == "histogram"

    def bucket(le, parsed=None):
        return value(parsed or p, name, f"{name}_bucket", facility_id="FAC-A", le=le)

    assert [bucket("0.25"), bucket("0.5"), bucket("2.5"), bucket("600.0"), bucket("+Inf")] == [0, 1, 2, 2, 3]
    assert value(p, name, f"{name}_sum", facility_id="FAC-A") == pytest.approx(702.3, abs=1e-12)
    assert value(p, name, f"{name}_count", facility_id="FAC-A") == 3
    assert len([k for k in p[name]["samples"] if k[0].endswith("_bucket")]) == len(DURATION_BUCKETS) + 1
    write_metrics(path, histogram(name, [0.1], facility_id="FAC-A"))  # a second run adds its observation
    p2 = parse(path)
    assert bucket("0.25", p2) == 1 and bucket("+Inf", p2) == 4
    assert value(p2, name, f"{name}_count", facility_id="FAC-A") == 4


def test_label_values_are_escaped(tmp_path):
    """Backslash, double quote and newline in a label value survive the round trip."""
    path = tmp_path / "thermaliq.prom"
    tricky = 'tag "A"\\B\nC'
    write_metrics(path, [gauge("thermaliq_meter_last_reading_timestamp", 5, facility_id="F", tag=tricky)])
    p = parse(path)
    assert value(p, "thermaliq_meter_last_reading_timestamp", "thermaliq_meter_last_reading_timestamp",
                 facility_id="F", tag=tricky) == 5


def test_nan_gauge_is_written_as_nan(tmp_path):
    path = tmp_path / "thermaliq.prom"
    write_metrics(path, [gauge("thermaliq_efficiency", math.nan, facility_id="F")])
    assert "thermaliq_efficiency{facility_id=\"F\"} NaN" in path.read_text()
    assert math.isnan(value(parse(path), "thermaliq_efficiency", "thermaliq_efficiency", facility_id="F"))


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="unknown metric"):
        gauge("thermaliq_efficency", 1.0)
    with pytest.raises(ValueError, match="increment"):
        counter("thermaliq_readings_rejected_total", -1, facility_id="F")
    with pytest.raises(ValueError, match="label name"):
        gauge("thermaliq_efficiency", 1.0, **{"bad-label": "x"})


def test_unreadable_state_names_the_file(tmp_path):
    path = tmp_path / "thermaliq.prom"
    (tmp_path / "thermaliq.prom.state.json").write_text("{not json")
    with pytest.raises(ValueError, match="thermaliq.prom.state.json"):
        write_metrics(path, [gauge("thermaliq_efficiency", 1.0, facility_id="F")])


def test_results_samples_latest_day_and_seven_day_mean():
    """Hand-worked: last 7 efficiencies 82, NaN, 84, 86, 88, 90, 92 → mean of the 6 known = 87.0."""
    starts = pd.date_range("2026-11-01", periods=8, freq="D", tz="UTC")
    days = pd.DataFrame({"period_start": starts[::-1],  # order must not matter
                         "efficiency_percent": [92, 90, 88, 86, 84, math.nan, 82, 80],
                         "balance_error_percent": [1.5] + [0.0] * 7, "data_quality_score": [0.95] + [1.0] * 7})
    got = {s.name: s.value for s in results_samples("FAC-A", days)}
    assert got == {"thermaliq_efficiency": 92.0, "thermaliq_efficiency_7d_avg": 87.0,
                   "thermaliq_energy_balance_percent": 1.5, "thermaliq_data_quality_score": 0.95}
    assert results_samples("FAC-A", days.iloc[0:0]) == []


def _report_fixture():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_report_fixture", Path(__file__).with_name("test_report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_samples_from_relations(tmp_path):
    """Values recomputed independently from the fixture frames (tests/test_report.py)."""
    from types import SimpleNamespace

    fx = _report_fixture()
    rel = fx.make_relations()
    dq = rel["data_quality"]
    # the count is the numeric column; the issues text is for people and is not read back
    dq["outlier_points"] = pd.array([0] * len(dq), dtype="Int64")
    dq.loc[dq.index[-1], ["issues", "outlier_points"]] = ["3 outliers; frozen 2h10m", 3]
    dq.loc[dq.index[-2], ["issues", "outlier_points"]] = ["7 outliers", pd.NA]  # written before the column: 0
    dq.loc[dq.index[0], ["issues", "outlier_points"]] = ["5 outliers", 5]  # Nov 1: outside the changed window
    days_all = rel["calculations"].query("granularity == 'day' and is_current").sort_values("period_start")
    extra = [(days_all.iloc[i].period_start, days_all.iloc[i].period_end, kind)
             for i, kind in ((-1, "energy_balance"), (-1, "energy_balance"), (-1, "low_data_quality"),
                             (-2, "meter_offline"))]   # latest day: 2 + 1; the day before: not counted
    rel["alerts"] = pd.concat([rel["alerts"], pd.DataFrame(
        [{"facility_id": "FAC-R1", "period_start": a, "period_end": b, "kind": k, "severity": "warning",
          "value": 1.0, "threshold": 0.5, "message": "test", "run_id": "r"} for a, b, k in extra])],
        ignore_index=True)
    con = fx.connect(rel)
    facility = fx.make_facility()
    calculated = [{"facility_id": "FAC-R1", "first": "2026-11-29", "last": "2026-11-30", "changed": True,
                   "duration_s": 1.2, "readings_ingested": 1000},
                  {"facility_id": "FAC-R1", "first": "2026-11-01", "last": "2026-11-28", "changed": False}]
    home = SimpleNamespace(metrics=tmp_path / "metrics" / "thermaliq.prom")
    from thermaliq.report.metrics import write_run_metrics

    write_run_metrics(home, con, {"FAC-R1": facility}, calculated=calculated,
                      sankey_stats={"FAC-R1": {"sankey_seconds": 0.02, "sankey_errors": 1}}, report_seconds=3.5,
                      connector={"connector_timeouts_total": 2, "circuit_state": {}},
                      flow="nightly", succeeded_at=1_795_000_000.0)
    p = parse(home.metrics)
    days = rel["calculations"].query("granularity == 'day' and is_current").sort_values("period_start")
    last = days.iloc[-1]
    assert value(p, "thermaliq_efficiency", "thermaliq_efficiency", facility_id="FAC-R1") == \
        pytest.approx(last.efficiency_percent, rel=1e-12)
    assert value(p, "thermaliq_efficiency_7d_avg", "thermaliq_efficiency_7d_avg", facility_id="FAC-R1") == \
        pytest.approx(days.efficiency_percent.iloc[-7:].mean(), rel=1e-12)
    dq_last = dq[dq.period_start == last.period_start]
    assert value(p, "thermaliq_calculation_data_completeness", "thermaliq_calculation_data_completeness",
                 facility_id="FAC-R1") == pytest.approx(dq_last.valid_points.sum() / dq_last.expected_points.sum())
    # Only the changed window (Nov 29-30) counts towards the quality counters.
    window = dq[dq.period_start >= fx.local_midnight(pd.Timestamp("2026-11-29").date(), fx.TZ)]
    assert value(p, "thermaliq_missing_data_points", "thermaliq_missing_data_points_total", facility_id="FAC-R1") == \
        (window.expected_points - window.valid_points).clip(lower=0).sum()
    assert value(p, "thermaliq_readings_interpolated", "thermaliq_readings_interpolated_total",
                 facility_id="FAC-R1") == window.interpolated_points.sum()
    ts = rel["readings"].set_index("tag").loc["FT-101", "ts"]
    assert value(p, "thermaliq_meter_last_reading_timestamp", "thermaliq_meter_last_reading_timestamp",
                 facility_id="FAC-R1", tag="FT-101") == ts.timestamp()
    assert value(p, "thermaliq_readings_ingested", "thermaliq_readings_ingested_total", facility_id="FAC-R1") == 1000
    assert value(p, "thermaliq_sankey_generation_errors", "thermaliq_sankey_generation_errors_total",
                 facility_id="FAC-R1") == 1
    assert value(p, "thermaliq_connector_timeouts", "thermaliq_connector_timeouts_total") == 2
    assert value(p, "thermaliq_stage_duration_seconds", "thermaliq_stage_duration_seconds", stage="report") == 3.5
    assert value(p, "thermaliq_last_successful_run_timestamp_seconds",
                 "thermaliq_last_successful_run_timestamp_seconds", flow="nightly") == 1_795_000_000.0
    assert value(p, "thermaliq_outliers_detected", "thermaliq_outliers_detected_total", facility_id="FAC-R1") == 3
    name = "thermaliq_calculation_duration_seconds"
    assert value(p, name, f"{name}_count", facility_id="FAC-R1") == 1
    # issue #16: alerts of the latest calculated day per kind, counted from the fixture's frame
    alerts = rel["alerts"]
    latest = alerts[pd.to_datetime(alerts.period_start, utc=True) == pd.Timestamp(last.period_start)]
    assert len(latest), "the fixture's latest day should carry alerts"
    assert dict(latest.groupby("kind").size()) == {"energy_balance": 2, "low_data_quality": 1}
    for kind, n in latest.groupby("kind").size().items():
        assert value(p, "thermaliq_alerts_latest_day", "thermaliq_alerts_latest_day", facility_id="FAC-R1",
                     kind=kind) == n


def test_run_samples_of_two_facilities_are_read_together_and_kept_apart():
    """The batched queries (one per question for all facilities) must not mix facilities: FAC-R2
    (another seed) gets its own latest day, completeness and counters; only its window counts."""
    from thermaliq.report.metrics import run_samples

    fx = _report_fixture()
    one, two = fx.make_relations(), fx.make_relations("FAC-R2", seed=11)
    for rel, n in ((one, 4), (two, 1)):
        rel["data_quality"]["outlier_points"] = n
    con = fx.connect({k: pd.concat([one[k], two[k]], ignore_index=True) for k in one})
    calculated = [{"facility_id": "FAC-R2", "first": "2026-11-30", "last": "2026-11-30", "changed": True}]
    samples = run_samples(con, {"FAC-R1": fx.make_facility(), "FAC-R2": fx.make_facility("FAC-R2", "Two")},
                          calculated=calculated)
    got = {(s.name, s.labels.get("facility_id")): s.value for s in samples if "tag" not in s.labels}
    for fid, rel in (("FAC-R1", one), ("FAC-R2", two)):
        days = rel["calculations"].query("granularity == 'day' and is_current").sort_values("period_start")
        assert got[("thermaliq_efficiency", fid)] == pytest.approx(days.efficiency_percent.iloc[-1], rel=1e-12)
        dq = rel["data_quality"]
        last = dq[dq.period_start == days.period_start.iloc[-1]]
        assert got[("thermaliq_calculation_data_completeness", fid)] == pytest.approx(
            last.valid_points.sum() / last.expected_points.sum(), rel=1e-12)
    # Only FAC-R2 had a changed window (Nov 30): its counters are that day's rows, FAC-R1 has none.
    assert ("thermaliq_missing_data_points_total", "FAC-R1") not in got
    assert got[("thermaliq_missing_data_points_total", "FAC-R2")] == \
        (last.expected_points - last.valid_points).clip(lower=0).sum()
    assert got[("thermaliq_readings_interpolated_total", "FAC-R2")] == last.interpolated_points.sum()
    assert got[("thermaliq_outliers_detected_total", "FAC-R2")] == len(last)
    tags = {(s.labels["facility_id"], s.labels["tag"]) for s in samples if "tag" in s.labels}
    assert tags == {(f, t) for f in ("FAC-R1", "FAC-R2") for t in fx.TAGS}


# The file the hand-written renderer (before prometheus_client) wrote for the two runs of
# test_same_names_labels_and_values_as_before: the reference for names, labels, values, HELP and TYPE.
BEFORE = """\
# HELP thermaliq_calculation_duration_seconds Duration of one facility calculation [s]
# TYPE thermaliq_calculation_duration_seconds histogram
""" + "".join(f'thermaliq_calculation_duration_seconds_bucket{{facility_id="FAC-A",le="{le}"}} {n}\n'
              for le, n in (("0.1", 0), ("0.25", 0), ("0.5", 1), ("1.0", 1), ("2.5", 2), ("5.0", 2), ("10.0", 2),
                            ("30.0", 2), ("60.0", 2), ("120.0", 2), ("300.0", 2), ("600.0", 2), ("+Inf", 3))) + """\
thermaliq_calculation_duration_seconds_sum{facility_id="FAC-A"} 702.3
thermaliq_calculation_duration_seconds_count{facility_id="FAC-A"} 3
# HELP thermaliq_circuit_breaker_state Historian circuit breaker: 0 closed, 1 open, 2 half-open
# TYPE thermaliq_circuit_breaker_state gauge
thermaliq_circuit_breaker_state{facility_id="FAC-B"} 1
# HELP thermaliq_connector_timeouts_total Historian requests that timed out
# TYPE thermaliq_connector_timeouts_total counter
thermaliq_connector_timeouts_total 2
# HELP thermaliq_efficiency Efficiency of the latest calculated day [percent, facility basis]
# TYPE thermaliq_efficiency gauge
thermaliq_efficiency{facility_id="FAC-A"} 85
thermaliq_efficiency{facility_id="FAC-B"} 71.5
# HELP thermaliq_efficiency_7d_avg Mean day efficiency of the latest 7 calculated days [percent]
# TYPE thermaliq_efficiency_7d_avg gauge
thermaliq_efficiency_7d_avg{facility_id="FAC-B"} NaN
# HELP thermaliq_last_successful_run_timestamp_seconds End of the last successful run [unix s]
# TYPE thermaliq_last_successful_run_timestamp_seconds gauge
thermaliq_last_successful_run_timestamp_seconds{flow="nightly"} 1795090000.5
# HELP thermaliq_meter_last_reading_timestamp Time of the last stored reading of a tag [unix s]
# TYPE thermaliq_meter_last_reading_timestamp gauge
thermaliq_meter_last_reading_timestamp{facility_id="FAC-A",tag="FT-101"} 1795086400
# HELP thermaliq_outliers_detected_total Readings flagged as outliers
# TYPE thermaliq_outliers_detected_total counter
thermaliq_outliers_detected_total{facility_id="FAC-A"} 4
# HELP thermaliq_readings_ingested_total Readings stored after validation
# TYPE thermaliq_readings_ingested_total counter
thermaliq_readings_ingested_total{facility_id="FAC-A"} 100000
# HELP thermaliq_stage_duration_seconds Duration of the last run of a pipeline stage [s]
# TYPE thermaliq_stage_duration_seconds gauge
thermaliq_stage_duration_seconds{stage="report"} 3.5
"""


def _families(text: str) -> dict:
    """Every family's type, HELP text and samples, NaN as text (NaN != NaN)."""
    return {f.name: (f.type, f.documentation,
                     {(s.name, frozenset(s.labels.items())): "NaN" if math.isnan(s.value) else s.value
                      for s in f.samples})
            for f in text_string_to_metric_families(text)}


def test_same_names_labels_and_values_as_before(tmp_path):
    """Two runs (the second covers FAC-A only) parse to exactly what the hand-written renderer wrote:
    FAC-B kept, FAC-A's gauge group replaced (tag TT-102 gone), counters and histogram added up."""
    path = tmp_path / "thermaliq.prom"
    write_metrics(path, [gauge("thermaliq_efficiency", 84.25, facility_id="FAC-A"),
                         gauge("thermaliq_efficiency", 71.5, facility_id="FAC-B"),
                         gauge("thermaliq_efficiency_7d_avg", math.nan, facility_id="FAC-B"),
                         gauge("thermaliq_meter_last_reading_timestamp", 1_795_000_000, facility_id="FAC-A",
                               tag="FT-101"),
                         gauge("thermaliq_meter_last_reading_timestamp", 1_795_000_060, facility_id="FAC-A",
                               tag="TT-102"),
                         counter("thermaliq_outliers_detected_total", 3, facility_id="FAC-A"),
                         counter("thermaliq_readings_ingested_total", 96_000, facility_id="FAC-A"),
                         counter("thermaliq_connector_timeouts_total", 2),
                         gauge("thermaliq_circuit_breaker_state", 1, facility_id="FAC-B"),
                         gauge("thermaliq_stage_duration_seconds", 3.5, stage="report"),
                         *histogram("thermaliq_calculation_duration_seconds", [0.3, 2.0], facility_id="FAC-A")])
    write_metrics(path, [gauge("thermaliq_efficiency", 85.0, facility_id="FAC-A"),
                         gauge("thermaliq_meter_last_reading_timestamp", 1_795_086_400, facility_id="FAC-A",
                               tag="FT-101"),
                         counter("thermaliq_outliers_detected_total", 1, facility_id="FAC-A"),
                         counter("thermaliq_readings_ingested_total", 4_000, facility_id="FAC-A"),
                         counter("thermaliq_connector_timeouts_total", 0),
                         gauge("thermaliq_last_successful_run_timestamp_seconds", 1_795_090_000.5, flow="nightly"),
                         *histogram("thermaliq_calculation_duration_seconds", [700.0], facility_id="FAC-A")])
    assert _families(path.read_text()) == _families(BEFORE)


def test_state_of_an_earlier_version_is_merged(tmp_path):
    """The state file format is unchanged (version 1): an existing one keeps counting."""
    path = tmp_path / "thermaliq.prom"
    (tmp_path / "thermaliq.prom.state.json").write_text(
        '{"series": [{"labels": {"facility_id": "FAC-A"}, "name": "thermaliq_outliers_detected_total", '
        '"value": 40.0}, {"labels": {"facility_id": "FAC-B"}, "name": "thermaliq_efficiency", "value": 70.5}], '
        '"version": 1}')
    write_metrics(path, [counter("thermaliq_outliers_detected_total", 2, facility_id="FAC-A")])
    p = parse(path)
    assert value(p, "thermaliq_outliers_detected", "thermaliq_outliers_detected_total", facility_id="FAC-A") == 42
    assert value(p, "thermaliq_efficiency", "thermaliq_efficiency", facility_id="FAC-B") == 70.5


def test_private_registry_leaves_the_default_one_alone(tmp_path):
    from prometheus_client import REGISTRY

    before = {m.name for m in REGISTRY.collect()}
    write_metrics(tmp_path / "thermaliq.prom", [gauge("thermaliq_efficiency", 1.0, facility_id="F")])
    assert {m.name for m in REGISTRY.collect()} == before and "thermaliq_efficiency" not in before


def test_optional_gauges_of_the_latest_day():
    """Issue 17: the CHP gauges and the uncertainty appear only where the latest day has them
    (values of the issue's CHP example: PURPA 52.5 %, PES 5.23 %)."""
    from thermaliq.report.metrics import results_samples
    days = pd.DataFrame({"period_start": pd.to_datetime(["2026-11-01", "2026-11-02"], utc=True),
                         "efficiency_percent": [75.0, 75.0], "balance_error_percent": [np.nan, np.nan],
                         "data_quality_score": [1.0, 1.0], "efficiency_uncertainty_points": [2.4, 2.41],
                         "purpa_efficiency_percent": [52.5, 52.5],
                         "primary_energy_savings_percent": [5.23, 5.23],
                         "electrical_efficiency_percent": [np.nan, np.nan]})
    got = {s.name: s.value for s in results_samples("CHP-1", days)}
    assert got["thermaliq_efficiency_uncertainty_points"] == 2.41
    assert got["thermaliq_chp_purpa_efficiency"] == 52.5
    assert got["thermaliq_chp_primary_energy_savings_percent"] == 5.23
    assert "thermaliq_chp_electrical_efficiency" not in got

"""Prometheus metrics of the runs as a text-format file (node_exporter textfile-collector convention).

:func:`write_metrics` writes ``<home>/metrics/thermaliq.prom`` atomically (a temporary file in the same
directory, then :func:`os.replace`), so a scraper never reads a half-written file. The text is
prometheus_client's own exposition (a private ``CollectorRegistry`` per write, never the default
one); the names are the ones existing dashboards use (DESIGN §8), each with ``# HELP`` and ``# TYPE``.

Merging. A run usually covers some facilities only; the others must keep their last values. The file
is therefore rendered from a state kept beside it, ``thermaliq.prom.state.json`` (the collector
reads only ``*.prom``), updated under a file lock so concurrent runs do not lose each other's samples:

* gauge samples replace the previous values; a gauge sample with a ``facility_id`` label replaces
  every earlier series of that metric *and facility* (so a tag that disappeared from a facility does
  not linger), one without ``facility_id`` replaces the series with exactly the same labels;
* counter samples (``*_total``) and histogram samples are the **increments of this run**: they are
  added to the stored totals, so counters only ever grow, as Prometheus expects.

If the state file is lost, counters restart from zero, which Prometheus treats as a counter reset.
"""
from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from filelock import FileLock
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from thermaliq.periods import day_window
from thermaliq.report.em_metrics import EM_METRICS, em_gauges
from thermaliq.store.atomic import write_text_atomic

#: name -> (type, help). Counters carry their ``_total`` suffix here and in the file.
METRICS: dict[str, tuple[str, str]] = {
    "thermaliq_efficiency": ("gauge", "Efficiency of the latest calculated day [percent, facility basis]"),
    "thermaliq_efficiency_7d_avg": ("gauge", "Mean day efficiency of the latest 7 calculated days [percent]"),
    "thermaliq_energy_balance_percent": ("gauge", "Energy-balance error of the latest day [percent of input]"),
    "thermaliq_data_quality_score": ("gauge", "Valid intervals / intervals of the latest day [0..1]"),
    "thermaliq_calculation_data_completeness": ("gauge", "Valid / expected points of the latest day [0..1]"),
    "thermaliq_missing_data_points_total": ("counter", "Expected points without a valid reading"),
    "thermaliq_outliers_detected_total": ("counter", "Readings flagged as outliers"),
    "thermaliq_meter_last_reading_timestamp": ("gauge", "Time of the last stored reading of a tag [unix s]"),
    "thermaliq_calculation_duration_seconds": ("histogram", "Duration of one facility calculation [s]"),
    "thermaliq_sankey_generation_duration_seconds": ("gauge", "Time spent building Sankey data in the "
                                                              "last report run [s]"),
    "thermaliq_sankey_generation_errors_total": ("counter", "Sankey diagrams that could not be built"),
    "thermaliq_connector_timeouts_total": ("counter", "Historian requests that timed out"),
    "thermaliq_circuit_breaker_state": ("gauge", "Historian circuit breaker: 0 closed, 1 open, 2 half-open"),
    "thermaliq_readings_ingested_total": ("counter", "Readings stored after validation"),
    "thermaliq_readings_rejected_total": ("counter", "Readings rejected into quarantine"),
    "thermaliq_readings_interpolated_total": ("counter", "Interval values filled by interpolation"),
    "thermaliq_stage_duration_seconds": ("gauge", "Duration of the last run of a pipeline stage [s]"),
    "thermaliq_last_successful_run_timestamp_seconds": ("gauge", "End of the last successful run [unix s]"),
    # issue 17: uncertainty and CHP indicators of the latest day (only where calculated)
    "thermaliq_efficiency_uncertainty_points": ("gauge", "Expanded uncertainty (k = 2) of the latest day's "
                                                         "efficiency [percentage points]"),
    "thermaliq_chp_electrical_efficiency": ("gauge", "Electrical efficiency E/F of the latest day [percent]"),
    "thermaliq_chp_thermal_efficiency": ("gauge", "Thermal efficiency Q/F of the latest day [percent]"),
    "thermaliq_chp_purpa_efficiency": ("gauge", "PURPA efficiency (E + Q/2)/F of the latest day [percent]"),
    "thermaliq_chp_effective_electrical_efficiency": ("gauge", "EPA effective electrical efficiency "
                                                               "E/(F - Q/0.8) of the latest day [percent]"),
    "thermaliq_chp_primary_energy_savings_percent": ("gauge", "Primary energy savings (EU 2012/27 Annex II) "
                                                              "of the latest day [percent]"),
    "thermaliq_alerts_latest_day": ("gauge", "Alerts of the latest calculated day, per kind [count]"),
}
#: Optional gauges of the latest day: metric -> ``calculations`` column (issue 17); a facility gets
#: one only when its latest day has the value (no CHP gauges for a boiler).
OPTIONAL_DAY_GAUGES = {
    "thermaliq_efficiency_uncertainty_points": "efficiency_uncertainty_points",
    "thermaliq_chp_electrical_efficiency": "electrical_efficiency_percent",
    "thermaliq_chp_thermal_efficiency": "thermal_efficiency_percent",
    "thermaliq_chp_purpa_efficiency": "purpa_efficiency_percent",
    "thermaliq_chp_effective_electrical_efficiency": "effective_electrical_efficiency_percent",
    "thermaliq_chp_primary_energy_savings_percent": "primary_energy_savings_percent",
}
METRICS.update(EM_METRICS)     # CO2e and baseline gauges (issue #18)
#: Bucket bounds of the duration histogram [s]; fixed, so totals of different runs add up.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_HIST_SUFFIX_RE = re.compile(r"_(bucket|sum|count)$")


@dataclass(frozen=True)
class Sample:
    """One sample: metric name (histograms: ``<name>_bucket|_sum|_count``), value and labels."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)

    def key(self) -> str:
        return self.name + json.dumps(dict(sorted(self.labels.items())))


def _family(name: str) -> tuple[str, str]:
    """``(metric name, type)`` of a sample name; raises ``ValueError`` for an unknown name."""
    if name in METRICS:
        return name, METRICS[name][0]
    base = _HIST_SUFFIX_RE.sub("", name)
    if METRICS.get(base, ("",))[0] == "histogram":
        return base, "histogram"
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}")


def _check(sample: Sample) -> Sample:
    family, kind = _family(sample.name)
    if kind == "histogram" and sample.name == family:
        raise ValueError(f"histogram {family!r}: give _bucket/_sum/_count samples (use histogram())")
    for label in sample.labels:
        if not _LABEL_RE.match(label) or label.startswith("__"):
            raise ValueError(f"metric {sample.name!r}: invalid label name {label!r}")
    value = float(sample.value)
    if kind != "gauge" and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{kind} {sample.name!r}: increment must be finite and >= 0, got {value}")
    return Sample(sample.name, value, {str(k): str(v) for k, v in sample.labels.items()})


def gauge(name: str, value: float, **labels: object) -> Sample:
    """A gauge sample; ``NaN`` is allowed and written as ``NaN`` (value unknown)."""
    return _check(Sample(name, value, labels))


def counter(name: str, increment: float, **labels: object) -> Sample:
    """A counter increment of this run (added to the stored total)."""
    return _check(Sample(name, increment, labels))


def histogram(name: str, observations: Iterable[float], *, buckets: tuple[float, ...] = DURATION_BUCKETS,
              **labels: object) -> list[Sample]:
    """Cumulative ``_bucket``, ``_sum`` and ``_count`` samples of this run's observations [s].

    ``le`` values are written as prometheus_client's own histograms do (``"0.5"``, ``"600.0"``, ``"+Inf"``).
    """
    obs = [float(v) for v in observations]
    base = {k: str(v) for k, v in labels.items()}
    out = [Sample(f"{name}_bucket", sum(v <= b for v in obs), {**base, "le": repr(float(b))}) for b in buckets]
    out.append(Sample(f"{name}_bucket", len(obs), {**base, "le": "+Inf"}))
    out += [Sample(f"{name}_sum", sum(obs), base), Sample(f"{name}_count", len(obs), base)]
    return [_check(s) for s in out]


def results_samples(facility_id: str, days: pd.DataFrame) -> list[Sample]:
    """Gauges of the latest day of a facility from its day calculations.

    Parameters
    ----------
    facility_id : str
        The facility.
    days : pandas.DataFrame
        Day rows of the ``calculations`` relation (``period_start``, ``efficiency_percent``,
        ``balance_error_percent``, ``data_quality_score``).

    Returns
    -------
    list of Sample
        ``thermaliq_efficiency``, ``thermaliq_efficiency_7d_avg`` (mean of the efficiencies of the
        latest 7 rows, skipping unknown ones), ``thermaliq_energy_balance_percent`` and
        ``thermaliq_data_quality_score``, plus the :data:`OPTIONAL_DAY_GAUGES` the latest day has;
        empty when there is no day.
    """
    if days.empty:
        return []
    d = days.sort_values("period_start")
    last = d.iloc[-1]
    week = d["efficiency_percent"].astype(float).iloc[-7:].dropna()
    optional = [gauge(name, float(last[col]), facility_id=facility_id)
                for name, col in OPTIONAL_DAY_GAUGES.items() if col in d and pd.notna(last[col])]
    return [gauge("thermaliq_efficiency", last["efficiency_percent"], facility_id=facility_id),
            gauge("thermaliq_efficiency_7d_avg", week.mean() if len(week) else math.nan, facility_id=facility_id),
            gauge("thermaliq_energy_balance_percent", last["balance_error_percent"], facility_id=facility_id),
            gauge("thermaliq_data_quality_score", last["data_quality_score"], facility_id=facility_id)] + optional


_FAMILIES = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily, "histogram": HistogramMetricFamily}


class _Collector(Collector):
    """A custom collector: the samples as prometheus_client metric families, series sorted by labels."""

    def __init__(self, samples: Iterable[Sample]):
        self._samples = list(samples)

    def collect(self) -> Iterator:
        series: dict[str, dict[tuple, dict]] = {}  # metric -> labels but le -> (sample name, le) -> value
        for s in self._samples:
            key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
            series.setdefault(_family(s.name)[0], {}).setdefault(key, {})[s.name, s.labels.get("le")] = s.value
        for name, by_labels in sorted(series.items()):
            kind, help_text = METRICS[name]
            names = sorted({k for key in by_labels for k, _ in key})  # a missing one is "" (= absent)
            family = _FAMILIES[kind](name, help_text, labels=names)
            for key, v in sorted(by_labels.items()):
                labels = [dict(key).get(k, "") for k in names]
                if kind != "histogram":
                    family.add_metric(labels, v[name, None])
                else:   # _count is the +Inf bucket
                    buckets = sorted(((le, n) for (_, le), n in v.items() if le), key=lambda b: float(b[0]))
                    family.add_metric(labels, buckets, v.get((f"{name}_sum", None)))
            yield family


def render(samples: Iterable[Sample]) -> str:
    """Prometheus text format 0.0.4 of the samples, as prometheus_client writes it (HELP, TYPE, samples).

    A private registry per call: the process-wide default registry is never touched.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(samples))
    return generate_latest(registry).decode("utf-8")


def merge(old: Iterable[Sample], new: Iterable[Sample]) -> list[Sample]:
    """Old samples updated with this run's samples (rules in the module docstring)."""
    new = [_check(s) for s in new]
    replaced_groups = {(s.name, s.labels["facility_id"]) for s in new
                       if _family(s.name)[1] == "gauge" and "facility_id" in s.labels}
    state: dict[str, Sample] = {}
    for s in old:
        if (s.name, s.labels.get("facility_id")) not in replaced_groups:
            state[s.key()] = s
    for s in new:
        prev = state.get(s.key())
        if _family(s.name)[1] != "gauge" and prev is not None:
            s = Sample(s.name, prev.value + s.value, s.labels)
        state[s.key()] = s
    return list(state.values())


def _state_path(path: Path) -> Path:
    return path.parent / f"{path.name}.state.json"


def read_state(path: str | os.PathLike) -> list[Sample]:
    """The samples stored beside the metrics file (empty when there is none yet)."""
    state = _state_path(Path(path))
    if not state.exists():
        return []
    try:
        raw = json.loads(state.read_text(encoding="utf-8"))
        return [Sample(r["name"], float(r["value"]), r["labels"]) for r in raw["series"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{state}: unreadable metrics state ({exc}); delete it to start the "
                         "counters again from zero") from exc


def write_metrics(path: str | os.PathLike, samples: Iterable[Sample], *, merge_existing: bool = True) -> Path:
    """Write the metrics file, merged with the stored state unless ``merge_existing`` is false.

    Parameters
    ----------
    path : path-like
        ``<home>/metrics/thermaliq.prom``; its directory is created.
    samples : iterable of Sample
        This run's samples (gauges: current values; counters and histograms: increments).
    merge_existing : bool, default True
        Keep other facilities' last values and add counters to their totals.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.parent / f".{path.name}.lock"), timeout=60):
        merged = merge(read_state(path) if merge_existing else [], samples)
        state = {"version": 1, "series": [{"name": s.name, "value": s.value, "labels": dict(s.labels)}
                                          for s in merged]}
        write_text_atomic(_state_path(path), json.dumps(state, allow_nan=True, sort_keys=True))
        write_text_atomic(path, render(merged))
    return path


# ----------------------------------------------------------------------------------------------
# The samples of one flow run, from the DuckDB relations and the run's own counters.

def _in(ids: list[str]) -> str:
    """``IN (?, ?, ...)`` for the facility ids (constants, so DuckDB prunes facility partitions)."""
    return "IN (" + ", ".join("?" for _ in ids) + ")"


def _optional_columns(con) -> list[str]:
    """The columns of :data:`OPTIONAL_DAY_GAUGES` that the ``calculations`` relation has."""
    have = set(con.sql("SELECT * FROM calculations LIMIT 0").columns)
    return [c for c in OPTIONAL_DAY_GAUGES.values() if c in have]


def _fleet_samples(con, fids: list[str], windows: dict[str, list[dict]]) -> dict[str, list[Sample]]:
    """Per facility: latest-day gauges, tag last-reading times and this run's quality counters.

    Three queries for all facilities together, not four per facility: each query scans its
    relation's view once, whatever the number of facilities.
    """
    out: dict[str, list[Sample]] = {fid: [] for fid in fids}
    if not fids:
        return out
    days = con.execute(
        "SELECT facility_id, period_start, efficiency_percent, balance_error_percent, data_quality_score"
        + "".join(f", {c}" for c in _optional_columns(con)) + " "
        f"FROM calculations WHERE facility_id {_in(fids)} AND granularity = 'day' AND is_current "
        "QUALIFY row_number() OVER (PARTITION BY facility_id ORDER BY period_start DESC) <= 7 "
        "ORDER BY facility_id, period_start DESC", fids).df()
    latest: dict[str, pd.Timestamp] = {}
    for name, value, fid in em_gauges(con, fids):
        out[fid].append(gauge(name, value, facility_id=fid))
    for fid, d in days.groupby("facility_id", sort=False):   # results_samples reads no facility_id
        out[fid] = results_samples(fid, d.reset_index(drop=True)) + out[fid]
        latest[fid] = pd.Timestamp(d["period_start"].max())
    if not latest:
        return out
    have = sorted(latest)
    since = [(latest[f] - pd.Timedelta(days=7)).to_pydatetime() for f in have]
    for fid, tag, epoch in con.execute(
            "SELECT t.facility_id, t.tag, epoch(max(t.ts)) FROM readings AS t JOIN (SELECT "
            "unnest(?::VARCHAR[]) AS b_fid, unnest(?::TIMESTAMPTZ[]) AS b_since) AS b "
            f"ON t.facility_id = b.b_fid AND t.ts >= b.b_since WHERE t.facility_id {_in(have)} "
            "GROUP BY t.facility_id, t.tag ORDER BY t.facility_id, t.tag", [have, since] + have).fetchall():
        out[fid].append(gauge("thermaliq_meter_last_reading_timestamp", epoch, facility_id=fid, tag=tag))
    # one read of data_quality for both questions: the latest day's rows and the changed windows'
    spans = {f: [(pd.Timestamp(w["first_utc"]), pd.Timestamp(w["end_utc"])) for w in windows.get(f, [])]
             for f in have}
    lo = {f: min([latest[f]] + [w[0] for w in spans[f]]) for f in have}
    hi = {f: max([latest[f] + pd.Timedelta(microseconds=1)] + [w[1] for w in spans[f]]) for f in have}
    dq = con.execute(
        "SELECT t.facility_id, t.period_start, t.valid_points, t.expected_points, t.interpolated_points, "
        "t.outlier_points FROM data_quality AS t JOIN (SELECT unnest(?::VARCHAR[]) AS b_fid, "
        "unnest(?::TIMESTAMPTZ[]) AS b_lo, unnest(?::TIMESTAMPTZ[]) AS b_hi) AS b "
        "ON t.facility_id = b.b_fid AND t.period_start >= b.b_lo AND t.period_start < b.b_hi "
        f"WHERE t.facility_id {_in(have)}",
        [have, [lo[f].to_pydatetime() for f in have], [hi[f].to_pydatetime() for f in have]] + have).df()
    dq_columns = _count_columns(dq)
    dq_rows = dq.groupby("facility_id", sort=False).indices if len(dq) else {}
    for fid in have:
        out[fid] += _quality_samples(fid, dq_columns, dq_rows.get(fid, _NO_ROWS), latest[fid], spans[fid])
    for fid, start, kind, n in con.execute(   # the dashboards' and alert rules' alert counts
            f"SELECT facility_id, period_start, kind, count(*) FROM alerts WHERE facility_id {_in(have)} "
            "GROUP BY ALL ORDER BY ALL", have).fetchall():
        if pd.Timestamp(start) == latest[fid]:
            out[fid].append(gauge("thermaliq_alerts_latest_day", n, facility_id=fid, kind=kind))
    return out


_NO_ROWS = np.empty(0, dtype="int64")
_DQ_COUNTS = ("valid_points", "expected_points", "interpolated_points", "outlier_points")


def _count_columns(dq: pd.DataFrame) -> dict[str, np.ndarray]:
    """``period_start`` of the ``data_quality`` rows as int64 UTC nanoseconds and their counts as
    float64 [points] (NULL as NaN)."""
    starts = pd.to_datetime(dq["period_start"], utc=True).to_numpy(dtype="datetime64[ns]").view("int64")
    return {"period_start": starts, **{c: dq[c].to_numpy(dtype="float64", na_value=np.nan) for c in _DQ_COUNTS}}


def _quality_samples(fid: str, dq: dict[str, np.ndarray], rows: np.ndarray, latest: pd.Timestamp,
                     spans: list[tuple[pd.Timestamp, pd.Timestamp]]) -> list[Sample]:
    """The completeness gauge of the ``latest`` day and this run's quality counters over ``spans``
    from a facility's ``rows`` of the ``data_quality`` columns ``dq``.

    Sums skip NULLs (``outlier_points`` of rows written before the column existed); the counts
    are whole numbers, so their float sums are exact in any order. A row in two spans counts twice.
    """
    out = []
    starts = dq["period_start"][rows]
    day = rows[starts == latest.value]
    expected = np.nansum(dq["expected_points"][day])
    if expected:
        out.append(gauge("thermaliq_calculation_data_completeness", np.nansum(dq["valid_points"][day]) / expected,
                         facility_id=fid))
    if spans:
        w = np.concatenate([rows[(starts >= a.value) & (starts < b.value)] for a, b in spans])
        missing = np.nansum(np.clip(dq["expected_points"][w] - dq["valid_points"][w], 0, None))
        out += [counter("thermaliq_missing_data_points_total", missing, facility_id=fid),
                counter("thermaliq_readings_interpolated_total", np.nansum(dq["interpolated_points"][w]),
                        facility_id=fid),
                counter("thermaliq_outliers_detected_total", np.nansum(dq["outlier_points"][w]), facility_id=fid)]
    return out


def _windows(calculated: list[dict], facilities: Mapping) -> dict[str, list[dict]]:
    """Changed windows per facility as UTC bounds (``first``/``last`` are local dates)."""
    out: dict[str, list[dict]] = {}
    for c in calculated:
        fid = c.get("facility_id")
        if fid not in facilities or not c.get("changed"):
            continue
        lo, hi = day_window(pd.Timestamp(c["first"]).date(), pd.Timestamp(c["last"]).date(),
                            facilities[fid].timezone)
        out.setdefault(fid, []).append({"first_utc": lo, "end_utc": hi})
    return out


def _norm_url(url: str) -> str:
    """A historian URL without credentials and trailing slash (the breakers' key form)."""
    parts = urlsplit(url)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"


def run_samples(con, facilities: Mapping, *, calculated: list[dict] = (), sankey_stats: Mapping | None = None,
                report_seconds: float | None = None, connector: Mapping | None = None,
                flow: str | None = None, succeeded_at: float | None = None) -> list[Sample]:
    """Every sample of one flow run.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        A connection with the relations of DESIGN §6.
    facilities : mapping of str to Facility
        The facilities of the run.
    calculated : list of dict
        Summaries of the calculated windows (``facility_id``, ``first``, ``last`` local dates,
        ``changed``; optional ``duration_s`` [s] and ``readings_ingested``, ``readings_rejected``).
        Quality counters count windows with ``changed`` only, so a rerun with nothing new adds 0.
    sankey_stats : mapping, optional
        Per facility ``sankey_seconds`` [s] and ``sankey_errors`` (from ``report.render_reports``).
    report_seconds : float, optional
        Duration of the report stage [s].
    connector : mapping, optional
        ``thermaliq.sources.historian.stats()`` of this run: ``connector_timeouts_total`` and
        ``circuit_state`` (url -> 0/1/2), mapped to facilities through their source url.
    flow, succeeded_at : str and float, optional
        Flow name and unix time [s] of a successful end, for ``..._last_successful_run_...``.
    """
    windows = _windows(list(calculated), facilities)
    per_facility = _fleet_samples(con, sorted(facilities), windows)
    out: list[Sample] = []
    for fid in sorted(facilities):
        out += per_facility[fid]
        durations = [c["duration_s"] for c in calculated if c.get("facility_id") == fid and "duration_s" in c]
        if durations:
            out += histogram("thermaliq_calculation_duration_seconds", durations, facility_id=fid)
        for key in ("readings_ingested", "readings_rejected"):
            n = sum(int(c.get(key) or 0) for c in calculated if c.get("facility_id") == fid)
            if any(key in c for c in calculated if c.get("facility_id") == fid):
                out.append(counter(f"thermaliq_{key}_total", n, facility_id=fid))
        st = (sankey_stats or {}).get(fid)
        if st:
            out += [gauge("thermaliq_sankey_generation_duration_seconds", st.get("sankey_seconds", 0.0),
                          facility_id=fid),
                    counter("thermaliq_sankey_generation_errors_total", st.get("sankey_errors", 0),
                            facility_id=fid)]
        source = getattr(facilities[fid], "source", None)
        states = {_norm_url(u): v for u, v in (connector or {}).get("circuit_state", {}).items()}
        if source is not None and source.kind == "historian" and _norm_url(source.url) in states:
            out.append(gauge("thermaliq_circuit_breaker_state", states[_norm_url(source.url)], facility_id=fid))
    if connector:
        out.append(counter("thermaliq_connector_timeouts_total", connector.get("connector_timeouts_total", 0)))
    if report_seconds is not None:
        out.append(gauge("thermaliq_stage_duration_seconds", report_seconds, stage="report"))
    if flow and succeeded_at is not None:
        out.append(gauge("thermaliq_last_successful_run_timestamp_seconds", succeeded_at, flow=flow))
    return out


def write_run_metrics(home, con, facilities: Mapping, **kwargs) -> Path:
    """:func:`run_samples` merged into ``<home>/metrics/thermaliq.prom`` (``home``: a ``Home``).

    Without a ``connector`` argument the historian connector's process counters are used
    (``thermaliq.sources.historian.stats()``; they are meant to be reset at the start of each run).
    """
    if "connector" not in kwargs:
        from thermaliq.sources import historian  # noqa: PLC0415 - only runs that publish metrics need it

        kwargs["connector"] = historian.stats()
    return write_metrics(home.metrics, run_samples(con, facilities, **kwargs))

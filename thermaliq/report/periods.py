"""What a period of the report data shows: its summary, stream energies and day results.

Every page narrows its facility's loaded rows to its own period (:meth:`ReportData.period`); these
functions select rows with numpy masks on int64 nanoseconds (a few microseconds) instead of pandas
boolean filters, and sum them into the period's summary, stream energies and day results.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from thermaliq.physics import efficiency_ranges
from thermaliq.report.data import ReportData, instants_ns, within


def _exact(df: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> np.ndarray:
    """Mask of the ``day``/``month`` rows covering exactly ``[start, end)``."""
    gran = df["granularity"].to_numpy(dtype=object)
    return ((instants_ns(df["period_start"]) == start.value) & (instants_ns(df["period_end"]) == end.value)
            & ((gran == "day") | (gran == "month")))


def _rows(df: pd.DataFrame, granularity: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    if df.empty:
        return df
    sel = (df["granularity"].to_numpy(dtype=object) == granularity) & within(df, start, end)
    return df.take(np.flatnonzero(sel))


def period_stream_energies(data: ReportData, order: list[str] | None = None) -> tuple[pd.DataFrame, str | None]:
    """Per-stream energy of the period [kWh] and a note on how it was put together.

    Uses the rows whose granularity covers the period exactly (one ``day`` or ``month`` row),
    else sums the ``day`` rows inside it, else the ``interval`` rows. ``order`` (stream ids, e.g.
    the configuration's) sets the order of the streams; others follow in the order found.
    """
    se = data.stream_energies
    cols = ["stream_id", "role", "carrier", "energy_kwh"]
    if se.empty:
        return pd.DataFrame(columns=cols), None
    exact = se.take(np.flatnonzero(_exact(se, data.start, data.end)))
    if len(exact):
        return _ordered(exact[cols], order), None
    for gran in ("day", "interval"):
        rows = _rows(se, gran, data.start, data.end)
        if len(rows):
            summed = rows.groupby(["stream_id", "role", "carrier"], dropna=False, sort=False)[
                "energy_kwh"].sum(min_count=1).reset_index()
            return _ordered(summed[cols], order), f"summed from {rows['period_start'].nunique()} {gran} rows"
    return pd.DataFrame(columns=cols), None


def _ordered(streams: pd.DataFrame, order: list[str] | None) -> pd.DataFrame:
    """``streams`` sorted by the position of their id in ``order`` (stable; unknown ids last)."""
    if not order:
        return streams.reset_index(drop=True)
    rank = {sid: i for i, sid in enumerate(order)}
    ids = streams["stream_id"].tolist()
    return streams.take(sorted(range(len(ids)), key=lambda i: rank.get(ids[i], len(rank)))).reset_index(drop=True)


def summary_value(summary: dict | None, key: str) -> float:
    """A number of a period summary, NaN when the summary or the value is missing."""
    value = None if summary is None else summary.get(key)
    return float(value) if value is not None and not pd.isna(value) else math.nan


def period_summary(data: ReportData) -> dict | None:
    """The period's result: the exact ``day``/``month`` calculation row, else one summed from days.

    Returns a dict with the numeric columns of ``calculations`` plus ``source`` (how it was made),
    or ``None`` when the period has no calculation at all.
    """
    c = data.calculations
    if c.empty:
        return None
    exact = c.take(np.flatnonzero(_exact(c, data.start, data.end)))
    if len(exact):
        row = exact.sort_values("version").iloc[-1].to_dict()
        row["source"] = f"{row['granularity']} calculation"
        return row
    days = _rows(c, "day", data.start, data.end)
    if days.empty:
        return None
    e_in, out = days["energy_input_kwh"].sum(), days["useful_output_kwh"].sum()
    losses = days["losses_kwh"].sum(min_count=len(days))
    bal = (e_in - out - losses) / e_in * 100 if e_in > 0 and math.isfinite(losses) else math.nan
    hours = (days["period_end"] - days["period_start"]).dt.total_seconds()
    return {"basis": days["basis"].iloc[0], "energy_input_kwh": e_in, "useful_output_kwh": out,
            "losses_kwh": losses, "unaccounted_kwh": days["unaccounted_kwh"].sum(min_count=1),
            "efficiency_percent": out / e_in * 100 if e_in > 0 else math.nan,
            "indirect_efficiency_percent": (100 - losses / e_in * 100) if e_in > 0 else math.nan,
            "balance_error_percent": bal, "exergy_efficiency_percent": math.nan,
            "data_quality_score": float((days["data_quality_score"] * hours).sum() / hours.sum()),
            "status": ", ".join(sorted(set(days["status"].dropna().astype(str)))),
            **{k: days[k].sum(min_count=len(days)) if k in days else math.nan
               for k in ("firing_hours", "standby_hours")},
            "source": f"summed from {len(days)} day calculations"}


def daily_results(data: ReportData) -> pd.DataFrame:
    """Day calculations of the trailing window with ``efficiency_mean_percent``.

    The mean is :func:`thermaliq.quality.alerts.trailing_mean`, the very reference of the
    ``efficiency_anomaly`` alert (DESIGN §7): mean efficiency of the up to 7 preceding usable days
    (status ``ok``, at least 3), so the gap between a day's point and this line is what the alert
    compares with ``anomaly_points``.
    """
    from thermaliq.quality.alerts import trailing_mean  # the alert's own definition, not a copy

    c = data.calculations
    if c.empty:
        return c.assign(efficiency_mean_percent=pd.Series(dtype=float))
    rows = np.flatnonzero(c["granularity"].to_numpy(dtype=object) == "day")
    rows = rows[np.argsort(instants_ns(c["period_start"])[rows], kind="stable")]
    days = c.take(rows).reset_index(drop=True)
    if days.empty:
        return days.assign(efficiency_mean_percent=pd.Series(dtype=float))
    mean = trailing_mean(days, pd.DataFrame())
    days["efficiency_mean_percent"] = mean.to_numpy(dtype="float64")
    return days


def benchmarked(facility_type: str, summary: dict | None) -> float:
    """The summary's efficiency that the type's benchmark range places [%]: indirect against a
    combustion-efficiency table, direct against a fuel-to-output range (issue #14)."""
    return efficiency_ranges.benchmarked_value(facility_type, summary_value(summary, "efficiency_percent"),
                                               summary_value(summary, "indirect_efficiency_percent"))


def benchmark_band(facility_type: str, efficiency_percent: float, basis: str):
    """``(BenchmarkPlacement | None, note | None)``: the facility type's published range.

    Without an efficiency only the range is wanted: its ``position`` is then ``–``.
    """
    known = math.isfinite(efficiency_percent)
    try:  # without an efficiency 0 % just fills the argument
        p = efficiency_ranges.compare(facility_type, efficiency_percent if known else 0.0, basis)
    except (KeyError, ValueError) as exc:
        return None, f"no benchmark for {facility_type} ({basis}): {exc}"
    return (p if known else replace(p, position="–")), None

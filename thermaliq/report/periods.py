"""What a period of the report data shows: its summary, stream energies and day results.

Every page narrows its facility's loaded rows to its own period (:meth:`ReportData.period`); these
functions select rows with numpy masks on int64 nanoseconds (a few microseconds) instead of pandas
boolean filters, and sum them into the period's summary, stream energies and day results.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pandas as pd

from thermaliq.physics import efficiency_ranges
from thermaliq.report.data import ReportData, instants_ns, within
from thermaliq.report.sankey import fmt_kwh


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


#: Stream-energy columns that add up over the days (or intervals) of a period.
SUMMED = ("energy_kwh", "balance_energy_kwh", "valid_intervals", "intervals")


def period_stream_energies(data: ReportData, order: list[str] | None = None) -> tuple[pd.DataFrame, str | None]:
    """Per-stream energy of the period [kWh] and a note on how it was put together.

    Columns ``stream_id, role, carrier`` and :data:`SUMMED`: the stream's own energy over its
    ``valid_intervals`` of ``intervals``, and its energy over the facility's valid intervals.

    Uses the rows whose granularity covers the period exactly (one ``day`` or ``month`` row),
    else sums the ``day`` rows inside it, else the ``interval`` rows. ``order`` (stream ids, e.g.
    the configuration's) sets the order of the streams; others follow in the order found.
    """
    se = data.stream_energies.reindex(columns=list(data.stream_energies.columns) + [
        c for c in SUMMED if c not in data.stream_energies.columns])
    cols = ["stream_id", "role", "carrier", *SUMMED]
    if se.empty:
        return pd.DataFrame(columns=cols), None
    exact = se.take(np.flatnonzero(_exact(se, data.start, data.end)))
    if len(exact):
        return _ordered(exact[cols], order), None
    for gran in ("day", "interval"):
        rows = _rows(se, gran, data.start, data.end)
        if len(rows):
            rows = rows.assign(**{c: pd.to_numeric(rows[c], errors="coerce") for c in SUMMED})
            summed = rows.groupby(["stream_id", "role", "carrier"], dropna=False, sort=False)[
                list(SUMMED)].sum(min_count=1).reset_index()
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


def _number(value) -> float:
    return math.nan if value is None or pd.isna(value) else float(value)


def period_intervals(streams: Mapping[str, list]) -> float:
    """The intervals of the period (``intervals`` of its stream rows; NaN when unknown)."""
    known = [_number(n) for n in streams.get("intervals", [])]
    known = [n for n in known if math.isfinite(n)]
    return max(known) if known else math.nan


def valid_intervals_text(summary: dict | None, streams: Mapping[str, list]) -> str:
    """"over the F valid intervals": the intervals efficiency, balance and losses are summed
    over (F = data_quality_score x the period's intervals), or a plainer text when unknown."""
    m = period_intervals(streams)
    dq = summary_value(summary, "data_quality_score")
    if not (math.isfinite(m) and math.isfinite(dq)):
        return "over the facility's valid intervals"
    return f"over the {round(dq * m):d} valid intervals"


def coverage_text(ids: list[str], valid: list[float], intervals: list[float]) -> str:
    """"over N of M intervals (x %)" of streams' own data ("gas over N of M, ..." when they
    differ); "" when rows written before issue 21 do not tell."""
    pairs = [(sid, _number(n), _number(m)) for sid, n, m in zip(ids, valid, intervals)]
    pairs = [p for p in pairs if math.isfinite(p[1]) and math.isfinite(p[2]) and p[2] > 0]
    if not pairs:
        return ""
    if len({(n, m) for _, n, m in pairs}) == 1:
        _, n, m = pairs[0]
        return f"over {n:.0f} of {m:.0f} intervals ({n / m * 100:.0f} %)"
    return "; ".join(f"{sid} over {n:.0f} of {m:.0f} intervals ({n / m * 100:.0f} %)" for sid, n, m in pairs)


def energy_tiles(summary: dict | None, streams: Mapping[str, list]) -> list[tuple[str, str, str]]:
    """The energy tiles of a page, each labelled with what it sums (issue 21).

    "Energy input" and "Useful output" are the streams' own metered energies (``energy_kwh``)
    over the intervals where each stream's data is valid, with that coverage; when that differs
    from the balance (the facility's valid intervals, where every stream is valid), the balance's
    input and output follow as their own tiles. Losses and unaccounted are balance figures.
    Rows written before issue 21 carry no coverage: the balance figures alone, as before.
    """
    over = valid_intervals_text(summary, streams)
    inp, out = summary_value(summary, "energy_input_kwh"), summary_value(summary, "useful_output_kwh")
    tiles = []
    known = math.isfinite(period_intervals(streams))
    differs = False
    for role, title, balance_value in (("input", "Energy input", inp), ("output", "Useful output", out)):
        at = [i for i, r in enumerate(streams.get("role", [])) if r == role]
        if not known or not at:
            tiles.append((f"{title}, {over}", fmt_kwh(balance_value), ""))
            continue
        own = [_number(streams["energy_kwh"][i]) for i in at]
        metered = math.fsum(e for e in own if math.isfinite(e)) if any(map(math.isfinite, own)) else math.nan
        text = coverage_text([streams["stream_id"][i] for i in at], [streams["valid_intervals"][i] for i in at],
                             [streams["intervals"][i] for i in at])
        tiles.append((f"{title} (metered), {text}", fmt_kwh(metered), ""))
        differs = differs or not (math.isfinite(metered) and math.isfinite(balance_value)
                                  and abs(metered - balance_value) <= 1e-9 * max(1.0, abs(metered)))
    if known and differs:
        tiles += [(f"Energy input in the balance, {over}", fmt_kwh(inp), ""),
                  (f"Useful output in the balance, {over}", fmt_kwh(out), "")]
    tiles += [(f"Known losses, {over}", fmt_kwh(summary_value(summary, "losses_kwh")), ""),
              (f"Unaccounted, {over}", fmt_kwh(summary_value(summary, "unaccounted_kwh")), "")]
    return tiles


def recalculation_texts(marks: list[dict], tz: str) -> list[str]:
    """One line per recalculated day or month (``PageView.recalculations``): "recalculated
    2026-10-20: gas HHV corrected; before (version 1): efficiency 80.12 %, input 195,000 kWh"."""
    lines = []
    for m in marks:
        start = pd.Timestamp(m["period_start"]).tz_convert(tz)
        what = f"{start:%Y-%m}" if m["granularity"] == "month" else f"{start:%Y-%m-%d}"
        when = m["calculated_at"]
        when_text = f"{pd.Timestamp(when).tz_convert(tz):%Y-%m-%d}" if when is not None and not pd.isna(when) else "?"
        reason = m["reason"] if m["reason"] is not None and not pd.isna(m["reason"]) else "no reason given"
        eff = m["previous_efficiency_percent"]
        eff_text = f"{eff:.2f} %" if math.isfinite(eff) else "–"
        lines.append(f"{m['granularity'].capitalize()} {what} recalculated {when_text}: {reason}; before "
                     f"(version {m['previous_version']}): efficiency {eff_text}, "
                     f"input {fmt_kwh(m['previous_energy_input_kwh'])}")
    return lines

"""Fit a facility's energy baseline and track every later period against it (ISO 50006).

:func:`update_baseline` reads the facility's current day (or month) results and its regressors,
fits the baseline of ``baseline: {start, end, regressors}`` by OLS
(:func:`thermaliq.physics.baseline.fit_ols`) and computes, for every period, the expected input,
the EnPI ratio, the savings and (after the baseline period) the CUSUM. The model is written to
``baselines`` and the periods to ``baseline_results`` as a new version only when anything differs
from the current version: a new baseline period, other regressors, or recalculated results.

Periods used for fitting are those with an energy input and a data-quality score of at least
``thresholds.data_quality_min``. A period whose regressors lie outside the baseline period's range
gets no expected input (flag ``outside_range``): the model is not extrapolated.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from thermaliq import periods, units
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.physics import baseline as model
from thermaliq.store import catalog, lake

DEFAULT_HDD_BASE_C = 15.5


@dataclass(frozen=True)
class BaselineOutcome:
    """What :func:`update_baseline` did: ``written`` a new version (its number) or not."""

    facility_id: str
    written: bool
    version: int
    status: str
    reason: str | None = None


def _periods(con: duckdb.DuckDBPyConnection, facility: Facility, granularity: str) -> pd.DataFrame:
    return con.execute(
        "SELECT period_start, period_end, energy_input_kwh, useful_output_kwh, data_quality_score "
        "FROM calculations WHERE facility_id = ? AND granularity = ? AND is_current "
        "ORDER BY period_start", [facility.facility_id, granularity]).df()


def _tag_means(con, facility: Facility, tag: str, unit_from: str | None, unit_to: str,
               starts: pd.Series, ends: pd.Series) -> np.ndarray:
    """Time-unweighted mean of a tag's stored readings in each period [``unit_to``]."""
    if starts.empty:
        return np.zeros(0)
    readings = con.execute(
        "SELECT ts, value, unit FROM readings WHERE facility_id = ? AND tag = ? AND ts >= ? AND ts < ?",
        [facility.facility_id, tag, starts.min(), ends.max()]).df()
    out = np.full(len(starts), np.nan)
    if readings.empty:
        return out
    ts = pd.to_datetime(readings["ts"], utc=True).to_numpy()
    source = unit_from or str(readings["unit"].iloc[0])
    values = np.asarray(units.convert(readings["value"].to_numpy(dtype="float64"), source, unit_to),
                        dtype="float64")
    order = np.argsort(ts)
    ts, values = ts[order], values[order]
    lo = np.searchsorted(ts, pd.to_datetime(starts, utc=True).to_numpy(), side="left")
    hi = np.searchsorted(ts, pd.to_datetime(ends, utc=True).to_numpy(), side="left")
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b > a:
            out[i] = values[a:b].mean()
    return out


def _daily_hdd(con, facility: Facility, reg, starts: pd.Series, ends: pd.Series) -> np.ndarray:
    """HDD of each period [K·d]: per local day from the day's mean temperature, summed per period."""
    base = reg.base_temperature
    base_c = float(units.convert(base.value, base.unit, "degC")) if base is not None else DEFAULT_HDD_BASE_C
    temp = reg.temperature
    days_starts, days_ends, owner = [], [], []
    for i, (s, e) in enumerate(zip(pd.to_datetime(starts, utc=True), pd.to_datetime(ends, utc=True))):
        first = s.tz_convert(facility.tz).date()
        last = (e - pd.Timedelta("1ns")).tz_convert(facility.tz).date()
        for d in periods.days_in(first, last):
            a, b = periods.day_window(d, d, facility.timezone)
            days_starts.append(a)
            days_ends.append(b)
            owner.append(i)
    ds, de = pd.Series(days_starts, dtype="datetime64[ns, UTC]"), pd.Series(days_ends, dtype="datetime64[ns, UTC]")
    if temp.is_tag:
        t_c = _tag_means(con, facility, temp.tag, temp.unit, "degC", ds, de)
    else:
        t_c = np.full(len(ds), float(units.convert(temp.value, temp.unit, "degC")))
    hdd = model.heating_degree_days(t_c, base_c)
    out = np.zeros(len(starts))
    np.add.at(out, np.asarray(owner, dtype=int), hdd)
    missing = np.zeros(len(starts), dtype=bool)
    np.logical_or.at(missing, np.asarray(owner, dtype=int), np.isnan(hdd))
    out[missing] = np.nan
    return out


def regressor_matrix(con, facility: Facility, rows: pd.DataFrame) -> np.ndarray:
    """One column per configured regressor for each period of ``rows``."""
    cols = []
    for reg in facility.baseline.regressors:
        if reg.kind == "useful_output":
            cols.append(rows["useful_output_kwh"].to_numpy(dtype="float64"))
        elif reg.kind == "hdd":
            cols.append(_daily_hdd(con, facility, reg, rows["period_start"], rows["period_end"]))
        else:
            cols.append(_tag_means(con, facility, reg.tag, None, reg.unit,
                                   rows["period_start"], rows["period_end"]))
    return np.column_stack(cols) if cols else np.zeros((len(rows), 0))


def evaluate_baseline(facility: Facility, rows: pd.DataFrame, x: np.ndarray):
    """Fit the baseline on its period and evaluate every period.

    Returns
    -------
    fit : BaselineFit or None
    results : DataFrame
        ``baseline_results`` columns without keys and version.
    reason : str or None
        Why no model could be fitted.
    """
    b = facility.baseline
    local = pd.to_datetime(rows["period_start"], utc=True).dt.tz_convert(facility.tz).dt.date
    in_base = ((local >= b.start) & (local <= b.end)).to_numpy()
    y = rows["energy_input_kwh"].to_numpy(dtype="float64")
    usable = np.isfinite(y) & (rows["data_quality_score"].to_numpy(dtype="float64")
                               >= facility.thresholds.data_quality_min)
    names = [r.name for r in b.regressors]
    try:
        fit = model.fit_ols(x[in_base & usable], y[in_base & usable], names)
    except ValueError as exc:
        return None, pd.DataFrame(), str(exc)
    complete = np.all(np.isfinite(x), axis=1)
    inside = np.zeros(len(rows), dtype=bool)
    inside[complete] = fit.in_range(x[complete])
    expected = np.full(len(rows), np.nan)
    expected[inside] = fit.predict(x[inside])
    actual = np.where(usable, y, np.nan)
    after = (local > b.end).to_numpy()
    ratio, savings, _ = model.cusum(expected, actual)
    _, _, cum = model.cusum(np.where(after, expected, np.nan), np.where(after, actual, np.nan))
    flag = np.select([~usable, ~complete, ~inside], ["low_data_quality", "missing_regressor",
                                                     "outside_range"], "")
    results = pd.DataFrame({
        "period_start": rows["period_start"], "period_end": rows["period_end"],
        "expected_input_kwh": expected, "actual_input_kwh": actual, "enpi_ratio": ratio,
        "savings_kwh": savings, "cusum_kwh": np.where(after, cum, np.nan),
        "in_baseline_period": in_base, "in_range": inside,
        "flag": pd.Series(flag, dtype="string").replace("", pd.NA)})
    return fit, results, None


_FIT_FLOATS = ("coefficient", "std_error", "x_min", "x_max", "r_squared", "cv_rmse_percent",
               "nmbe_percent")
_MODEL_COLUMNS = ["facility_id", "granularity", "baseline_start", "baseline_end", "term",
                  "coefficient", "std_error", "x_min", "x_max", "n", "p", "r_squared",
                  "cv_rmse_percent", "nmbe_percent", "meets_guideline14", "status", "reason"]


def _model_rows(facility: Facility, fit, reason: str | None) -> pd.DataFrame:
    b = facility.baseline
    common = {"facility_id": facility.facility_id, "granularity": b.granularity,
              "baseline_start": b.start, "baseline_end": b.end}
    if fit is None:       # every column, typed: a facility's only file may be a failed fit
        failed = pd.DataFrame([{**common, "term": None, "n": None, "p": None,
                                "meets_guideline14": None, "status": "failed", "reason": reason}])
        return failed.assign(**{c: np.nan for c in _FIT_FLOATS}).astype(
            {"term": "string", "n": "Int64", "p": "Int64", "meets_guideline14": "boolean"}
            | {c: "float64" for c in _FIT_FLOATS})[_MODEL_COLUMNS]
    return pd.DataFrame({
        **common, "term": list(fit.terms), "coefficient": list(fit.coefficients),
        "std_error": list(fit.std_errors), "x_min": list(fit.x_min), "x_max": list(fit.x_max),
        "n": fit.n, "p": fit.p, "r_squared": fit.r_squared,
        "cv_rmse_percent": fit.cv_rmse_percent, "nmbe_percent": fit.nmbe_percent,
        "meets_guideline14": fit.meets_guideline14(b.granularity), "status": "fitted",
        "reason": None})


def _content_hash(model_rows: pd.DataFrame, results: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in (model_rows, results):
        numbers = frame.select_dtypes("number").columns
        frame = frame.assign(**{c: frame[c].round(9) for c in numbers})
        digest.update(frame.astype(str).to_csv(index=False).encode())
    return digest.hexdigest()[:32]


def _stored_head(home: Home, facility_id: str) -> tuple[int, str | None]:
    """(latest version, its content hash) of the facility's stored baselines (0, None if none)."""
    folder = home.lake / "baselines" / f"facility_id={facility_id}"
    if next(folder.glob("*/*.parquet"), None) is None:
        return 0, None
    pattern = str(folder / "*" / "*.parquet").replace("'", "''")
    row = duckdb.sql(f"SELECT version, content_hash FROM read_parquet('{pattern}', union_by_name = true) "
                     "ORDER BY write_seq DESC LIMIT 1").fetchall()[0]
    return int(row[0]), row[1]


def _utc_us(df: pd.DataFrame, cols) -> pd.DataFrame:
    return df.assign(**{c: pd.to_datetime(df[c], utc=True).astype("datetime64[us, UTC]") for c in cols})


def update_baseline(home: Home, facility: Facility, *, run_id: str,
                    now: pd.Timestamp | None = None) -> BaselineOutcome | None:
    """Refit the facility's baseline and store it as a new version if anything changed.

    Returns None when the facility declares no baseline.
    """
    if facility.baseline is None:
        return None
    now = now or pd.Timestamp.now(tz="UTC")
    con = catalog.memory_connection(home)
    try:
        rows = _periods(con, facility, facility.baseline.granularity)
        x = regressor_matrix(con, facility, rows)
    finally:
        con.close()
    fit, results, reason = evaluate_baseline(facility, rows, x)
    model_rows = _model_rows(facility, fit, reason)
    content = _content_hash(model_rows, results)
    with lake.facility_lock(home.lake, facility.facility_id):
        version, stored_hash = _stored_head(home, facility.facility_id)
        status = "fitted" if fit is not None else "failed"
        if stored_hash == content:
            return BaselineOutcome(facility.facility_id, False, version, status, reason)
        version += 1
        seq = time.time_ns()
        key = f"{seq:020d}"
        meta = {"version": version, "write_seq": seq, "content_hash": content}
        model_rows = model_rows.assign(fitted_at=now, run_id=run_id, **meta)
        model_rows = _utc_us(model_rows, ["fitted_at"])
        with lake.pending_results(home.lake, facility.facility_id, key):
            lake.write_result(home.lake, "baselines", facility.facility_id,
                              periods.month_key(facility.baseline.start), model_rows, key)
            if not results.empty:
                results = _utc_us(results.assign(facility_id=facility.facility_id,
                                                 granularity=facility.baseline.granularity, **meta),
                                  ["period_start", "period_end"])
                month = periods.local_dates(results["period_start"], facility.tz).map(periods.month_key)
                for m, part in results.groupby(month.to_numpy(), sort=True):
                    lake.write_result(home.lake, "baseline_results", facility.facility_id, m,
                                      part.reset_index(drop=True), key)
    return BaselineOutcome(facility.facility_id, True, version, status, reason)

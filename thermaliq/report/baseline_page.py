"""A facility's energy-baseline page: model card and CUSUM chart (ISO 50006, ASHRAE Guideline 14).

``<reports>/<facility_id>/baseline.html`` is written for every facility that declares a
``baseline``, from the current versions of the ``baselines`` and ``baseline_results`` relations.
The CUSUM chart shows each period's savings (expected − actual input) and their running sum after
the baseline period: a line that falls steadily means the facility uses more energy than its own
baseline expects for the same output and weather.
"""
from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
from markupsafe import Markup

from thermaliq.config import Facility
from thermaliq.physics.baseline import CRITERIA, GUIDELINE14
from thermaliq.report.figures import TEMPLATE
from thermaliq.report.html import PARTS, figure_html, render_page, write_atomic
from thermaliq.report.savings import BASELINE_PAGE

MWH = 1000.0


def _mwh(values: pd.Series) -> list:
    """kWh as MWh, NaN as None (a gap)."""
    return [None if not math.isfinite(v) else round(v / MWH, 3) for v in values.astype(float).tolist()]


def _fmt(x, digits: int = 4) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}g}"


def load_baseline(con: duckdb.DuckDBPyConnection, facility_id: str) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Current model rows, current period rows and the number of versions of a facility
    (empty frames where the relations do not exist, as on a catalog older than them)."""
    try:
        return _load(con, facility_id)
    except duckdb.CatalogException:
        return pd.DataFrame(columns=["status"]), pd.DataFrame(), 0


def _load(con, facility_id: str) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    model = con.sql("SELECT * FROM baselines WHERE facility_id = ? AND is_current ORDER BY term",
                    params=[facility_id]).df()
    results = con.sql("SELECT * FROM baseline_results WHERE facility_id = ? AND is_current "
                      "ORDER BY period_start", params=[facility_id]).df()
    versions = con.sql("SELECT count(DISTINCT version) AS n FROM baselines WHERE facility_id = ?",
                       params=[facility_id]).fetchall()[0][0]
    return model, results, int(versions or 0)


def model_card(facility: Facility, model: pd.DataFrame, versions: int) -> Markup:
    """The model card: equation terms with standard errors, fit statistics, Guideline 14 verdict."""
    if model.empty:
        return PARTS.section("Baseline model card", PARTS.empty("No baseline stored yet: run the flows."))
    first = model.iloc[0]
    if first["status"] != "fitted":
        return PARTS.section("Baseline model card",
                             PARTS.empty(f"The baseline could not be fitted: {first['reason']}"))
    order = {"intercept": 0}
    model = model.assign(_o=model["term"].map(lambda t: order.get(t, 1))).sort_values(["_o", "term"])
    rows = [{"term": r.term, "coef": _fmt(r.coefficient), "se": _fmt(r.std_error),
             "t": _fmt(r.coefficient / r.std_error if r.std_error else math.nan, 3),
             "range": "" if r.term == "intercept" else f"{_fmt(r.x_min)} … {_fmt(r.x_max)}"}
            for r in model.itertuples()]
    g = str(first["granularity"])
    cv_max, nmbe_max = CRITERIA[g]
    ok = bool(first["meets_guideline14"])
    items = [("Observations n", str(int(first["n"])), ""), ("Parameters p", str(int(first["p"])), ""),
             ("R²", f"{first['r_squared']:.4f}", ""),
             (f"CV(RMSE) (≤ {cv_max:g} %)", f"{first['cv_rmse_percent']:.2f} %", "ok" if first["cv_rmse_percent"] <= cv_max else "bad"),
             (f"NMBE (±{nmbe_max:g} %)", f"{first['nmbe_percent']:.3f} %", "ok" if abs(first["nmbe_percent"]) <= nmbe_max else "bad"),
             ("Guideline 14", "meets" if ok else "does not meet", "ok" if ok else "bad")]
    terms = " + ".join(f"{_fmt(r.coefficient)}·{r.term}" for r in model.itertuples() if r.term != "intercept")
    intercept = model.loc[model["term"] == "intercept", "coefficient"].iloc[0]
    body = (PARTS.kpis(items, None)
            + Markup("<p>Energy input [kWh per {g}] = {eq}</p>").format(g=g, eq=f"{_fmt(intercept)} + {terms}")
            + PARTS.table(rows, [("term", "Term"), ("coef", "Coefficient"), ("se", "Standard error"),
                                 ("t", "t"), ("range", "Range in the baseline period")],
                          numeric=("coef", "se", "t")))
    fitted = pd.Timestamp(first["fitted_at"]).tz_convert(facility.timezone).strftime("%Y-%m-%d %H:%M")
    notes = [f"Baseline period {pd.Timestamp(first['baseline_start']):%Y-%m-%d} … "
             f"{pd.Timestamp(first['baseline_end']):%Y-%m-%d} ({g}s), version {int(first['version'])} "
             f"of {versions}; fitted {fitted}.",
             f"OLS; CV(RMSE) and NMBE with n − p degrees of freedom; criteria of {GUIDELINE14} "
             f"for {g} data (daily models are held to the hourly limits)."]
    return PARTS.section("Baseline model card", body + PARTS.notes(notes), id="model")


def cusum_figure(results: pd.DataFrame, tz: str) -> dict:
    """Plotly figure: savings per period (bars) and CUSUM (line) [MWh]; flagged periods marked."""
    t = pd.to_datetime(results["period_start"], utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    after = ~results["in_baseline_period"].astype(bool)
    flagged = results["flag"].notna()
    colors = ["#2a9d8f" if s >= 0 else "#e76f51" for s in results["savings_kwh"].fillna(0)]
    data = [
        {"type": "bar", "name": "savings (expected − actual)", "x": t.astype(str).tolist(),
         "y": _mwh(results["savings_kwh"]), "marker": {"color": colors}},
        {"type": "scatter", "mode": "lines+markers", "name": "CUSUM (after the baseline)",
         "x": t[after].astype(str).tolist(), "y": _mwh(results.loc[after, "cusum_kwh"]),
         "line": {"color": "#264653", "width": 3}},
        {"type": "scatter", "mode": "markers", "name": "flagged: not modelled",
         "x": t[flagged].astype(str).tolist(), "y": [0.0] * int(flagged.sum()),
         "text": results.loc[flagged, "flag"].astype(str).tolist(),
         "marker": {"symbol": "x", "size": 11, "color": "#6c757d"}},
    ]
    base = t[results["in_baseline_period"].astype(bool)]
    shapes = [] if base.empty else [{"type": "rect", "xref": "x", "yref": "paper", "x0": str(base.min()),
                                     "x1": str(base.max()), "y0": 0, "y1": 1, "fillcolor": "#e9ecef",
                                     "opacity": 0.6, "line": {"width": 0}, "layer": "below"}]
    return {"data": data, "layout": {"template": TEMPLATE,
                                     "title": {"text": "Savings against the baseline (bars) and CUSUM (line) [MWh]"},
                                     "shapes": shapes, "height": 420, "barmode": "relative",
                                     "yaxis": {"title": {"text": "MWh"}, "zeroline": True},
                                     "legend": {"orientation": "h"}, "margin": {"t": 50, "b": 40}}}


def _period_table(results: pd.DataFrame, tz: str) -> Markup:
    rows = [{"day": pd.Timestamp(r.period_start).tz_convert(tz).strftime("%Y-%m-%d"),
             "expected": _fmt(r.expected_input_kwh / MWH, 5), "actual": _fmt(r.actual_input_kwh / MWH, 5),
             "enpi": _fmt(r.enpi_ratio, 4), "savings": _fmt(r.savings_kwh / MWH, 4),
             "cusum": _fmt(r.cusum_kwh / MWH, 4), "flag": ("baseline " if r.in_baseline_period else "")
             + ("" if pd.isna(r.flag) else str(r.flag))}
            for r in results.itertuples()]
    table = PARTS.table(rows, [("day", "Period"), ("expected", "Expected MWh"), ("actual", "Actual MWh"),
                               ("enpi", "EnPI (actual/expected)"), ("savings", "Savings MWh"),
                               ("cusum", "CUSUM MWh"), ("flag", "Flag")],
                        numeric=("expected", "actual", "enpi", "savings", "cusum"))
    return PARTS.section("Periods", table + PARTS.notes([
        "outside_range: a regressor outside the baseline period's range; no expected input "
        "(not extrapolated). low_data_quality: below thresholds.data_quality_min."]), id="periods")


def baseline_html(facility: Facility, model: pd.DataFrame, results: pd.DataFrame, versions: int) -> str:
    """The HTML of a facility's baseline page."""
    tz = facility.timezone
    cusum = (PARTS.section("CUSUM", figure_html(cusum_figure(results, tz), "cusum"), id="cusum")
             if not results.empty else Markup())
    periods = _period_table(results, tz) if not results.empty else Markup()
    return render_page("baseline.html", title=f"{facility.name} ({facility.facility_id}) — energy baseline",
                       subtitle="ISO 50006 energy baseline, ASHRAE Guideline 14 statistics; energies in MWh",
                       plotly_src="../plotly.min.js",
                       nav=PARTS.links([("../index.html", "Fleet index"), ("index.html", "Latest / all reports")]),
                       card=model_card(facility, model, versions), cusum=cusum, periods=periods,
                       footer_notes=["Savings = expected − actual input; CUSUM = their running sum "
                                     "after the baseline period (negative: more energy than expected)."])


def write_baseline_pages(con: duckdb.DuckDBPyConnection, reports_dir: Path,
                         facilities: dict[str, Facility]) -> list[Path]:
    """Write ``<reports>/<id>/baseline.html`` for each facility with a baseline; return the paths."""
    paths = []
    for fid, facility in sorted(facilities.items()):
        if facility.baseline is None:
            continue
        model, results, versions = load_baseline(con, fid)
        paths.append(write_atomic(Path(reports_dir) / fid / BASELINE_PAGE,
                                  baseline_html(facility, model, results, versions)))
    return paths

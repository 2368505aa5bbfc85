"""The report's engineering section: uncertainty of the figures, the heat-loss table beside the
direct method, the uncertainty budget and the CHP indicators (issue 17).

Everything comes from the period's ``calculations`` row (``*_uncertainty_points`` are expanded,
k = 2), its ``stream_energies`` and the ``uncertainty_budget`` rows of its days.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from markupsafe import Markup

from thermaliq.report.data import NAT_NS, instants_ns
from thermaliq.report.html import PARTS, fmt_pct
from thermaliq.report.periods import summary_value
from thermaliq.report.sankey import fmt_kwh

_CHP_ROWS = (("electrical_efficiency_percent", "electrical efficiency E/F"),
             ("thermal_efficiency_percent", "thermal efficiency Q/F"),
             ("purpa_efficiency_percent", "PURPA efficiency (E + Q/2)/F (18 CFR 292.205: ≥ 42.5 %)"),
             ("effective_electrical_efficiency_percent", "EPA effective electrical efficiency E/(F − Q/0.8)"),
             ("primary_energy_savings_percent", "primary energy savings PES (2012/27/EU Annex II)"))


def with_uncertainty(value: float, expanded: float, digits: int = 1) -> str:
    """``"81.9 ± 2.4 %"``; without an uncertainty just ``"81.9 %"``; ``–`` when unknown [%]."""
    if not math.isfinite(value):
        return "–"
    if not math.isfinite(expanded):
        return fmt_pct(value, digits)
    return f"{value:.{digits}f} ± {expanded:.{digits}f} %"


def within_text(difference: float, expanded: float) -> str:
    """Whether a difference [points] is within an expanded uncertainty [points] (k = 2)."""
    if not (math.isfinite(difference) and math.isfinite(expanded)):
        return ""
    if abs(difference) <= expanded:
        return f"within the uncertainty (|{difference:+.1f}| ≤ {expanded:.1f} pt, k = 2)"
    return f"beyond the uncertainty (|{difference:+.1f}| > {expanded:.1f} pt, k = 2)"


def _loss_table(summary: dict, energies: dict) -> Markup:
    inp = summary_value(summary, "energy_input_kwh")
    rows = []
    for sid, role, carrier, kwh in zip(energies["stream_id"], energies["role"], energies["carrier"],
                                       energies["energy_kwh"]):
        if role != "loss":
            continue
        share = kwh / inp * 100 if inp and inp > 0 and kwh is not None and math.isfinite(kwh) else math.nan
        rows.append({"loss": sid, "kind": carrier or "", "energy": fmt_kwh(kwh),
                     "share": fmt_pct(share, 2)})
    losses = summary_value(summary, "losses_kwh")
    rows.append({"loss": "sum of listed losses", "kind": "", "energy": fmt_kwh(losses),
                 "share": fmt_pct(losses / inp * 100 if inp and inp > 0 else math.nan, 2)})
    return PARTS.table(rows, [("loss", "loss"), ("kind", "carrier / estimate"),
                              ("energy", "energy"), ("share", "% of input")],
                       numeric=("energy", "share"))


def _methods_table(summary: dict) -> Markup:
    direct = summary_value(summary, "efficiency_percent")
    u_direct = summary_value(summary, "efficiency_uncertainty_points")
    indirect = summary_value(summary, "indirect_efficiency_percent")
    u_indirect = summary_value(summary, "indirect_efficiency_uncertainty_points")
    diff = summary_value(summary, "balance_error_percent")
    u_diff = summary_value(summary, "balance_error_uncertainty_points")
    rows = [{"method": "direct (input-output): useful / input", "value": with_uncertainty(direct, u_direct)},
            {"method": "indirect (heat loss): 100 − listed losses", "value": with_uncertainty(indirect, u_indirect)},
            {"method": "difference = balance error (unlisted losses)",
             "value": with_uncertainty(diff, u_diff, 2), "verdict": within_text(diff, u_diff)}]
    return PARTS.table(rows, [("method", "method"), ("value", "efficiency (U, k = 2)"),
                              ("verdict", "difference vs. combined uncertainty")], numeric=("value",))


def _budget_table(budget: pd.DataFrame) -> Markup:
    """Per source: mean u, sensitivity and the contribution to the efficiency over the period."""
    rows = np.flatnonzero(budget["quantity"].to_numpy(dtype=object) == "efficiency") if len(budget) else []
    if not len(rows):
        return PARTS.empty("No uncertainty budget for this period (budgets are kept per day).")
    starts = instants_ns(budget["period_start"].iloc[rows])
    days = len(np.unique(starts[starts != NAT_NS]))      # Series.nunique()
    grouped = _per_source(budget, rows)
    total = float(pd.Series(grouped["contribution"] ** 2).sum())
    # the order of DataFrame.sort_values("contribution", ascending=False): the same nargsort
    order = pd.Series(grouped["contribution"]).sort_values(ascending=False).index.to_numpy()
    rows = []
    for source, stream, unit, u, c, contribution in zip(*(grouped[k][order].tolist() for k in (
            "source", "stream_id", "unit", "u", "c", "contribution"))):
        rows.append({"source": source, "stream": stream, "u": f"{u:.4g} {unit}",
                     "c": f"{c:+.4g} pt/{unit}" if math.isfinite(c) else "–",
                     "contribution": f"{contribution:.2f} pt",
                     "share": fmt_pct(contribution ** 2 / total * 100 if total > 0 else math.nan, 0)})
    table = PARTS.table(rows, [("source", "input"), ("stream", "stream"), ("u", "u(x), k = 1"),
                               ("c", "sensitivity"), ("contribution", "|c·u| on efficiency"),
                               ("share", "share of variance")],
                        numeric=("u", "c", "contribution", "share"))
    note = (f"Mean over {days} day(s); each instrument's error is systematic over a period "
            "(it does not average out), inputs combine in quadrature (GUM, JCGM 100:2008).")
    return table + PARTS.notes([note])


def _per_source(budget: pd.DataFrame, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per (source, stream_id, unit) of the efficiency ``rows`` of ``budget``, in order of first
    appearance: the mean ``u`` and ``c`` and the RMS ``contribution`` (arrays ``source, stream_id,
    unit, u, c, contribution``). A day page has one row per source: then the means are the values
    themselves and the groupby is skipped (the same numbers: a mean of one value is that value,
    pandas' too)."""
    keys = ["source", "stream_id", "unit"]
    values = budget["contribution_points"].to_numpy(dtype="float64")[rows]
    columns = [budget[k].to_numpy(dtype=object)[rows] for k in keys]
    tuples = list(zip(*columns))
    if len(set(tuples)) == len(tuples) and not any(pd.isna(x) for t in tuples for x in t):
        return {**dict(zip(keys, columns)),
                "u": budget["standard_uncertainty"].to_numpy(dtype="float64")[rows],
                "c": budget["sensitivity"].to_numpy(dtype="float64")[rows],
                "contribution": np.sqrt(values ** 2)}
    eff = budget.take(rows)
    grouped = eff.groupby(keys, sort=False).agg(u=("standard_uncertainty", "mean"),
                                                c=("sensitivity", "mean"))
    grouped["contribution"] = _rms_per_group(eff.groupby(keys, sort=False).ngroup().to_numpy(),
                                             values, len(grouped))
    grouped = grouped.reset_index()
    return {k: grouped[k].to_numpy() for k in keys + ["u", "c", "contribution"]}


def _rms_per_group(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Root mean square of ``values`` per group number 0 .. n-1 (missing values left out; the
    mean is pandas' ``Series.mean``, as a per-group ``agg`` lambda computed it, without its cost)."""
    return np.array([float(np.sqrt((pd.Series(values[group == g]) ** 2).mean())) for g in range(n)],
                    dtype="float64")


def _chp_table(summary: dict) -> Markup:
    rows = [{"indicator": label, "value": fmt_pct(summary_value(summary, key))}
            for key, label in _CHP_ROWS]
    return PARTS.table(rows, [("indicator", "indicator"), ("value", "value")], numeric=("value",))


def engineering_sections(summary: dict | None, energies: dict, budget: pd.DataFrame) -> Markup:
    """The heat-loss, uncertainty-budget and CHP sections of a facility page (HTML)."""
    if not summary:
        return Markup()
    out = Markup()
    if math.isfinite(summary_value(summary, "indirect_efficiency_percent")):
        body = (PARTS.heading("Direct and indirect method") + _methods_table(summary)
                + PARTS.heading("Listed losses (ASME PTC 4 §5, EN 12952-15)")
                + _loss_table(summary, energies))
        out += PARTS.section("Heat-loss method beside the direct method", body, id="heat-loss")
    if math.isfinite(summary_value(summary, "efficiency_uncertainty_points")) or len(budget):
        out += PARTS.section("Uncertainty budget of the efficiency", _budget_table(budget),
                             id="uncertainty")
    if math.isfinite(summary_value(summary, "purpa_efficiency_percent")):
        out += PARTS.section("CHP indicators", _chp_table(summary), id="chp")
    return out

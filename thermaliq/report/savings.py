"""The "Emissions, cost and savings" section of a facility report (issue #18).

For the page's period: CO2e and its intensity (``calculations.co2e_kg``, summed from the days when
no exact row exists), the cost of each input stream at the facility's ``prices``, and what running
at the ``target`` efficiency (default: the facility type's benchmark typical) would save per year,
in energy, money and CO2e (U.S. DOE Steam Tip Sheet #4 arithmetic, :mod:`thermaliq.physics.costs`).
"""
from __future__ import annotations

import math

import numpy as np
from markupsafe import Markup

from thermaliq.config import Facility, is_fuel
from thermaliq.physics import costs, fuels
from thermaliq.report.data import NAT_NS
from thermaliq.report.html import PARTS
from thermaliq.report.periods import summary_value
from thermaliq.report.sankey import fmt_kwh
from thermaliq.report.view import PageView

BASELINE_PAGE = "baseline.html"


def _price_of(facility: Facility, stream_id: str, carrier: str | None):
    """The stream's :class:`~thermaliq.config.model.Price` (by stream id, carrier or fuel name)."""
    prices = facility.prices
    for key in (stream_id, carrier, fuels.canonical_name(carrier) if is_fuel(carrier) else None):
        if key and key in prices:
            return prices[key]
    return None


def stream_price_per_kwh(facility: Facility, stream_id: str, carrier: str | None) -> tuple[float, str] | None:
    """(price per kWh of the stream's energy on the facility's basis, currency), or None.

    Energy prices are taken on the HHV (gross) basis, as gas and oil are billed; on an LHV
    facility a fuel's kWh is worth HHV/LHV times more.
    """
    price = _price_of(facility, stream_id, carrier)
    if price is None:
        return None
    fuel = fuels.canonical_name(carrier) if is_fuel(carrier) else None
    per_kwh = costs.price_per_kwh(price.value, price.per_unit, fuel=fuel, basis="HHV")
    if fuel is not None and facility.basis == "LHV":
        per_kwh *= fuels.get_fuel(fuel).hhv_lhv_ratio
    return per_kwh, price.currency


def _co2e_kg(view: PageView, summary: dict | None) -> float:
    """CO2e of the period [kg]: the summary's, else the sum of its day calculations (NaN when a
    day lacks it)."""
    value = summary_value(summary, "co2e_kg")
    if math.isfinite(value):
        return value
    calc = view.facility.calculations
    if "co2e_kg" not in calc.frame or not len(view.calculations):
        return math.nan
    days = view.day_calculations()
    co2e = calc.col("co2e_kg", days).astype("float64")
    return float(co2e.sum()) if len(co2e) and not np.isnan(co2e).any() else math.nan


def _days_calculated(view: PageView) -> float:
    """Days of the period with a day calculation (a month in progress counts its days so far) [d]."""
    calc = view.facility.calculations
    if len(view.calculations):
        days = view.day_calculations()
        start_ns, end_ns = calc.col("period_start", days), calc.col("period_end", days)
        known = (start_ns != NAT_NS) & (end_ns != NAT_NS)
        hours = float(((end_ns[known] - start_ns[known]) / 1e9).sum()) / 3600.0
        if hours > 0:
            return hours / 24.0
    return (view.end - view.start).total_seconds() / 86400.0


def _money(value: float, currency: str) -> str:
    return "–" if not math.isfinite(value) else f"{value:,.0f} {currency}"


def period_section(view: PageView, facility: Facility, placement) -> Markup:
    """HTML section: emissions, cost of the inputs and savings to target, annualised."""
    summary = view.summary()
    e_in = summary_value(summary, "energy_input_kwh")
    out = summary_value(summary, "useful_output_kwh")
    eff = summary_value(summary, "efficiency_percent")
    co2e = _co2e_kg(view, summary)
    days = _days_calculated(view)
    order = [s.id for s in facility.streams]
    streams = view.balance_energies_of_period(order)   # over the intervals of e_in
    rows, total, currency, priced_all = [], 0.0, None, True
    for sid, role, carrier, kwh in zip(streams["stream_id"], streams["role"], streams["carrier"],
                                       streams["energy_kwh"]):
        if role != "input":
            continue
        price = stream_price_per_kwh(facility, sid, carrier)
        cost = costs.cost_of(kwh, price[0]) if price else math.nan
        if price:
            currency = currency or price[1]
            total += cost if math.isfinite(cost) else 0.0
        else:
            priced_all = False
        rows.append({"stream": sid, "carrier": carrier or "", "energy": fmt_kwh(kwh),
                     "cost": _money(cost, price[1]) if price else "no price configured"})
    target = facility.target.efficiency_percent if facility.target else (
        placement.typical if placement is not None else math.nan)
    target_from = "configured target" if facility.target else "benchmark typical"
    saved_kwh = (costs.savings_to_target(e_in, eff, target)
                 if math.isfinite(target) and math.isfinite(eff) and e_in > 0 else math.nan)
    per_year = costs.annualised(saved_kwh, days) if days > 0 else math.nan
    money_per_kwh = total / e_in if currency and priced_all and e_in > 0 else math.nan
    co2e_per_kwh = co2e / e_in if e_in > 0 else math.nan
    intensity = co2e / (out / 1000.0) if out > 0 else math.nan
    items = [
        ("CO2e", "–" if not math.isfinite(co2e) else f"{co2e / 1000:,.1f} t", ""),
        ("CO2e per MWh useful", "–" if not math.isfinite(intensity) else f"{intensity:,.0f} kg", ""),
        ("Cost of input", _money(total, currency) if currency and priced_all else
         ("incomplete: " + _money(total, currency) if currency else "no prices"), ""),
        (f"Savings at {target:.1f} % ({target_from}), per year" if math.isfinite(target)
         else "Savings to target", "–" if not math.isfinite(per_year) or per_year <= 0 else
         f"{fmt_kwh(per_year)}, {_money(per_year * money_per_kwh, currency or '')}, "
         f"{per_year * co2e_per_kwh / 1000:,.1f} t CO2e", ""),
    ]
    body = PARTS.kpis(items, None) + PARTS.table(rows, [("stream", "Input stream"), ("carrier", "Carrier"),
                                                        ("energy", "Energy"), ("cost", "Cost")],
                                                 numeric=("energy", "cost"))
    notes = [f"Savings = input × (1 − efficiency / target), scaled from {days:.1f} days to a year "
             f"(U.S. DOE Steam Tip Sheet #4); money and CO2e at the period's average per kWh of input.",
             "Emissions: EPA 40 CFR 98 Subpart C Tables C-1/C-2 on the HHV fuel input, grid "
             f"electricity at the configured factor, GWP IPCC {facility.emission_factors.gwp}; "
             "electricity exported is in the emissions relation (scope exported), never netted."]
    if facility.baseline is not None:
        notes.append(Markup(f'Energy baseline: <a href="{BASELINE_PAGE}">model card and CUSUM</a>'))
    return PARTS.section("Emissions, cost and savings", body + PARTS.notes(notes), id="savings")

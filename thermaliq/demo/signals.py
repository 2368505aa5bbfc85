"""Synthetic plant physics for the demo: the three demo facilities and their clean readings.

Each demo facility is a configuration (DESIGN §3) plus a generator of 1-minute readings that a
perfect meter would report. The readings are physically consistent: useful output follows from the
fuel input through a stated efficiency model, steam and hot-water energies use IAPWS-IF97 enthalpies
(``iapws``), and every value is rounded to the precision the readings files carry *before* the
truth is computed from it, so thermaliq reading the files can reproduce the truth exactly.

* **FAC-STEAM** (steam boiler, natural gas, America/Chicago, HHV). Fuel-to-steam efficiency is
  the indirect (loss) model ``eta = (1 - q_A) * LHV/HHV - shell`` with the Siegert flue-gas loss
  ``q_A`` (a share of the LHV input) from the flue-gas temperature and O2 (both follow the load),
  the latent heat of the water vapour (HHV - LHV, lost in a non-condensing boiler) and a 1 %
  shell loss: about 82-83 % of the gas HHV. Fans and pumps draw 70-120 kW of electricity, an
  input too, so steam / all inputs is about 0.7 points lower.
* **FAC-CHP** (gas-engine CHP, Europe/Berlin, LHV). Electrical 38-41 %, thermal 44-46 % of the gas
  input depending on load; gas is a totalizer in Nm3.
* **FAC-HEATER** (process heater, fuel oil No. 2 in L/h, Europe/London, HHV), pressurised hot water
  metered by volume on the return; efficiency about 85 % with slow fouling.

Faults are not made here (see :mod:`thermaliq.demo.build`): these readings are the truth.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from iapws.iapws97 import _Region1, _Region2, _TSat_P

from thermaliq.physics import fuels
from thermaliq import units

FACILITY_IDS = ("FAC-STEAM", "FAC-CHP", "FAC-HEATER")

#: Siegert coefficients (A2, B) for q_A [%] = (T_flue - T_air) * (A2 / (21 - O2) + B), on LHV.
#: Source: 1. BImSchV (2010) flue-gas loss determination; natural gas 0.66/0.009.
SIEGERT_NATURAL_GAS = (0.66, 0.009)
#: LHV/HHV of natural gas from thermaliq's fuel table (NETL QGESS: 47.201 / 52.295 MJ/kg), so the
#: demo's loss model and thermaliq's indirect efficiency use the same ratio.
NATURAL_GAS_LHV_PER_HHV = 1.0 / fuels.get_fuel("natural_gas").hhv_lhv_ratio
#: Natural-gas heating value of FAC-STEAM [kWh/m3], HHV (the example value of DESIGN §3).
STEAM_GAS_HHV_KWH_M3 = 10.55
#: Natural-gas heating value of FAC-CHP [kWh/Nm3], LHV (typical H-gas).
CHP_GAS_LHV_KWH_NM3 = 10.0
#: No. 2 fuel oil [MJ/L], HHV: 138,500 Btu/US gal (U.S. EIA, "Btu conversion factors").
OIL_HHV_MJ_L = 38.6
STEAM_AIR_TEMPERATURE_C = 20.0
STEAM_SHELL_LOSS_PERCENT = 1.0
#: FAC-STEAM's water chemistry and casing, as its engineer states them (issue 17): conductivity of
#: feedwater and boiler water [µS/cm] (ratio 3 % of feedwater, DOE Steam Tip Sheet #9 range) and
#: an ABMA radiation loss of 0.4 % at the rated 13 MW of steam.
STEAM_FEEDWATER_US_CM = 90.0
STEAM_BLOWDOWN_US_CM = 3000.0
STEAM_RADIATION_PERCENT_OF_RATED = 0.4
STEAM_RATED_OUTPUT_KW = 13000.0
CHP_WATER_PRESSURE_BARG = 4.0
HEATER_WATER_PRESSURE_BARG = 8.0


def facility_configs() -> dict[str, dict]:
    """The demo facility configurations as YAML-ready mappings, by facility id."""
    tag = _m
    steam = {
        "facility_id": "FAC-STEAM", "name": "Riverside steam plant (demo)", "type": "steam_boiler",
        "region": "north_america", "industry": "food", "timezone": "America/Chicago",
        "interval": "15min", "basis": "HHV",
        "source": {"kind": "files", "path": "inbox/FAC-STEAM/*.csv", "format": "long"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas",
             "flow": tag("FT-101", "m3/h", [0, 2500], _mpe(1.0)),
             "heating_value": {"value": STEAM_GAS_HHV_KWH_M3, "unit": "kWh/m3", "basis": "HHV",
                               "accuracy": {"percent_of_reading": 1.0, "coverage": 2}}},
            {"id": "power_in", "role": "input", "carrier": "electricity",
             "flow": tag("JT-301", "kW", [0, 400], _mpe(0.5))},
            {"id": "steam", "role": "output", "carrier": "steam",
             "flow": tag("FT-201", "t/h", [0, 30], _mpe(1.0)),
             "pressure": tag("PT-201", "barg", [0, 16],
                             {"percent_of_span": 0.25, "span": [0, 16], "distribution": "rectangular"}),
             "temperature": tag("TT-201", "degC", [100, 250],
                                {"absolute": 0.5, "unit": "K", "distribution": "rectangular"}),
             "feedwater_temperature": tag("TT-202", "degC", [10, 150],
                                          {"absolute": 0.5, "unit": "K", "distribution": "rectangular"})},
            {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
             "method": "siegert", "temperature": tag("TT-501", "degC", [50, 350],
                                                     {"absolute": 2.0, "unit": "K", "coverage": 2}),
             "o2": tag("AT-501", "percent", [0, 21], {"absolute": 0.2, "distribution": "rectangular"}),
             "air_temperature": {"value": STEAM_AIR_TEMPERATURE_C, "unit": "degC",
                                 "accuracy": {"absolute": 5.0, "unit": "K", "distribution": "rectangular"}}},
            # the generated plant loses STEAM_SHELL_LOSS_PERCENT of its gas to blowdown and casing;
            # the engineer's estimates below come close (the balance error shows what is left)
            {"id": "blowdown", "role": "loss", "carrier": "blowdown", "of": "steam",
             "conductivity": {"feedwater": STEAM_FEEDWATER_US_CM, "blowdown": STEAM_BLOWDOWN_US_CM}},
            {"id": "radiation", "role": "loss",
             "estimate": {"percent_of_rated": STEAM_RADIATION_PERCENT_OF_RATED,
                          "rated_output": {"value": STEAM_RATED_OUTPUT_KW, "unit": "kW"}}},
        ],
    }
    chp = {
        "facility_id": "FAC-CHP", "name": "Hafen CHP gas engine (demo)", "type": "chp",
        "region": "europe", "industry": "district_heating", "timezone": "Europe/Berlin",
        "interval": "15min", "basis": "LHV",
        "source": {"kind": "files", "path": "inbox/FAC-CHP/*.csv", "format": "wide"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas",
             "counter": {"tag": "FQ-101", "unit": "Nm3",
                         "accuracy": {"percent_of_reading": 1.0, "distribution": "rectangular"}},
             "heating_value": {"value": CHP_GAS_LHV_KWH_NM3, "unit": "kWh/Nm3", "basis": "LHV",
                               "accuracy": {"percent_of_reading": 0.5}}},
            {"id": "power_out", "role": "output", "carrier": "electricity",
             "flow": tag("JT-201", "kW", [0, 2500], _mpe(0.5))},
            {"id": "heat_out", "role": "output", "carrier": "hot_water",
             "flow": tag("FT-301", "t/h", [0, 150], _mpe(2.0)),
             "supply_temperature": tag("TT-301", "degC", [40, 110],
                                       {"absolute": 0.1, "unit": "K", "distribution": "rectangular"}),
             "return_temperature": tag("TT-302", "degC", [30, 90],
                                       {"absolute": 0.1, "unit": "K", "distribution": "rectangular"}),
             "pressure": {"value": CHP_WATER_PRESSURE_BARG, "unit": "barg"}},
        ],
        # primary energy savings against Reg. (EU) 2015/2402 natural gas (G10) references
        "chp": {"electrical_reference_percent": 53.0, "heat_reference_percent": 92.0},
    }
    heater = {
        "facility_id": "FAC-HEATER", "name": "Thameside process heater (demo)",
        "type": "process_heater", "region": "europe", "industry": "chemicals",
        "timezone": "Europe/London", "interval": "15min", "basis": "HHV",
        "source": {"kind": "files", "path": "inbox/FAC-HEATER/*.csv"},
        "streams": [
            {"id": "oil", "role": "input", "carrier": "fuel_oil_no2",
             "flow": tag("FT-101", "L/h", [0, 600]),
             "heating_value": {"value": OIL_HHV_MJ_L, "unit": "MJ/L", "basis": "HHV"}},
            {"id": "power_in", "role": "input", "carrier": "electricity",
             "flow": tag("JT-301", "kW", [0, 100])},
            {"id": "process_water", "role": "output", "carrier": "hot_water",
             "flow": tag("FT-201", "m3/h", [0, 200]), "meter_on": "return",
             "supply_temperature": tag("TT-201", "degC", [60, 180]),
             "return_temperature": tag("TT-202", "degC", [40, 160]),
             "pressure": {"value": HEATER_WATER_PRESSURE_BARG, "unit": "barg"}},
        ],
    }
    for config in (steam, chp, heater):
        config.update(ENERGY_MANAGEMENT[config["facility_id"]])
    return {c["facility_id"]: c for c in (steam, chp, heater)}


def _m(tag: str, unit: str, rng: list[float], accuracy: dict | None = None) -> dict:
    out = {"tag": tag, "unit": unit, "range": rng}
    if accuracy is not None:
        out["accuracy"] = accuracy
    return out


def _mpe(percent: float) -> dict:
    """A maximum permissible error of ``percent`` of reading (rectangular: u = a/√3)."""
    return {"percent_of_reading": percent, "distribution": "rectangular"}


#: Prices, grid factors and targets of the demo facilities (illustrative values of the right
#: order for each country, not quotes; the baseline dates depend on the window: see
#: :func:`baseline_config`).
ENERGY_MANAGEMENT = {
    "FAC-STEAM": {
        "emission_factors": {"gwp": "AR5", "electricity": {
            "value": 373.0, "unit": "kg/MWh", "method": "location",
            "source": "illustrative, about the EPA eGRID2022 U.S. average output rate"}},
        "prices": {"natural_gas": {"value": 8.0, "unit": "USD/MMBtu"},
                   "electricity": {"value": 0.11, "unit": "USD/kWh"}},
    },
    "FAC-CHP": {
        "emission_factors": {"gwp": "AR5", "electricity": {
            "value": 380.0, "unit": "kg/MWh", "method": "location",
            "source": "illustrative, about the German grid mix of recent years"}},
        "prices": {"natural_gas": {"value": 45.0, "unit": "EUR/MWh"}},
        "target": {"efficiency_percent": 85.0},
    },
    "FAC-HEATER": {
        "emission_factors": {"gwp": "AR5", "electricity": {
            "value": 207.0, "unit": "kg/MWh", "method": "location",
            "source": "illustrative, about the UK government's 2024 grid conversion factor"}},
        "prices": {"fuel_oil_no2": {"value": 0.75, "unit": "GBP/L"},
                   "electricity": {"value": 0.25, "unit": "GBP/kWh"}},
    },
}
#: FAC-STEAM's baseline covers this share of the window; its boiler fouls from DEGRADE_AT on.
BASELINE_SHARE = 0.4
DEGRADE_AT = 0.55
#: Extra flue-gas temperature of the fouled boiler [K] (soot on the tubes).
FOULING_FLUE_RISE_K = 70.0


def baseline_config(start: date, end: date) -> dict:
    """FAC-STEAM's ``baseline``: daily gas and power against the useful output over the first
    :data:`BASELINE_SHARE` of the window (at least 4 days)."""
    days = (end - start).days + 1
    last = start + timedelta(days=max(4, int(days * BASELINE_SHARE)) - 1)
    return {"start": start.isoformat(), "end": min(last, end).isoformat(), "granularity": "day",
            "regressors": ["useful_output"]}


@dataclass(frozen=True)
class DemoTruth:
    """Clean generated truth of one demo facility.

    Attributes
    ----------
    facility_id : str
    readings : pandas.DataFrame
        ``tag, ts, value``: every 1-minute reading a perfect meter reports, ``ts`` UTC, values in
        the configured units (no faults: the counter never resets, nothing is missing).
    minutes : pandas.DataFrame
        Index ``ts`` (UTC minute starts); ``input_kw``, ``useful_kw`` [kW] and
        ``efficiency_percent`` (= useful / all inputs, thermaliq's definition), ``load`` [0..1],
        plus per facility: FAC-STEAM ``gas_kw, electricity_kw, steam_kw, flue_loss_percent_lhv,
        model_fuel_efficiency_percent, fuel_efficiency_percent``; FAC-CHP ``gas_kw, gas_nm3``
        (gas used in the minute) ``, power_kw, heat_kw, electrical_efficiency_percent,
        thermal_efficiency_percent``; FAC-HEATER ``oil_kw, electricity_kw, heat_kw,
        model_fuel_efficiency_percent``. Energies are on the facility's basis.
    """

    facility_id: str
    readings: pd.DataFrame
    minutes: pd.DataFrame


def minute_index(timezone: str, start: date, end: date) -> pd.DatetimeIndex:
    """UTC minute starts covering local calendar days ``start`` .. ``end`` (inclusive)."""
    tz = ZoneInfo(timezone)
    lo = pd.Timestamp(datetime.combine(start, time(), tz))
    hi = pd.Timestamp(datetime.combine(end + timedelta(days=1), time(), tz))
    return pd.date_range(lo.tz_convert("UTC"), hi.tz_convert("UTC"), freq="1min",
                         inclusive="left", name="ts").as_unit("ns")


def siegert_loss_percent(t_flue_c, t_air_c, o2_percent, a2: float, b: float):
    """Flue-gas loss by Siegert's formula.

    Parameters
    ----------
    t_flue_c, t_air_c : float or numpy.ndarray
        Flue-gas and combustion-air temperature [degC].
    o2_percent : float or numpy.ndarray
        Dry O2 in the flue gas [percent].
    a2, b : float
        Fuel coefficients [-].

    Returns
    -------
    Loss as a share of the LHV fuel input [percent].

    Notes
    -----
    q_A = (T_flue - T_air) * (A2 / (21 - O2) + B).

    Examples
    --------
    >>> round(siegert_loss_percent(180.0, 20.0, 3.0, 0.66, 0.009), 3)
    7.307
    """
    q = (np.asarray(t_flue_c, float) - t_air_c) * (a2 / (21.0 - np.asarray(o2_percent, float)) + b)
    return q if np.ndim(q) else float(q)


@lru_cache(maxsize=1 << 16)
def _h_kj_kg(p_mpa: float, t_k: float) -> float:
    """IAPWS-IF97 specific enthalpy, region 1 below saturation, region 2 above [kJ/kg]."""
    region = _Region1 if t_k < _TSat_P(p_mpa) else _Region2
    return region(t_k, p_mpa)["h"]


@lru_cache(maxsize=1 << 16)
def _rho_kg_m3(p_mpa: float, t_k: float) -> float:
    """IAPWS-IF97 density of compressed liquid water (region 1) [kg/m3]."""
    return 1.0 / _Region1(t_k, p_mpa)["v"]


def _unique_map(func, *args: np.ndarray) -> np.ndarray:
    """Apply a scalar function of one or two arguments once per distinct argument pair.

    The arguments are rounded readings, so there are few distinct pairs and the exact IAPWS-IF97
    routines stay fast enough for a month of 1-minute readings.
    """
    if len(args) not in (1, 2):
        raise ValueError(f"_unique_map takes one or two argument arrays, got {len(args)}")
    arrays = np.broadcast_arrays(*(np.asarray(a, float) for a in args))
    key = arrays[0].ravel() + (1j * arrays[1].ravel() if len(arrays) == 2 else 0.0)
    uniq, inverse = np.unique(key, return_inverse=True)          # complex sorts by (real, imag)
    values = [func(z.real, z.imag) if len(arrays) == 2 else func(z.real) for z in uniq]
    return np.asarray(values, float)[inverse.ravel()].reshape(arrays[0].shape)


def enthalpy_kj_kg(p_barg, t_c) -> np.ndarray:
    """IAPWS-IF97 enthalpy of water or steam at gauge pressure and temperature [kJ/kg]."""
    return _unique_map(_h_kj_kg, units.convert(np.asarray(p_barg, float), "barg", "MPa"),
                       np.asarray(t_c, float) + 273.15)


def _load_profile(local: pd.DatetimeIndex, rng: np.random.Generator, *, base: float,
                  swing: float, sigma: float, lo: float, hi: float) -> np.ndarray:
    """Daily load shape (peak mid-afternoon, lower at weekends) plus smooth noise [0..1]."""
    hour = local.hour + local.minute / 60.0
    shape = base + swing * np.sin(2 * np.pi * (hour - 9.0) / 24.0)
    weekend = pd.Series(np.where(local.day_of_week >= 5, 0.85, 1.0))   # ramped over 2 hours
    shape = shape * weekend.rolling(60, min_periods=1).mean().rolling(60, min_periods=1).mean()
    return np.clip(shape.to_numpy() + _noise(rng, sigma, len(local), alpha=0.05), lo, hi)


def _readings(ts: pd.DatetimeIndex, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long ``tag, ts, value`` frame from per-tag arrays (sorted by ts, then tag)."""
    n = len(ts)
    utc_naive = ts.tz_convert("UTC").tz_localize(None).as_unit("ns").to_numpy()
    stamps = pd.DatetimeIndex(np.tile(utc_naive, len(columns))).tz_localize("UTC")
    values = np.concatenate([np.asarray(v, float) for v in columns.values()])
    frame = pd.DataFrame({"tag": np.repeat(list(columns), n), "ts": stamps, "value": values})
    return frame.sort_values(["ts", "tag"], kind="stable").reset_index(drop=True)


def _noise(rng: np.random.Generator, sigma: float, n: int, alpha: float = 0.1) -> np.ndarray:
    """Smooth process noise of standard deviation ``sigma``: white noise smoothed twice.

    Real readings drift over minutes rather than jump from one minute to the next, and outlier
    filters (Hampel) must not mistake clean readings for spikes; two exponential smoothings with
    ``alpha`` 0.1 at 1 minute give a correlation time of about 20 minutes and smooth slopes.
    """
    x = pd.Series(rng.normal(0.0, 1.0, n)).ewm(alpha=alpha, adjust=False).mean()
    x = x.ewm(alpha=alpha, adjust=False).mean().to_numpy()
    spread = x.std()
    return x * (sigma / spread) if spread > 0 else np.zeros(n)


def steam_truth(ts: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[dict, pd.DataFrame]:
    """Readings and per-minute truth of FAC-STEAM (see module docstring)."""
    n = len(ts)
    local = ts.tz_convert("America/Chicago")
    load = _load_profile(local, rng, base=0.68, swing=0.22, sigma=0.04, lo=0.35, hi=1.0)
    o2 = np.round(2.5 + 2.0 * (1.0 - load) + _noise(rng, 0.08, n), 2)
    # fouling from DEGRADE_AT of the window on, ramped in over a day: hotter flue gas, more loss
    elapsed_d = (ts - ts[0]).total_seconds().to_numpy() / 86400.0
    fouled = np.clip((elapsed_d - DEGRADE_AT * elapsed_d[-1]) / 1.0, 0.0, 1.0) if n else elapsed_d
    t_flue = np.round(140.0 + 60.0 * load + FOULING_FLUE_RISE_K * fouled + _noise(rng, 1.0, n), 1)
    p = np.round(10.0 - 0.4 * (load - 0.7) + _noise(rng, 0.03, n), 2)
    t_sat = _unique_map(lambda pm: _TSat_P(pm) - 273.15, units.convert(p, "barg", "MPa"))
    t_steam = np.round(t_sat + 6.0 + _noise(rng, 0.4, n).clip(-2, 2), 1)
    t_fw = np.round(105.0 + _noise(rng, 0.4, n), 1)
    gas = np.round(1580.0 * load + _noise(rng, 4.0, n), 2)
    power = np.round(45.0 + 75.0 * load + _noise(rng, 1.5, n), 1)
    q_flue = siegert_loss_percent(t_flue, STEAM_AIR_TEMPERATURE_C, o2, *SIEGERT_NATURAL_GAS)
    eta_model = (1.0 - q_flue / 100.0) * NATURAL_GAS_LHV_PER_HHV - STEAM_SHELL_LOSS_PERCENT / 100.0
    gas_kw = gas * STEAM_GAS_HHV_KWH_M3
    dh = enthalpy_kj_kg(p, t_steam) - enthalpy_kj_kg(p, t_fw)
    steam = np.round(eta_model * gas_kw / dh * 3.6, 3)          # kW / (kJ/kg) = kg/s; x3.6 -> t/h
    steam_kw = steam / 3.6 * dh
    readings = {"FT-101": gas, "JT-301": power, "FT-201": steam, "PT-201": p, "TT-201": t_steam,
                "TT-202": t_fw, "TT-501": t_flue, "AT-501": o2}
    minutes = pd.DataFrame({
        "load": load, "gas_kw": gas_kw, "electricity_kw": power, "steam_kw": steam_kw,
        "flue_loss_percent_lhv": q_flue, "model_fuel_efficiency_percent": eta_model * 100.0,
        "fuel_efficiency_percent": steam_kw / gas_kw * 100.0,
        "input_kw": gas_kw + power, "useful_kw": steam_kw}, index=ts)
    return readings, minutes


def chp_truth(ts: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[dict, pd.DataFrame]:
    """Readings and per-minute truth of FAC-CHP (see module docstring).

    The gas counter reading at minute ``t`` is the total before ``t``; the gas used in the minute
    starting at ``t`` is the model value (the counter's 0.01 Nm3 rounding is below 0.2 % a minute
    and does not accumulate).
    """
    n = len(ts)
    local = ts.tz_convert("Europe/Berlin")
    hour = local.hour + local.minute / 60.0
    day_shift = (hour >= 6.0) & (hour < 22.0)
    steps = pd.Series(np.where(day_shift, 0.95, 0.62))       # shift changes ramp over 40 min
    ramp = steps.rolling(20, min_periods=1).mean().rolling(20, min_periods=1).mean().to_numpy()
    load = np.clip(ramp + _noise(rng, 0.01, n), 0.5, 1.0)
    power = np.round(2000.0 * load, 1)
    load = power / 2000.0
    eta_el = 0.41 - 0.08 * (1.0 - load)
    eta_th = 0.44 + 0.05 * (1.0 - load)
    gas_kw = power / eta_el
    gas_nm3_min = gas_kw / CHP_GAS_LHV_KWH_NM3 / 60.0
    counter = np.round(4_812_345.0 + np.concatenate([[0.0], np.cumsum(gas_nm3_min)[:-1]]), 2)
    t_ret = np.round(60.0 + 3.0 * np.sin(2 * np.pi * (hour - 4.0) / 24.0) + _noise(rng, 0.2, n), 1)
    t_sup = np.round(85.0 + _noise(rng, 0.3, n), 1)
    dh = (enthalpy_kj_kg(CHP_WATER_PRESSURE_BARG, t_sup)
          - enthalpy_kj_kg(CHP_WATER_PRESSURE_BARG, t_ret))
    water = np.round(eta_th * gas_kw / dh * 3.6, 3)
    heat_kw = water / 3.6 * dh
    readings = {"FQ-101": counter, "JT-201": power, "FT-301": water, "TT-301": t_sup,
                "TT-302": t_ret}
    minutes = pd.DataFrame({
        "load": load, "gas_kw": gas_kw, "gas_nm3": gas_nm3_min, "power_kw": power,
        "heat_kw": heat_kw, "electrical_efficiency_percent": power / gas_kw * 100.0,
        "thermal_efficiency_percent": heat_kw / gas_kw * 100.0,
        "input_kw": gas_kw, "useful_kw": power + heat_kw}, index=ts)
    return readings, minutes


def heater_truth(ts: pd.DatetimeIndex, rng: np.random.Generator) -> tuple[dict, pd.DataFrame]:
    """Readings and per-minute truth of FAC-HEATER (see module docstring)."""
    n = len(ts)
    local = ts.tz_convert("Europe/London")
    load = _load_profile(local, rng, base=0.72, swing=0.15, sigma=0.03, lo=0.4, hi=1.0)
    days_run = (ts - ts[0]).total_seconds().to_numpy() / 86400.0
    eta_fuel = 0.875 - 0.03 * (1.0 - load) - 0.0004 * days_run        # slow fouling
    oil = np.round(380.0 * load + _noise(rng, 1.0, n), 2)
    power = np.round(12.0 + 10.0 * load + _noise(rng, 0.3, n), 1)
    oil_kw = oil * OIL_HHV_MJ_L / 3.6
    t_sup = np.round(130.0 + _noise(rng, 0.3, n), 1)
    t_ret = np.round(t_sup - (12.0 + 18.0 * load) + _noise(rng, 0.3, n), 1)
    dh = (enthalpy_kj_kg(HEATER_WATER_PRESSURE_BARG, t_sup)
          - enthalpy_kj_kg(HEATER_WATER_PRESSURE_BARG, t_ret))
    rho = _unique_map(_rho_kg_m3, units.convert(HEATER_WATER_PRESSURE_BARG, "barg", "MPa"),
                      t_ret + 273.15)
    water = np.round(eta_fuel * oil_kw / (dh * rho) * 3600.0, 3)     # m3/h, metered on return
    heat_kw = water / 3600.0 * rho * dh
    readings = {"FT-101": oil, "JT-301": power, "FT-201": water, "TT-201": t_sup, "TT-202": t_ret}
    minutes = pd.DataFrame({
        "load": load, "oil_kw": oil_kw, "electricity_kw": power, "heat_kw": heat_kw,
        "model_fuel_efficiency_percent": eta_fuel * 100.0,
        "input_kw": oil_kw + power, "useful_kw": heat_kw}, index=ts)
    return readings, minutes


_GENERATORS = {"FAC-STEAM": steam_truth, "FAC-CHP": chp_truth, "FAC-HEATER": heater_truth}


def demo_truth(facility_id: str, start: date, end: date, *, seed: int = 7) -> DemoTruth:
    """Clean 1-minute readings and per-minute truth of one demo facility.

    Parameters
    ----------
    facility_id : str
        One of ``FACILITY_IDS``.
    start, end : datetime.date
        First and last local calendar day (inclusive).
    seed : int
        Random seed; the same arguments always give the same frames.

    Raises
    ------
    ValueError
        For an unknown facility id or ``end < start``.
    """
    if facility_id not in _GENERATORS:
        raise ValueError(f"facility_id must be one of {FACILITY_IDS}, got {facility_id!r}")
    if end < start:
        raise ValueError(f"end ({end}) is before start ({start})")
    ts = minute_index(facility_configs()[facility_id]["timezone"], start, end)
    rng = np.random.default_rng([seed, FACILITY_IDS.index(facility_id)])
    columns, minutes = _GENERATORS[facility_id](ts, rng)
    minutes["efficiency_percent"] = minutes["useful_kw"] / minutes["input_kw"] * 100.0
    return DemoTruth(facility_id, _readings(ts, columns), minutes)


def demo_readings_frame(facility_id: str, start: date, end: date, *, seed: int = 7) -> pd.DataFrame:
    """The clean ``tag, ts, value`` readings of :func:`demo_truth` (no file parsing)."""
    return demo_truth(facility_id, start, end, seed=seed).readings

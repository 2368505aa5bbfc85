"""Micro-benchmark of the calculation core: steam properties and stream energies.

Run: .venv/bin/python benchmarks/bench_calc.py
Prints the median of repeated wall-clock timings (time.perf_counter) per case.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thermaliq.physics import balance, energy, water  # noqa: E402
from thermaliq import config

REPEAT = 21


def median_s(fn, repeat: int = REPEAT) -> float:
    fn()  # warm-up (imports, first-call caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report(name: str, seconds: float, states: int) -> None:
    print(f"{name:<58s} median {seconds * 1e3:9.3f} ms   {states / seconds:12,.0f} states/s")


def facility() -> config.Facility:
    return config.parse_facility({
        "facility_id": "BENCH", "name": "bench", "type": "steam_boiler", "timezone": "Europe/Berlin",
        "source": {"kind": "files", "path": "inbox/*.csv"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas", "flow": {"tag": "FG", "unit": "Nm3/h"}},
            {"id": "power", "role": "input", "carrier": "electricity", "flow": {"tag": "JP", "unit": "kW"}},
            {"id": "steam", "role": "output", "carrier": "steam", "flow": {"tag": "FS", "unit": "t/h"},
             "pressure": {"tag": "PS", "unit": "barg"}, "temperature": {"tag": "TS", "unit": "degC"},
             "feedwater_temperature": {"tag": "TFW", "unit": "degC"}},
            {"id": "hw", "role": "output", "carrier": "hot_water", "flow": {"tag": "FW", "unit": "m3/h"},
             "meter_on": "return", "supply_temperature": {"tag": "TSU", "unit": "degC"},
             "return_temperature": {"tag": "TRE", "unit": "degC"}, "pressure": {"value": 4, "unit": "bar"}},
            {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
             "temperature": {"tag": "TF", "unit": "degC"}, "o2": {"tag": "O2", "unit": "percent"}},
            {"id": "flue2", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
             "method": "stoichiometric", "temperature": {"tag": "TF", "unit": "degC"},
             "o2": {"tag": "O2", "unit": "percent"}},
            {"id": "shell", "role": "loss", "estimate": {"percent_of_input": 1.0}},
        ]})


def day_values(n: int, mode: str, rng) -> pd.DataFrame:
    idx = pd.date_range("2026-03-10", periods=n, freq="15min", tz="UTC")
    base = {"FG": 800.0, "JP": 40.0, "FS": 10.0, "PS": 10.0, "TS": 250.0, "TFW": 105.0,
            "FW": 30.0, "TSU": 90.0, "TRE": 60.0, "TF": 160.0, "O2": 3.0}
    if mode == "constant":
        return pd.DataFrame(base, index=idx)
    if mode == "repeating":   # a historian with coarse resolution: few distinct states
        return pd.DataFrame({k: v + rng.integers(-2, 3, n) * 0.1 for k, v in base.items()}, index=idx)
    return pd.DataFrame({k: v * (1 + 0.02 * rng.standard_normal(n)) for k, v in base.items()},
                        index=idx)


def main() -> None:
    rng = np.random.default_rng(42)
    print(f"thermaliq calculation micro-benchmark (median of {REPEAT} runs)\n")
    print("steam properties (h_pt on superheated steam + h_sat_vapour_p), numpy arrays:")
    for n, mode in ((96, "constant"), (96, "repeating"), (96, "all distinct"), (10_000, "all distinct")):
        if mode == "constant":
            p, t = np.full(n, 11e5), np.full(n, 523.15)
        elif mode == "repeating":
            p, t = 11e5 + rng.integers(-2, 3, n) * 1e3, 523.15 + rng.integers(-2, 3, n) * 0.1
        else:
            p, t = 11e5 * (1 + 0.02 * rng.random(n)), 523.15 + 5 * rng.random(n)
        report(f"  {n:>6d} states, {mode}",
               median_s(lambda: (water.h_pt(p, t), water.h_sat_vapour_p(p))), 2 * n)
    p3 = np.full(96, 25e6)
    t3 = 650.0 + rng.integers(0, 5, 96) * 0.5
    report("  96 region-3 states (5 distinct), memo cache cold",
           median_s(lambda: (water.clear_cache(), water.h_pt(p3, t3))), 96)
    report("  96 region-3 states (5 distinct), memo cache warm",
           median_s(lambda: water.h_pt(p3, t3)), 96)
    t3d = 650.0 + np.linspace(0, 20, 96)
    report("  96 region-3 states (all distinct), memo cache cold",
           median_s(lambda: (water.clear_cache(), water.h_pt(p3, t3d)), repeat=5), 96)
    print("\nstream energies (7 streams: gas, power, superheated steam, hot water, 2 flue, shell)")
    fac = facility()
    for n, mode in ((96, "constant"), (96, "repeating"), (96, "varying"), (2976, "varying")):
        vals = day_values(n, mode, rng)
        report(f"  stream_energies {n:>5d} intervals, {mode}",
               median_s(lambda: energy.stream_energies(fac, vals, pd.Timedelta("15min"))), n)
    vals = day_values(2976, "varying", rng)
    se = energy.stream_energies(fac, vals, pd.Timedelta("15min"))
    valid = pd.Series(True, index=vals.index)
    report("  period_results  2976 intervals -> days",
           median_s(lambda: balance.period_results(fac, se, valid, "day")), 2976)


if __name__ == "__main__":
    main()

"""A synthetic year of a gas-fired hot-water boiler that is off part of the time (issue #14).

The boiler fires 05:15-21:45 local time on working days and is off at night, at weekends and in a
summer shutdown (15 July - 31 August): about half of the year's hours. While it is off the gas
meter reads near zero (0.3 +- 0.3 m3/h of noise, negative at times, below its 10 m3/h
low-flow cutoff), the
O2 analyser holds its last value (3.1 %, which the aligner excludes as frozen after 2 h), the
flue gas cools and the circulation pump stops (supply = return temperature, flow 0).

Firing signals are the nominal values plus Gaussian meter noise (seeded): gas 120 m3/h, water
46.5 t/h from 60 to 80 degC, flue 140 degC, O2 3.0 % (dry), air 20 degC. Siegert (1. BImSchV, natural gas A2 0.66, B 0.009):
q = (140 - 20) x (0.66 / (21 - 3) + 0.009) = 5.480 % of the LHV input; on HHV the indirect
efficiency is (1 - 0.05480) / 1.107922 = 85.31 % (HHV/LHV of the NETL gas, 52.295 / 47.201).
"""
from datetime import date

import numpy as np
import pandas as pd
import pytest

from thermaliq import config
from thermaliq.home import Home
from thermaliq.physics import balance, energy
from thermaliq.pipeline import calculate
from thermaliq.quality import align

TZ = "Europe/Berlin"
FIRST, LAST = date(2025, 1, 1), date(2025, 12, 31)


def boiler():
    return config.parse_facility({
        "facility_id": "HW-YEAR", "name": "Hot-water boiler, off part of the time",
        "type": "hot_water_boiler", "timezone": TZ, "interval": "1h", "basis": "HHV",
        "source": {"kind": "files", "path": "inbox/HW-YEAR/*.csv"},
        # The Hampel screen flags the noise of the first firing hours after a stop (its spread
        # comes from a window that is mostly idle zeros); that screen is not under test here.
        "thresholds": {"outlier_method": "none"},
        "streams": [
            {"id": "gas", "role": "input", "carrier": "natural_gas",
             "flow": {"tag": "FT-101", "unit": "m3/h", "low_flow_cutoff": 10}},
            {"id": "heat", "role": "output", "carrier": "hot_water",
             "flow": {"tag": "FT-201", "unit": "t/h"},
             "supply_temperature": {"tag": "TT-201", "unit": "degC"},
             "return_temperature": {"tag": "TT-202", "unit": "degC"}},
            {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
             "temperature": {"tag": "TT-501", "unit": "degC"}, "o2": {"tag": "AT-501", "unit": "percent"},
             "air_temperature": {"value": 20, "unit": "degC"}},
        ]})


def off_day(day: pd.Timestamp) -> bool:
    return day.weekday() >= 5 or (pd.Timestamp("2025-07-15") <= day <= pd.Timestamp("2025-08-31"))


def year_readings() -> tuple[pd.DataFrame, pd.Series]:
    """Long readings every 15 min (tag, ts UTC, value) and whether each sample is firing
    (2026-01-01 is a working day too; only its first hour is read)."""
    # one day of margin after the year: the last hour's signal runs to the next sample
    local = pd.date_range(pd.Timestamp(FIRST).tz_localize(TZ), pd.Timestamp(2026, 1, 2).tz_localize(TZ),
                          freq="15min", inclusive="left")
    minutes = local.hour * 60 + local.minute
    days = local.tz_localize(None).normalize()
    off = np.array([off_day(d) for d in days.unique()])[pd.factorize(days)[0]]
    firing = ~off & (minutes >= 5 * 60 + 15) & (minutes <= 21 * 60 + 45)
    rng = np.random.default_rng(14)

    def signal(on, on_sd, idle, idle_sd):
        return np.where(firing, on + on_sd * rng.standard_normal(len(local)),
                        idle + idle_sd * rng.standard_normal(len(local)))

    o2_on = 3.0 + 0.05 * rng.standard_normal(len(local))
    o2 = pd.Series(np.where(firing, o2_on, np.nan)).ffill().fillna(3.0).to_numpy()   # holds its last value
    idle_water = 55.0 + 0.1 * rng.standard_normal(len(local))     # pump off: supply = return
    tags = {
        "FT-101": signal(120.0, 1.5, 0.3, 0.3),
        "FT-201": np.where(firing, 46.5 + 0.2 * rng.standard_normal(len(local)), 0.0),
        "TT-201": np.where(firing, 80.0 + 0.2 * rng.standard_normal(len(local)), idle_water),
        "TT-202": np.where(firing, 60.0 + 0.2 * rng.standard_normal(len(local)), idle_water),
        "TT-501": signal(140.0, 0.5, 45.0, 0.3),
        "AT-501": o2,
    }
    ts = local.tz_convert("UTC").as_unit("ns")
    frame = pd.concat([pd.DataFrame({"tag": tag, "ts": ts, "value": v}) for tag, v in tags.items()],
                      ignore_index=True)
    return frame, pd.Series(firing, index=ts)


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    f = boiler()
    home = Home(tmp_path_factory.mktemp("home"))
    readings, firing = year_readings()
    result = calculate.compute_window(home, f, FIRST, LAST, readings=readings)
    result = calculate.add_alerts(home, f, result, trailing_days=pd.DataFrame())
    days = result.days.copy()
    days["day"] = pd.DatetimeIndex(days["period_start"]).tz_localize(None).normalize()
    days["off"] = [off_day(d) for d in days["day"]]
    return f, readings, result, days


def test_off_days_are_standby_with_full_score(year):
    """Off days: status standby, no efficiency, score >= 0.9 (here 1.0: every hour is standby),
    standby_hours = the local day's length (23 and 25 h on DST days), firing_hours 0."""
    _, _, result, days = year
    # 8760 hours: the grid of a window longer than ~104 days once lost its last interval
    assert len(result.intervals) == 8760 and days["intervals"].sum() == 8760
    off = days[days["off"]]
    assert len(off) == 138 and len(days) == 365        # 104 weekend days + 34 summer working days
    assert (off["status"] == "standby").all()
    assert off["efficiency_percent"].isna().all()
    assert (off["data_quality_score"] >= 0.9).all() and off["data_quality_score"].min() == 1.0
    assert (off["firing_hours"] == 0).all()
    length_h = (pd.to_datetime(off["period_end"]) - pd.to_datetime(off["period_start"])) / pd.Timedelta("1h")
    assert (off["standby_hours"] == length_h).all()


def test_no_low_data_quality_or_meter_offline_for_the_idle_boiler(year):
    """The O2 analyser is frozen and excluded every night and every off day (offline events in the
    data-quality record), yet neither low_data_quality nor meter_offline fires anywhere."""
    _, _, result, days = year
    assert (result.events["kind"] == "frozen").sum() > 200       # the idle analyser was seen
    assert (result.events["kind"] == "offline").sum() > 200
    kinds = set(result.alerts["kind"])
    assert "low_data_quality" not in kinds and "meter_offline" not in kinds
    assert (days["data_quality_score"] == 1.0).all()


def test_firing_days_indirect_efficiency_unchanged(year):
    """Working days: 17 firing hours (05:00-21:00 starts) and 7 standby hours, status ok. Their
    indirect efficiency equals that of the firing hours alone (the rule before operating states,
    where the idle hours were invalid and left out) and the hand value 85.31 % within 0.2 pt
    (the ramp hours 05:00 and 21:00 are partly off)."""
    f, readings, _, days = year
    on = days[~days["off"]]
    assert (on["status"] == "ok").all() and (on["firing_hours"] == 17).all()
    assert (on["standby_hours"] == on["intervals"] - 17).all()
    start, end = pd.Timestamp(FIRST).tz_localize(TZ), pd.Timestamp(2026, 1, 1).tz_localize(TZ)
    aligned = align.align_window(readings, f, start, end)
    raw = energy.stream_energies(f, aligned.values, f.interval_td)
    before = balance.period_results(f, raw, aligned.valid, "day").set_index("period_start")
    assert (before.loc[days.loc[days["off"], "period_start"], "valid_intervals"] == 0).all()  # no_data before
    now = on.set_index("period_start")["indirect_efficiency_percent"]
    np.testing.assert_allclose(now.to_numpy(), before.loc[now.index, "indirect_efficiency_percent"].to_numpy(),
                               rtol=1e-12)
    assert now.to_numpy() == pytest.approx(np.full(len(now), 85.31), abs=0.2)

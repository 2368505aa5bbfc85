"""Synthetic plants for the benchmarks: facility YAMLs and 1-minute readings of any size.

Every facility is a gas-fired steam boiler (``steam_boiler``, LHV basis) whose tags follow one
load signal: a daily swing plus a slow random walk, between 30 % and 100 % load. Tags, in the
order they are added until ``tags`` is reached (at least 8):

* core (8): gas flow ``FT-101`` [m3/h], fan power ``JT-301`` [kW], HP steam flow/pressure/
  temperature ``FT-201``/``PT-201``/``TT-201`` [t/h, barg, degC], feedwater ``TT-202`` [degC],
  flue gas ``TT-501`` [degC] and O2 ``AT-501`` [%];
* combustion air temperature ``TT-502`` (1);
* a hot-water heat recovery loop ``FT-420``/``TT-421``/``TT-422``/``PT-420`` (4);
* an LP steam header ``FT-211``/``PT-211``/``TT-211``/``TT-212`` (4);
* then one auxiliary electricity meter ``JT-3xx`` [kW] per remaining tag.

The numbers are chosen so that the plant is physically consistent: on the LHV basis the boiler
runs at about 88 % efficiency, the Siegert flue-gas loss is 6–8 % and the energy balance closes
within the default 5 % tolerance, so a benchmark run exercises the normal path (no alerts).

Readings are written under ``<home>/inbox/<facility_id>/``, CSV or Parquet, in one of the
layouts (``Size.layout``):

* ``daily`` (default): long format (``timestamp, tag, value``; UTC instants with ``Z``), one file
  per facility and local day, rows by time then tag;
* ``single``: the same rows in one long file per facility (a historian's year export);
* ``single-local``: one long file per facility with naive local wall-clock times
  (``YYYY-MM-DD HH:MM:SS`` in the facility's zone: the fall-back hour appears twice);
* ``wide``: one wide file per facility (``timestamp`` + one column per tag, ``Z`` instants).

``step_min`` is the reading interval [min] (1 by default; the wide workload uses 60).

Usage::

    .venv/bin/python -m benchmarks.generate --home /tmp/bench --facilities 1 --tags 20 --days 365
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import yaml

TIMEZONE = "America/Chicago"
MIN_TAGS = 8
GAS_LHV_KWH_M3 = 9.5          # typical pipeline natural gas, LHV per m3 at meter conditions


@dataclass(frozen=True)
class Size:
    """One synthetic data set: ``facilities`` × ``tags`` × ``days`` at 1-minute resolution."""

    facilities: int
    tags: int
    days: int
    start: date
    format: str = "csv"        # csv | parquet
    layout: str = "daily"      # daily | single | single-local | wide (see the module docstring)
    step_min: int = 1          # reading interval [min]

    def key(self) -> str:
        extra = ("" if self.layout == "daily" else f"-{self.layout}") + \
            ("" if self.step_min == 1 else f"-s{self.step_min}")
        return f"f{self.facilities}-t{self.tags}-d{self.days}-{self.start}-{self.format}{extra}"

    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)


def facility_id(i: int) -> str:
    return f"BENCH-{i + 1:04d}"


def facility_config(fid: str, tags: int, fmt: str, layout: str = "daily",
                    step_min: int = 1) -> dict:
    """A steam-boiler configuration with exactly ``tags`` tags (see the module docstring)."""
    if tags < MIN_TAGS:
        raise ValueError(f"tags must be at least {MIN_TAGS}, not {tags}")
    t = lambda tag, unit, rng=None: {"tag": tag, "unit": unit, **({"range": rng} if rng else {})}  # noqa: E731
    left = tags - MIN_TAGS
    air = t("TT-502", "degC", [-40, 60]) if left >= 1 else {"value": 20, "unit": "degC"}
    left -= 1 if left >= 1 else 0
    streams = [
        {"id": "gas", "role": "input", "carrier": "natural_gas",
         "flow": t("FT-101", "m3/h", [0, 2500]),
         "heating_value": {"value": GAS_LHV_KWH_M3, "unit": "kWh/m3", "basis": "LHV"}},
        {"id": "fan", "role": "input", "carrier": "electricity", "flow": t("JT-301", "kW", [0, 200])},
        {"id": "hp_steam", "role": "output", "carrier": "steam", "flow": t("FT-201", "t/h", [0, 20]),
         "pressure": t("PT-201", "barg", [0, 16]), "temperature": t("TT-201", "degC", [100, 300]),
         "feedwater_temperature": t("TT-202", "degC", [20, 150])},
    ]
    if left >= 4:
        streams.append({"id": "hot_water", "role": "output", "carrier": "hot_water",
                        "flow": t("FT-420", "t/h", [0, 40]), "supply_temperature": t("TT-421", "degC", [20, 120]),
                        "return_temperature": t("TT-422", "degC", [10, 110]),
                        "pressure": t("PT-420", "bar", [1, 10])})
        left -= 4
    if left >= 4:
        streams.append({"id": "lp_steam", "role": "output", "carrier": "steam", "flow": t("FT-211", "t/h", [0, 10]),
                        "pressure": t("PT-211", "barg", [0, 8]), "temperature": t("TT-211", "degC", [100, 250]),
                        "feedwater_temperature": t("TT-212", "degC", [20, 150])})
        left -= 4
    for k in range(left):
        streams.append({"id": f"aux_{k + 1}", "role": "input", "carrier": "electricity",
                        "flow": t(f"JT-{302 + k}", "kW", [0, 100])})
    streams.append({"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
                    "temperature": t("TT-501", "degC", [50, 400]), "o2": t("AT-501", "percent", [0, 21]),
                    "air_temperature": air})
    streams.append({"id": "shell", "role": "loss", "estimate": {"percent_of_input": 1.0}})
    suffix = "parquet" if fmt == "parquet" else "csv"
    return {"facility_id": fid, "name": f"Synthetic steam plant {fid}", "type": "steam_boiler",
            "timezone": TIMEZONE, "interval": "1h" if step_min >= 60 else "15min", "basis": "LHV",
            "source": {"kind": "files", "path": f"inbox/{fid}/*.{suffix}",
                       "format": "wide" if layout == "wide" else "long"},
            "streams": streams}


def _load(rng: np.random.Generator, minutes: np.ndarray) -> np.ndarray:
    """Boiler load 0.3..1: a daily swing (peak mid-afternoon) plus a slow random walk."""
    hours = (minutes % 1440) / 60.0
    walk = np.cumsum(rng.normal(0.0, 0.004, len(minutes)))
    walk -= np.linspace(0.0, walk[-1], len(minutes))          # back to the start at day end
    return np.clip(0.68 + 0.22 * np.sin(2 * np.pi * (hours - 9) / 24) + walk, 0.3, 1.0)


def tag_values(config: dict, load: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Physically consistent readings of every tag of ``config`` for the load signal ``load``."""
    n = len(load)
    noise = lambda s: rng.normal(0.0, s, n)  # noqa: E731
    v = {"FT-201": 8.4 * load + noise(0.05), "PT-201": 10.0 + noise(0.05),
         "TT-201": 250.0 + 5 * (load - 0.7) + noise(0.5), "TT-202": 105.0 + noise(0.3),
         "JT-301": 15 + 35 * load + noise(0.5), "TT-501": 150 + 40 * load + noise(1.0),
         "AT-501": 3.0 + 1.5 * (1 - load) + noise(0.05), "TT-502": 20 + noise(0.3),
         "FT-420": 15 * load + noise(0.1), "TT-421": 80 + noise(0.2), "TT-422": 60 + noise(0.2),
         "PT-420": 3.0 + noise(0.02), "FT-211": 3.6 * load + noise(0.03), "PT-211": 4.0 + noise(0.03),
         "TT-211": 160 + noise(0.5), "TT-212": 105 + noise(0.3)}
    # Useful heat [kW] per unit load (IAPWS-IF97 enthalpies rounded): HP 2943-441 kJ/kg, LP 2767-441.
    useful_kw = 8.4 / 3.6 * 2502 * load
    tags = {m["tag"] for s in config["streams"] for m in s.values() if isinstance(m, dict) and "tag" in m}
    if "FT-420" in tags:
        useful_kw = useful_kw + 15 / 3.6 * 4.19 * 20 * load
    if "FT-211" in tags:
        useful_kw = useful_kw + 3.6 / 3.6 * 2326 * load
    v["FT-101"] = useful_kw / 0.88 / GAS_LHV_KWH_M3 + noise(2.0)      # ~88 % LHV efficiency
    for tag in sorted(tags):                                         # sorted: same draws in every process
        if tag not in v:                                            # auxiliary electricity meters
            v[tag] = 5 + 10 * load + noise(0.2)
    return {tag: np.round(v[tag], 3) for tag in sorted(tags)}


def day_instants(day: date, tz: str, step_min: int = 1) -> pd.DatetimeIndex:
    """Every ``step_min`` minutes of local ``day`` in UTC (1380 or 1500 minutes on DST change days)."""
    lo = pd.Timestamp(day).tz_localize(tz)
    hi = pd.Timestamp(day + timedelta(days=1)).tz_localize(tz)
    return pd.date_range(lo, hi, freq=f"{step_min}min", inclusive="left").tz_convert("UTC")


def day_table(instants: pd.DatetimeIndex, values: dict[str, np.ndarray], fmt: str,
              layout: str = "daily", tz: str = TIMEZONE) -> pa.Table:
    """One day's readings as the file writes them: long (rows by time, then tag) or wide."""
    tags = list(values)
    n = len(instants)
    if fmt == "parquet":
        stamps = pa.array(instants.as_unit("us").to_numpy(), pa.timestamp("us", tz="UTC"))
    elif layout == "single-local":
        stamps = pa.array(instants.tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
                          pa.string())
    else:
        stamps = pa.array(instants.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object), pa.string())
    if layout == "wide":
        return pa.table({"timestamp": stamps, **{t: values[t] for t in tags}})
    tag_col = pa.DictionaryArray.from_arrays(np.tile(np.arange(len(tags), dtype=np.int32), n), tags)
    value_col = np.column_stack([values[t] for t in tags]).ravel()
    return pa.table({"timestamp": stamps.take(pa.array(np.repeat(np.arange(n), len(tags)))),
                     "tag": tag_col if fmt == "parquet" else tag_col.cast(pa.string()),
                     "value": value_col})


def write_day(path: Path, instants: pd.DatetimeIndex, values: dict[str, np.ndarray], fmt: str) -> int:
    """One long-format file: rows ordered by time, then tag. Returns the number of readings."""
    tmp = path.with_name(path.name + ".part")
    table = day_table(instants, values, fmt)
    if fmt == "parquet":
        pq.write_table(table, tmp)
    else:
        pcsv.write_csv(table, tmp, pcsv.WriteOptions(quoting_style="none"))
    tmp.rename(path)
    return len(instants) * len(values)


class _OneFile:
    """A facility's single file written day by day (CSV or Parquet), renamed into place at close."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt, self.writer = path, fmt, None
        self.tmp = path.with_name(path.name + ".part")

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = (pq.ParquetWriter(self.tmp, table.schema) if self.fmt == "parquet" else
                           pcsv.CSVWriter(self.tmp, table.schema, write_options=pcsv.WriteOptions(
                               quoting_style="none")))
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()
        self.tmp.rename(self.path)


def generate(home: Path, size: Size, seed: int = 42) -> dict:
    """Write facility YAMLs and readings of ``size`` under ``home``; return a manifest.

    Existing output with the same manifest is reused (generation is deterministic in ``seed``).
    """
    home = Path(home)
    manifest_path = home / "benchmark-manifest.json"
    wanted = {**asdict(size), "start": size.start.isoformat(), "seed": seed}
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if {k: old.get(k) for k in wanted} == wanted:
            return old
    (home / "facilities").mkdir(parents=True, exist_ok=True)
    readings = 0
    for i in range(size.facilities):
        fid = facility_id(i)
        config = facility_config(fid, size.tags, size.format, size.layout, size.step_min)
        (home / "facilities" / f"{fid}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        folder = home / "inbox" / fid
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([seed, i])
        one = None if size.layout == "daily" else \
            _OneFile(folder / f"{size.start}_{size.end()}.{size.format}", size.format)
        for d in range(size.days):
            day = size.start + timedelta(days=d)
            instants = day_instants(day, TIMEZONE, size.step_min)
            load = _load(rng, np.arange(len(instants)) * size.step_min)
            values = tag_values(config, load, rng)
            if one is None:
                readings += write_day(folder / f"{day.isoformat()}.{size.format}", instants, values,
                                      size.format)
            else:
                one.write(day_table(instants, values, size.format, size.layout))
                readings += len(instants) * len(values)
        if one is not None:
            one.close()
    manifest = {**wanted, "readings": readings, "first": size.start.isoformat(),
                "last": size.end().isoformat(), "timezone": TIMEZONE}
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--facilities", type=int, default=1)
    ap.add_argument("--tags", type=int, default=20)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2025, 1, 1))
    ap.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ap.add_argument("--layout", choices=["daily", "single", "single-local", "wide"], default="daily")
    ap.add_argument("--step-min", type=int, default=1)
    args = ap.parse_args(argv)
    size = Size(args.facilities, args.tags, args.days, args.start, args.format, args.layout,
                args.step_min)
    print(json.dumps(generate(args.home, size), indent=2))


if __name__ == "__main__":
    main()

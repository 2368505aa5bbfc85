"""Validation benchmark: clean_readings + align_window + Great Expectations, per million readings.

Generates ``--rows`` raw readings of a facility with ``--tags`` tags (half rate tags, a quarter
counters, the rest temperatures) on a 1-minute grid starting at a local midnight, with the faults
real plants have: 0.1 % exact duplicates, 0.05 % conflicting duplicates, 0.05 % spikes beyond the
range, an outlier, a 10-minute and a 3-hour hole per tag, a counter reset per counter. Then times

1. ``cleaning.clean_readings`` on all rows,
2. ``align.align_window`` on the clean readings over the whole local days they cover,
3. ``tasks.gx.validate.validate_readings`` once on all clean readings (GX import and context
   creation are timed separately), and once on one facility-day (the per-run overhead the
   nightly flow pays per facility and day),

and prints seconds and seconds per million readings, plus the process's peak resident memory.

``--gx-cost`` instead measures what Great Expectations costs per facility-window and per flow
run: ``validate_readings`` on clean 1-day and 31-day frames of ``--tags`` tags at 1 minute (the
median of ``--reps`` warm runs, after one run that stores the suite), the tag profile alone, and
``build_data_docs`` once 100 validation results are stored (then with nothing new).

Usage::

    .venv/bin/python benchmarks/bench_validate.py                 # 1 million readings, 20 tags
    .venv/bin/python benchmarks/bench_validate.py --rows 10500000 --no-gx   # a year of 20 tags
    .venv/bin/python benchmarks/bench_validate.py --gx-cost --reps 7
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from thermaliq.quality import align, cleaning  # noqa: E402
from thermaliq.config import parse_facility  # noqa: E402

TZ = "America/Chicago"


def facility(tags: int):
    """A boiler with ``tags`` tags: gas flows (rate), gas counters, hot-water flow + temperature."""
    streams, count, i = [], 0, 0
    while count < tags:
        if i % 4 == 3 and tags - count >= 2:
            streams.append({"id": f"heat{i}", "role": "output", "carrier": "hot_water",
                            "flow": {"tag": f"FH-{i:03d}", "unit": "t/h", "range": [0, 100]},
                            "supply_temperature": {"tag": f"TT-{i:03d}", "unit": "degC",
                                                   "range": [0, 200]},
                            "return_temperature": {"value": 60, "unit": "degC"}})
            count += 2
        elif i % 4 == 2:
            streams.append({"id": f"s{i}", "role": "input", "carrier": "natural_gas",
                            "counter": {"tag": f"FQ-{i:03d}", "unit": "m3", "range": [0, 1e7]}})
            count += 1
        else:
            streams.append({"id": f"s{i}", "role": "input", "carrier": "natural_gas",
                            "flow": {"tag": f"FT-{i:03d}", "unit": "m3/h", "range": [0, 2500]}})
            count += 1
        i += 1
    if not any(s["role"] == "output" for s in streams):
        streams[-1]["role"] = "output"
        streams[-1]["carrier"] = "heat"
        streams[-1]["flow"] = {"tag": streams[-1]["flow"]["tag"], "unit": "kW",
                               "range": [0, 2500]}
    return parse_facility({"facility_id": "BENCH", "name": "bench", "type": "steam_boiler",
                           "timezone": TZ, "source": {"kind": "files", "path": "inbox/*.csv"},
                           "streams": streams})


def generate(fac, rows: int, seed: int = 11) -> pd.DataFrame:
    """Raw readings with faults; about ``rows`` rows."""
    rng = np.random.default_rng(seed)
    specs = fac.tag_specs()
    minutes = rows // len(specs)
    start = pd.Timestamp("2024-03-01", tz=TZ).tz_convert("UTC")
    ts = pd.date_range(start, periods=minutes, freq="1min")
    m = np.arange(minutes, dtype="float64")
    frames = []
    for k, (tag, spec) in enumerate(specs.items()):
        if spec.kind == "counter":
            v = 1000 + np.cumsum(rng.uniform(8, 12, minutes))
            v[minutes // 2:] -= v[minutes // 2] - 3.0                   # reset to ~0
        elif spec.unit == "degC":
            v = 90 + 5 * np.sin(m / 300 + k) + rng.normal(0, 0.2, minutes)
        else:
            hi = spec.range[1]
            v = 0.4 * hi + 0.1 * hi * np.sin(m / 500 + k) + rng.normal(0, 0.002 * hi, minutes)
            v[minutes // 3] = 0.95 * hi                                  # an outlier in range
        keep = np.ones(minutes, dtype=bool)
        keep[600:610] = False                                            # 10-minute hole
        keep[2000:2180] = False                                          # 3-hour hole
        frames.append(pd.DataFrame({"tag": tag, "ts": ts[keep], "value": v[keep]}))
    raw = pd.concat(frames, ignore_index=True)
    n = len(raw)
    dup = raw.sample(n=n // 1000, random_state=1)
    conflict = raw.sample(n=n // 2000, random_state=2).assign(value=lambda d: d["value"] * 1.01)
    raw = pd.concat([raw, dup, conflict], ignore_index=True)
    spikes = rng.choice(len(raw), n // 2000, replace=False)
    raw.loc[spikes, "value"] = 1e9
    raw["unit"], raw["quality"], raw["source"] = None, None, "bench.csv"
    raw["row"] = np.arange(1, len(raw) + 1)
    return raw.sample(frac=1.0, random_state=3).reset_index(drop=True)   # row order means nothing


def timed(label: str, fn, rows: int):
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    print(f"{label:<44s} {dt:8.2f} s   {dt / rows * 1e6:8.2f} s per million readings")
    return out


def day_bounds(readings: pd.DataFrame):
    local = readings["ts"].dt.tz_convert(TZ)
    first = local.min().normalize()
    last = local.max().normalize()       # the last, possibly partial, local day is left out
    return first.tz_convert("UTC"), last.tz_convert("UTC")


def clean_frame(fac, days: int, seed: int = 5) -> pd.DataFrame:
    """Clean 1-minute readings of every tag of ``fac`` over ``days`` local days (no faults)."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    ts = pd.date_range(pd.Timestamp("2024-03-04", tz=TZ).tz_convert("UTC"), periods=n, freq="1min")
    frames = []
    for tag, spec in fac.tag_specs().items():
        if spec.kind == "counter":
            v = 1000 + np.cumsum(rng.uniform(8, 12, n))
        elif spec.unit == "degC":
            v = 90 + rng.normal(0, 0.2, n)
        else:
            v = 0.4 * spec.range[1] + rng.normal(0, 1, n)
        frames.append(pd.DataFrame({"tag": tag, "ts": ts, "value": v}))
    return pd.concat(frames, ignore_index=True)


def gx_cost(fac, reps: int, gx_dir: Path) -> None:
    """Median wall and CPU seconds of GX per facility-window, and of Data Docs per flow run."""
    from tasks.gx import validate as gx_validate

    def median_of(fn, n):
        wall, cpu = [], []
        for i in range(n):
            w, c = time.perf_counter(), time.process_time()
            fn(i)
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        return statistics.median(wall), statistics.median(cpu)

    timed("GX import + context", lambda: gx_validate.gx_context(gx_dir), 1)
    for days in (1, 31):
        frame = clean_frame(fac, days)
        first = gx_validate.validate_readings(frame, fac, gx_dir, f"BENCH-first-{days}d")
        assert first["success"], first
        w, c = median_of(lambda i: gx_validate.validate_readings(
            frame, fac, gx_dir, f"BENCH-{days}d-{i}"), reps)
        print(f"validate_readings {days:2d} day(s), {len(frame):7d} readings: "
              f"median {w:.3f} s wall, {c:.3f} s CPU ({reps} runs)")
        if hasattr(gx_validate, "profile"):
            w, c = median_of(lambda i: gx_validate.profile(frame, fac), reps)
            print(f"  of which the tag profile (numpy): {w:.3f} s wall, {c:.3f} s CPU")
    if hasattr(gx_validate, "build_data_docs"):
        frame = clean_frame(fac, 1)
        stored = len(list((gx_dir / "uncommitted" / "validations").rglob("*.json")))
        for i in range(max(0, 100 - stored)):
            gx_validate.validate_readings(frame, fac, gx_dir, f"FILL{i % 10}-2024-03-04-2024-03-04-{i:08d}")
        stored = len(list((gx_dir / "uncommitted" / "validations").rglob("*.json")))
        timed(f"build_data_docs, {stored} results, none rendered", lambda: gx_validate.build_data_docs(gx_dir), 1)
        gx_validate.validate_readings(frame, fac, gx_dir, "BENCH-2024-03-05-2024-03-05-newone01")
        timed(f"build_data_docs, {stored + 1} results, 1 new", lambda: gx_validate.build_data_docs(gx_dir), 1)
        timed("build_data_docs, nothing new", lambda: gx_validate.build_data_docs(gx_dir), 1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--tags", type=int, default=20)
    ap.add_argument("--no-gx", action="store_true", help="skip the Great Expectations part")
    ap.add_argument("--gx-dir", type=Path, default=None)
    ap.add_argument("--gx-cost", action="store_true",
                    help="measure GX per facility-window (1 and 31 days) and Data Docs per run")
    ap.add_argument("--reps", type=int, default=5, help="warm runs per --gx-cost median")
    args = ap.parse_args(argv)
    fac = facility(args.tags)
    if args.gx_cost:
        gx_cost(fac, args.reps, args.gx_dir or Path(tempfile.mkdtemp(prefix="thermaliq_bench_")) / "gx")
        return
    raw = generate(fac, args.rows)
    n = len(raw)
    print(f"{n} raw readings, {len(fac.tag_specs())} tags, 1-minute data")
    clean = timed("clean_readings", lambda: cleaning.clean_readings(raw, fac), n)
    print(f"  kept {len(clean.readings)}, rejected {len(clean.rejects)}, counts:\n"
          f"  {clean.counts.sum().to_dict()}")
    start, end = day_bounds(clean.readings)
    al = timed("align_window", lambda: align.align_window(
        clean.readings, fac, start, end,
        rejected_counts=clean.counts.drop(columns="duplicates").sum(axis=1)), n)
    print(f"  {len(al.values)} intervals, valid share {al.valid.mean():.4f}, "
          f"{len(al.events)} events")
    if not args.no_gx:
        from tasks.gx import validate as gx_validate
        gx_dir = args.gx_dir or Path(tempfile.mkdtemp(prefix="thermaliq_bench_")) / "gx"
        timed("GX import + context", lambda: gx_validate.gx_context(gx_dir), n)
        day = clean.readings[clean.readings["ts"] < start + pd.Timedelta("1D")]
        timed(f"GX one facility-day ({len(day)} readings)",
              lambda: gx_validate.validate_readings(day, fac, gx_dir, "bench-day"), len(day))
        out = timed("GX all readings in one run",
                    lambda: gx_validate.validate_readings(clean.readings, fac, gx_dir, "bench"), n)
        failed = [r["expectation"] + (f" {r['tag']}" if r["tag"] else "")
                  for r in out["results"] if not r["success"]]
        print(f"  success {out['success']}; failed: {failed}; docs: {out['data_docs_path']}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()

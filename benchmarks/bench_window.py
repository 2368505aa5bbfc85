"""Calculate + store of one facility window, without Prefect: timings and a results fingerprint.

Two homes under ``ROOT``: ``bench`` (the synthetic 20-tag boiler of :mod:`benchmarks.generate`,
31 local days) and ``demo`` (the demo facilities with their faults: gaps, a spike, a frozen meter,
a counter reset, rejected rows, a DST day; plus a copy of the heater with long-gap estimates and
the z-score rule), both ingested once by ``prepare``.

Usage::

    .venv/bin/python -m benchmarks.bench_window prepare ROOT
    .venv/bin/python -m benchmarks.bench_window time ROOT [--repeat 7]
    .venv/bin/python -m benchmarks.bench_window snapshot ROOT OUT.pkl
    .venv/bin/python -m benchmarks.bench_window compare A.pkl B.pkl

``time`` prints the median wall-clock seconds of ``calculate_window`` and ``store_window`` for a
1-day window into a month holding 14 calculated days and a 31-day window into an empty lake
(the lake's results are reset before every repetition, so each store writes).
``snapshot`` runs a fixed sequence of windows (first writes, recalculations, unchanged reruns),
pickles every WindowResult and every stored result file's rows; ``compare`` checks two snapshots
are identical (floats to 1e-12 relative; write sequence numbers and file names excepted).
"""
from __future__ import annotations

import argparse
import pickle
import shutil
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml

from benchmarks import generate
from thermaliq.pipeline import calculate, ingest, results
from thermaliq.config import load_facility
from thermaliq.physics import water
from thermaliq.store import lake
from thermaliq.demo.build import make_demo_home
from thermaliq.home import Home

#: Every result dataset of the lake, then the write sequence and pending writes (reset too: a
#: repeat that left a dataset's files behind would time a store into a fuller month).
RESULT_DATASETS = lake.RESULT_DATASETS
RESULT_DIRS = RESULT_DATASETS + ("_seq", "_pending")
NOW = pd.Timestamp("2026-01-01T00:00:00Z")
BENCH_FIRST = date(2025, 1, 1)
DEMO_END = date(2024, 3, 20)          # 21 demo days include the US DST change of 2024-03-10
REL_TOL = 1e-12


def prepare(root: Path) -> None:
    """Generate and ingest both homes (once)."""
    bench = root / "bench"
    generate.generate(bench, generate.Size(1, 20, 31, BENCH_FIRST))
    demo = make_demo_home(root / "demo", end_date=DEMO_END, days=21)
    cfg = yaml.safe_load((demo.home / "facilities" / "FAC-HEATER.yaml").read_text())
    cfg["facility_id"] = "FAC-HEATER-EST"
    cfg.setdefault("thresholds", {}).update(estimate_long_gaps=True, outlier_method="zscore")
    (demo.home / "facilities" / "FAC-HEATER-EST.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    for home_dir in (bench, demo.home):
        home = Home.resolve(home_dir)
        for path in sorted(home.facilities.glob("*.yaml")):
            ingest.ingest_files(home, load_facility(path))


def _clear_results(home: Home) -> None:
    for name in RESULT_DIRS:
        shutil.rmtree(home.lake / name, ignore_errors=True)


def _facilities(home: Home):
    return [load_facility(p) for p in sorted(home.facilities.glob("*.yaml"))]


def _window_frames(result: calculate.WindowResult) -> dict:
    return {"intervals": result.intervals, "days": result.days,
            "stream_energies": result.stream_energies, "data_quality": result.data_quality,
            "alerts": result.alerts, "events": result.events, "issues": list(result.issues)}


def _run(home: Home, facility, first: date, last: date, out: dict, key: str, **store_kw) -> None:
    result = calculate.calculate_window(home, facility, first, last)
    summary = results.store_window(home, facility, result, run_id="snap", now=NOW, **store_kw)
    out[key] = {"result": _window_frames(result),
                "store": (summary.changed, summary.versions_written, summary.months_recomputed)}


def _lake_rows(home: Home) -> dict:
    """Every stored result row per dataset, in a canonical order, without write_seq."""
    out = {}
    for name in RESULT_DATASETS:
        files = sorted((home.lake / name).rglob("*.parquet"))
        frames = []
        for path in files:
            df = pd.read_parquet(path)
            df["partition"] = str(path.parent.relative_to(home.lake))
            frames.append(df)
        if not frames:
            out[name] = pd.DataFrame()
            continue
        df = pd.concat(frames, ignore_index=True)
        # order of writes, then row order within a write
        seq = df.pop("write_seq") if "write_seq" in df else pd.Series(0, index=df.index)
        df = df.assign(_seq=seq.rank(method="dense").astype("int64"),
                       _row=df.groupby(seq).cumcount())
        out[name] = df.sort_values(["_seq", "partition", "_row"], kind="mergesort") \
            .drop(columns=["_row"]).reset_index(drop=True)
    out["pending"] = sorted(str(p.relative_to(home.lake)) for p in (home.lake / "_pending").rglob("*"))
    out["schemas"] = _lake_schemas(home)
    return out


def _lake_schemas(home: Home) -> dict:
    """The Arrow schema of every stored result file (by partition and write order), so a change
    of a stored type (e.g. string vs large_string) shows even where pandas reads both alike."""
    out = {}
    for name in RESULT_DATASETS:
        for folder in sorted({p.parent for p in (home.lake / name).rglob("*.parquet")}):
            for i, path in enumerate(sorted(folder.glob("*.parquet"))):
                out[f"{folder.relative_to(home.lake)}#{i}"] = pq.read_schema(path).to_string()
    return out


def snapshot(root: Path, out_path: Path) -> None:
    snap: dict = {}
    bench = Home.resolve(root / "bench")
    _clear_results(bench)
    (fac,) = _facilities(bench)
    _run(bench, fac, date(2025, 1, 2), date(2025, 1, 2), snap, "bench-day2")
    _run(bench, fac, date(2025, 1, 3), date(2025, 1, 3), snap, "bench-day3")
    _run(bench, fac, date(2025, 1, 1), date(2025, 1, 31), snap, "bench-31d")
    _run(bench, fac, date(2025, 1, 1), date(2025, 1, 31), snap, "bench-31d-again")
    _run(bench, fac, date(2025, 1, 5), date(2025, 1, 5), snap, "bench-day5-recalc",
         reason="recalc", new_version=True)
    snap["bench-lake"] = _lake_rows(bench)
    demo = Home.resolve(root / "demo")
    _clear_results(demo)
    first = date(2024, 2, 29)
    for fac in _facilities(demo):
        fid = fac.facility_id
        for d in (date(2024, 3, 1), date(2024, 3, 10), date(2024, 3, 11)):
            _run(demo, fac, d, d, snap, f"{fid}-{d}")
        _run(demo, fac, first, DEMO_END, snap, f"{fid}-all")
        _run(demo, fac, first, DEMO_END, snap, f"{fid}-all-again")
        _run(demo, fac, date(2024, 3, 14), date(2024, 3, 16), snap, f"{fid}-recalc",
             reason="recalc", new_version=True)
    snap["demo-lake"] = _lake_rows(demo)
    with open(out_path, "wb") as fh:
        pickle.dump(snap, fh)
    print(f"wrote {out_path} ({len(snap)} entries)")


def _diff(a, b, where: str, problems: list[str], notes: list[str]) -> None:
    if isinstance(a, dict):
        if set(a) != set(b):
            problems.append(f"{where}: keys {sorted(set(a) ^ set(b))}")
        for k in a:
            if k in b:
                _diff(a[k], b[k], f"{where}/{k}", problems, notes)
    elif isinstance(a, pd.DataFrame):
        _diff_frame(a, b, where, problems, notes)
    elif a != b:
        problems.append(f"{where}: {a!r} != {b!r}")


def _timestamps(column: pd.Series) -> bool:
    """A column of tz-aware times: datetime64 with a zone, or Timestamp objects with zones."""
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return True
    return column.dtype == object and all(isinstance(v, pd.Timestamp) and v.tzinfo is not None
                                          for v in column)


def _diff_frame(a: pd.DataFrame, b: pd.DataFrame, where: str, problems: list[str],
                notes: list[str]) -> None:
    if list(a.columns) != list(b.columns) or a.shape != b.shape:
        problems.append(f"{where}: columns/shape {list(a.columns)} {a.shape} != "
                        f"{list(b.columns)} {b.shape}")
        return
    if not a.index.equals(b.index):
        problems.append(f"{where}: index differs")
    for col in a.columns:
        x, y = a[col], b[col]
        if str(x.dtype) != str(y.dtype):
            # Timestamp objects vs datetime64: a note; the values below must still be the same
            # instants (Timestamps compare equal across zones)
            same_kind = _timestamps(x) and _timestamps(y)
            (notes if same_kind else problems).append(
                f"{where}.{col}: dtype {x.dtype} != {y.dtype}")
        if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(dtype=float), y.to_numpy(dtype=float)
            same_nan = np.isnan(xv) == np.isnan(yv)
            close = np.isclose(xv, yv, rtol=REL_TOL, atol=0.0) | (np.isnan(xv) & np.isnan(yv))
            if not (same_nan.all() and close.all()):
                bad = np.flatnonzero(~close)[:3]
                problems.append(f"{where}.{col}: values differ at rows {bad.tolist()}: "
                                f"{xv[bad].tolist()} vs {yv[bad].tolist()}")
        else:
            eq = (x.astype(object).to_numpy() == y.astype(object).to_numpy()) | (x.isna() & y.isna()).to_numpy()
            if not eq.all():
                bad = np.flatnonzero(~eq)[:3]
                problems.append(f"{where}.{col}: differs at rows {bad.tolist()}: "
                                f"{x.iloc[bad].tolist()} vs {y.iloc[bad].tolist()}")


def compare(a_path: Path, b_path: Path) -> int:
    with open(a_path, "rb") as fa, open(b_path, "rb") as fb:
        a, b = pickle.load(fa), pickle.load(fb)
    problems: list[str] = []
    notes: list[str] = []
    _diff(a, b, "", problems, notes)
    if notes:
        kinds = sorted({n.split(": ", 1)[1] + " in " + n.split("/")[-1].split(":")[0]
                        for n in notes})
        print(f"{len(notes)} time columns hold the same instants in another dtype: "
              + "; ".join(kinds))
    print("\n".join(problems[:60]) if problems else "identical")
    return 1 if problems else 0


def _restore(home: Home, saved: Path | None) -> None:
    _clear_results(home)
    if saved is not None:
        for name in RESULT_DIRS:
            if (saved / name).exists():
                shutil.copytree(saved / name, home.lake / name)


def timings(root: Path, repeat: int) -> None:
    """Median calculate and store times: a 1-day window into a month that already holds 14
    calculated days (a fleet night), and a 31-day window into an empty lake (a backfill)."""
    home = Home.resolve(root / "bench")
    (fac,) = _facilities(home)
    saved = root / "bench-state"
    shutil.rmtree(saved, ignore_errors=True)
    _clear_results(home)
    results.store_window(home, fac, calculate.calculate_window(home, fac, date(2025, 1, 1),
                                                               date(2025, 1, 14)), run_id="setup")
    for name in RESULT_DIRS:
        if (home.lake / name).exists():
            shutil.copytree(home.lake / name, saved / name)
    for label, first, last, state in (("1-day", date(2025, 1, 15), date(2025, 1, 15), saved),
                                      ("31-day", date(2025, 1, 1), date(2025, 1, 31), None)):
        calc_s, store_s, cpu_s = [], [], []
        for _ in range(repeat):
            _restore(home, state)
            water.clear_cache()          # every repeat computes its states anew, as a new window does
            c0, t0 = time.process_time(), time.perf_counter()
            result = calculate.calculate_window(home, fac, first, last)
            t1 = time.perf_counter()
            results.store_window(home, fac, result, run_id="time", now=NOW)
            t2, c2 = time.perf_counter(), time.process_time()
            calc_s.append(t1 - t0)
            store_s.append(t2 - t1)
            cpu_s.append(c2 - c0)
        total = [c + s for c, s in zip(calc_s, store_s)]
        print(f"{label:>7s} window: calculate {statistics.median(calc_s):.3f} s, store "
              f"{statistics.median(store_s):.3f} s, total {statistics.median(total):.3f} s wall, "
              f"{statistics.median(cpu_s):.3f} s CPU (medians of {repeat}; "
              f"fastest {min(cpu_s):.3f} s CPU)")
    _clear_results(home)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("prepare").add_argument("root", type=Path)
    t = sub.add_parser("time")
    t.add_argument("root", type=Path)
    t.add_argument("--repeat", type=int, default=7)
    s = sub.add_parser("snapshot")
    s.add_argument("root", type=Path)
    s.add_argument("out", type=Path)
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "prepare":
        prepare(args.root)
    elif args.cmd == "time":
        timings(args.root, args.repeat)
    elif args.cmd == "snapshot":
        snapshot(args.root, args.out)
    else:
        return compare(args.a, args.b)
    return 0


if __name__ == "__main__":
    sys.exit(main())

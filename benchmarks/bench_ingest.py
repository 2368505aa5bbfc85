"""Ingest benchmark: read an N-row long readings CSV with ``read_readings_file``.

Generates (once, cached by row count) a long CSV of ``--rows`` readings: 100 tags on a 1-minute
grid with naive local timestamps (so the 2024-03-10 DST gap is crossed from 1.3 million rows on),
~0.1 % non-numeric values. Then reads it and prints wall-clock rows/s, CPU time (less sensitive
to other load on the machine) and the process's peak resident memory (``resource.getrusage``;
the file is generated in a child process so that it does not count).

Usage::

    .venv/bin/python benchmarks/bench_ingest.py --rows 2000000
    .venv/bin/python benchmarks/bench_ingest.py            # 10 million rows
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from thermaliq.readers import read_readings_file  # noqa: E402

TAGS = 100
CHUNK = 1_000_000


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` long-format readings to ``path`` in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-03-01T00:00:00")
    tags = np.array([f"TT-{i:03d}" for i in range(TAGS)])
    tmp = path.with_suffix(".part")
    with pcsv.CSVWriter(str(tmp), pa.schema([("timestamp", pa.string()), ("tag", pa.string()),
                                            ("value", pa.string())])) as w:
        for lo in range(0, rows, CHUNK):
            i = np.arange(lo, min(rows, lo + CHUNK))
            ts = (start + (i // TAGS).astype("timedelta64[m]")).astype(str)
            values = np.round(rng.normal(100, 10, len(i)), 3).astype(str)
            values[rng.random(len(i)) < 0.001] = "n/a"
            w.write_table(pa.table({"timestamp": ts, "tag": tags[i % TAGS], "value": values}))
    tmp.rename(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--tz", default="America/Chicago")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    path = args.dir / f"thermaliq_bench_{args.rows}.csv"
    if args.generate_only:
        generate(path, args.rows)
        return
    if not path.exists():  # in a child process, so that its memory is not in our peak RSS
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--dir", str(args.dir),
                        "--generate-only"], check=True)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = read_readings_file(path, tz=args.tz, format="long")
    dt = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    rss0, rss = u0.ru_maxrss, u1.ru_maxrss
    cpu = (u1.ru_utime + u1.ru_stime) - (u0.ru_utime + u0.ru_stime)
    n = len(result.readings) + len(result.rejects)
    print(f"rows={n} readings={len(result.readings)} rejects={len(result.rejects)} "
          f"wall={dt:.2f} s rate={n / dt:,.0f} rows/s; cpu={cpu:.2f} s ({n / cpu:,.0f} rows/cpu-s; "
          "wall rate depends on machine load)")
    print(f"peak RSS={rss / 1024:.0f} MiB (before read {rss0 / 1024:.0f} MiB); "
          f"result frame {result.readings.memory_usage(deep=True).sum() / 2**20:.0f} MiB")
    for note in result.notes:
        print("note:", note)


if __name__ == "__main__":
    main()

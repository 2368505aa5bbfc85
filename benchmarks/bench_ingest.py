"""Ingest benchmark: one N-row long readings CSV, read only or ingested into a lake.

Generates (once, cached by row count) a long CSV of ``--rows`` readings: the 100 tags of the
synthetic steam plant of :mod:`benchmarks.generate` on a 1-minute grid with naive local
timestamps (so the 2024-03-10 DST gap is crossed from 1.3 million rows on), values inside each
tag's configured range, ~0.1 % non-numeric values. Then, in this process:

* ``--mode read``: ``readers.read_readings_file`` (the whole file as one frame);
* ``--mode ingest`` (default): ``ingest.ingest_files`` into a fresh temporary home (file
  hard-linked into its inbox), i.e. read, clean, merge into day partitions, quarantine, ledger;
* ``--mode days``: the backfill case of issue #7 instead: ``--days`` daily long CSV files of
  one facility from :mod:`benchmarks.generate` (20 tags x 1440 minutes, UTC ``Z`` instants),
  ingested one call per file (each call finds one new file), printing the median CPU time per
  day-file, then all of them again into an empty lake in one call (CPU per file); with
  ``--processes N`` (N > 1) also a third time, split over N worker processes
  (:mod:`thermaliq.pipeline.ingest_many`, as the ingest task does), printing wall and CPU time of
  this process plus the workers', and whether the lake equals the one-call serial lake.

It prints wall-clock rows/s, CPU time (less sensitive to other load on the machine) and the
process's peak resident memory (``resource.getrusage``; the file is generated in a child process
so that it does not count).

Usage::

    .venv/bin/python benchmarks/bench_ingest.py --rows 2000000
    .venv/bin/python benchmarks/bench_ingest.py            # 10 million rows, ingest
    .venv/bin/python benchmarks/bench_ingest.py --mode read
    .venv/bin/python benchmarks/bench_ingest.py --mode days --days 60
    .venv/bin/python benchmarks/bench_ingest.py --mode days --days 365 --processes 2
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.generate import facility_config  # noqa: E402

TAGS = 100
CHUNK = 1_000_000
FACILITY = "BENCH-BIG"
TIMEZONE = "America/Chicago"


def _config() -> dict:
    config = facility_config(FACILITY, TAGS, "csv")
    config["timezone"] = TIMEZONE
    config["source"]["path"] = f"inbox/{FACILITY}/*.csv"
    return config


def _ranges(config: dict) -> dict[str, list[float]]:
    """Configured range of every tag [tag unit], in tag order of the configuration."""
    return {m["tag"]: m["range"] for s in config["streams"] for m in s.values()
            if isinstance(m, dict) and "tag" in m}


def generate(path: Path, rows: int, seed: int = 7) -> None:
    """Write ``rows`` long-format readings to ``path`` in chunks (bounded memory)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-03-01T00:00:00")
    ranges = _ranges(_config())
    tags = np.array(list(ranges))
    lo = np.array([r[0] for r in ranges.values()], dtype=float)
    span = np.array([r[1] - r[0] for r in ranges.values()], dtype=float)
    tmp = path.with_suffix(".part")
    with pcsv.CSVWriter(str(tmp), pa.schema([("timestamp", pa.string()), ("tag", pa.string()),
                                            ("value", pa.string())])) as w:
        for first in range(0, rows, CHUNK):
            i = np.arange(first, min(rows, first + CHUNK))
            k = i % len(tags)
            ts = (start + (i // len(tags)).astype("timedelta64[m]")).astype(str)
            share = np.clip(rng.normal(0.5, 0.1, len(i)), 0.05, 0.95)
            values = np.round(lo[k] + span[k] * share, 3).astype(str)
            values[rng.random(len(i)) < 0.001] = "n/a"
            w.write_table(pa.table({"timestamp": ts, "tag": tags[k], "value": values}))
    tmp.rename(path)


def _read(path: Path, tz: str) -> tuple[int, int, list[str]]:
    from thermaliq.sources.readers import read_readings_file

    result = read_readings_file(path, tz=tz, format="long")
    return len(result.readings), len(result.rejects), result.notes


def _ingest(path: Path, workdir: Path) -> tuple[int, int, list[str]]:
    from thermaliq.pipeline import ingest
    from thermaliq.config import load_facility
    from thermaliq.home import Home

    root = workdir / "home"
    shutil.rmtree(root, ignore_errors=True)
    (root / "facilities").mkdir(parents=True)
    (root / "inbox" / FACILITY).mkdir(parents=True)
    (root / "facilities" / f"{FACILITY}.yaml").write_text(yaml.safe_dump(_config(), sort_keys=False))
    target = root / "inbox" / FACILITY / path.name
    try:
        os.link(path, target)
    except OSError:              # another file system: copy
        shutil.copyfile(path, target)
    home = Home.resolve(root)
    facility = load_facility(home.facilities / f"{FACILITY}.yaml")
    summary = ingest.ingest_files(home, facility)
    return summary.readings_read, summary.rejected, summary.notes


def bench_days(days: int, workdir: Path, processes: int = 1) -> None:
    """Median CPU per day-file over ``days`` generated daily files, and the one-call backfill."""
    from thermaliq.pipeline import ingest
    from thermaliq.config import load_facility
    from thermaliq.home import Home

    gen = workdir / "generated"
    subprocess.run([sys.executable, "-m", "benchmarks.generate", "--home", str(gen), "--facilities",
                    "1", "--tags", "20", "--days", str(days)], check=True, capture_output=True,
                   cwd=Path(__file__).resolve().parents[1])
    (yaml_file,) = (gen / "facilities").glob("*.yaml")
    files = sorted((gen / "inbox" / yaml_file.stem).glob("*.csv"))
    root = workdir / "home"
    (root / "facilities").mkdir(parents=True)
    shutil.copyfile(yaml_file, root / "facilities" / yaml_file.name)
    inbox = root / "inbox" / yaml_file.stem
    inbox.mkdir(parents=True)
    home = Home.resolve(root)
    facility = load_facility(home.facilities / yaml_file.name)
    cpu = []
    for path in files:
        os.link(path, inbox / path.name)
        t0 = time.process_time()
        ingest.ingest_files(home, facility)
        cpu.append(time.process_time() - t0)
    shutil.rmtree(home.lake)
    now = pd.Timestamp.now(tz="UTC")
    t0, w0 = time.process_time(), time.perf_counter()
    summary = ingest.ingest_files(home, facility, now=now)
    total, wall = time.process_time() - t0, time.perf_counter() - w0
    print(f"mode=days files={len(files)} readings={summary.readings_read} "
          f"rejected={summary.rejected}: one call per new file: median CPU "
          f"{np.median(cpu[1:]) * 1e3:.1f} ms per day-file (first {cpu[0] * 1e3:.0f} ms, "
          f"includes hashing the files already in the ledger); all files in one call: CPU "
          f"{total:.2f} s = {total / len(files) * 1e3:.1f} ms per day-file, wall {wall:.2f} s")
    if processes > 1:
        _bench_days_split(home, facility, processes, now, len(files))


def _warm_worker(seconds: float) -> int:
    """Job: import the ingest's modules, pause (so that every worker gets one such job) and
    return this worker's process id."""
    import thermaliq.pipeline.ingest_many  # noqa: F401
    import thermaliq.pipeline.jobs  # noqa: F401
    import thermaliq.sources.readers  # noqa: F401

    time.sleep(seconds)
    return os.getpid()


def _process_cpu_s(pid: int) -> float:
    """User + system CPU time [s] of a live process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bench_days_split(home, facility, processes: int, now, files: int) -> None:
    """The one-call backfill again, split over ``processes`` workers (started beforehand)."""
    from concurrent.futures import ThreadPoolExecutor

    from tasks.pool import shutdown, worker_pool
    from thermaliq.pipeline import ingest_many
    from thermaliq.settings import load_settings

    serial = {str(p.relative_to(home.lake)): p.read_bytes()
              for p in sorted((home.lake / "readings").rglob("*.parquet"))}
    shutil.rmtree(home.lake)
    pool = worker_pool(load_settings(processes=processes))
    with ThreadPoolExecutor(processes) as threads:   # start the workers, imports done
        pids = set(threads.map(lambda _: pool.submit(_warm_worker, 1.0).result(), range(processes)))
    before = {pid: _process_cpu_s(pid) for pid in pids}
    t0, w0 = time.process_time(), time.perf_counter()
    out = ingest_many.ingest_files_parallel(str(home.root), facility, executor=pool,
                                            processes=processes, now=now)
    wall, here = time.perf_counter() - w0, time.process_time() - t0
    there = sum(_process_cpu_s(pid) - before[pid] for pid in pids)
    shutdown()
    split = {str(p.relative_to(home.lake)): p.read_bytes()
             for p in sorted((home.lake / "readings").rglob("*.parquet"))}
    print(f"split over {processes} worker processes ({len(pids)} used): wall {wall:.2f} s, CPU "
          f"{here:.2f} s here + {there:.2f} s in workers = {(here + there) / files * 1e3:.1f} ms "
          f"per day-file; {out.readings_stored} readings stored; readings partitions "
          f"{'byte-identical to' if split == serial else 'DIFFERENT from'} the serial call's")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--mode", choices=["ingest", "read", "days"], default="ingest")
    ap.add_argument("--days", type=int, default=60, help="daily files of --mode days")
    ap.add_argument("--processes", type=int, default=1,
                    help="--mode days: also ingest all files split over this many workers")
    ap.add_argument("--generate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.mode == "days":
        with tempfile.TemporaryDirectory(dir=args.dir, prefix="thermaliq_bench_days_") as work:
            bench_days(args.days, Path(work), args.processes)
        return
    path = args.dir / f"thermaliq_bench_plant_{args.rows}.csv"
    if args.generate_only:
        generate(path, args.rows)
        return
    if not path.exists():  # in a child process, so that its memory is not in our peak RSS
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--dir", str(args.dir),
                        "--generate-only"], check=True)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.1f} s")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="thermaliq_bench_home_") as work:
        u0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        if args.mode == "read":
            readings, rejects, notes = _read(path, TIMEZONE)
        else:
            readings, rejects, notes = _ingest(path, Path(work))
        dt = time.perf_counter() - t0
        u1 = resource.getrusage(resource.RUSAGE_SELF)
    rss0, rss = u0.ru_maxrss, u1.ru_maxrss
    cpu = (u1.ru_utime + u1.ru_stime) - (u0.ru_utime + u0.ru_stime)
    n = args.rows
    print(f"mode={args.mode} rows={n} readings={readings} rejects={rejects} wall={dt:.2f} s "
          f"rate={n / dt:,.0f} rows/s; cpu={cpu:.2f} s ({n / cpu:,.0f} rows/cpu-s; "
          "wall rate depends on machine load)")
    print(f"peak RSS={rss / 1024:.0f} MiB (before {rss0 / 1024:.0f} MiB)")
    for note in notes:
        print("note:", note[:300])


if __name__ == "__main__":
    main()

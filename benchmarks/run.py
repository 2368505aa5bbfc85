"""Benchmark: thermaliq end to end against a bare DuckDB reference, on the same synthetic files.

One command generates (or reuses) a synthetic plant (:mod:`benchmarks.generate`) and runs, each
in its own subprocess so that each peak RSS is its own:

(a) **reference** — DuckDB alone reads the raw files once and computes the daily average of every
    tag per facility and local day: the floor for any pipeline that reads the data once;
(b) **thermaliq** — the real flow end to end (ingest → clean → lake → GX validation → align →
    energies → results → catalog → reports → metrics) in Prefect's ephemeral mode: the nightly
    flow for a one-day workload, the backfill flow otherwise.

It prints wall time, readings per second, peak RSS and the ratio (b)/(a), and writes them as
JSON to ``benchmarks/results/<workload>-<UTC timestamp>.json``. The thermaliq wall time is the
flow call alone; Prefect's start-up (ephemeral API server, first flow) is timed separately as
``startup_s`` because it is paid once per process, not per run.

Usage::

    .venv/bin/python -m benchmarks.run plant-year            # 1 × 20 tags × 365 days
    .venv/bin/python -m benchmarks.run fleet-night           # 100 × 20 tags × 1 day
    .venv/bin/python -m benchmarks.run --facilities 3 --tags 20 --days 7 --format parquet
    .venv/bin/python -m benchmarks.run plant-year --profile  # + cProfile of the flow (all threads)
    .venv/bin/python -m benchmarks.run plant-year --s3       # the lake on moto's S3 server (127.0.0.1)

The workloads of :mod:`benchmarks.as_user` (``plant-year-file``, ``plant-year-file-local``,
``wide-year``, ``fleet-night-100``, ``fleet-night-1000``, ``home-day``) are timed as users run
them instead: the ``thermaliq`` command line as a subprocess, Prefect's start-up included, median
of ``--repeat`` runs (3), each against the DuckDB reference of the same repeat::

    .venv/bin/python -m benchmarks.run plant-year-file --dir /tmp/bench
    .venv/bin/python -m benchmarks.run --table benchmarks/results/*.json    # README table rows
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import date, datetime, timezone
from pathlib import Path

from benchmarks.as_user import USER_WORKLOADS, print_result, reset_state, run_user_workload, table_rows
from benchmarks.generate import Size, generate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORKLOADS = {
    "fleet-night": Size(facilities=100, tags=20, days=1, start=date(2025, 6, 15)),
    "plant-year": Size(facilities=1, tags=20, days=365, start=date(2025, 1, 1)),
}


def cpu_s() -> float:
    """CPU time (user + system) of this process and its ended child processes (the worker
    processes, once shut down) so far [s]; less sensitive than wall time to other load on a
    shared machine (threads and processes add up, so it can exceed wall time)."""
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def self_cpu_s() -> float:
    """CPU time of this process alone (the flow process: Prefect, Great Expectations, reports) [s]."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def worker_peak_rss_mb() -> float:
    """Largest peak RSS of an ended child process (a worker) [MB]; 0 without children."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) [MB]."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- (a) reference
def reference(home: Path, manifest: dict) -> dict:
    """Daily average per facility, tag and local day straight from the raw files with DuckDB."""
    import duckdb

    pattern = str(home / "inbox" / "*" / f"*.{manifest['format']}")
    if manifest["format"] == "parquet":
        scan = f"read_parquet('{pattern}', filename = true)"
        ts = "timestamp"
    else:
        scan = (f"read_csv('{pattern}', filename = true, header = true, "
                "columns = {'timestamp': 'VARCHAR', 'tag': 'VARCHAR', 'value': 'DOUBLE'})")
        ts = "CAST(timestamp AS TIMESTAMPTZ)"
    con = duckdb.connect()
    cpu0, started = cpu_s(), time.perf_counter()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"""CREATE TEMP TABLE daily AS
        SELECT split_part(filename, '/', -2) AS facility_id, tag,
               CAST(timezone('{manifest['timezone']}', {ts}) AS DATE) AS day,
               avg(value) AS mean, count(*) AS n
        FROM {scan} GROUP BY ALL""")
    groups, readings = con.execute("SELECT count(*), sum(n) FROM daily").fetchone()
    wall, cpu = time.perf_counter() - started, cpu_s() - cpu0
    con.close()
    return {"wall_s": wall, "cpu_s": cpu, "readings": int(readings), "groups": int(groups),
            "readings_per_s": readings / wall, "peak_rss_mb": peak_rss_mb()}


# ----------------------------------------------------------------------------- (b) thermaliq
def thermaliq_run(home: Path, manifest: dict, profile: Path | None = None) -> dict:
    """Run the nightly (one day) or backfill flow over the manifest's dates; time and check it."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    import flows  # noqa: F401 - quietens Prefect's ephemeral server
    from prefect import flow

    from flows.backfill import backfill
    from flows.nightly import nightly
    from tasks import pool
    from thermaliq.settings import load_settings

    started = time.perf_counter()

    @flow(name="benchmark-warmup")
    def warmup() -> int:
        return 1

    warmup()                               # starts the ephemeral API: paid once per process
    startup = time.perf_counter() - started
    profiler = _start_profiler() if profile else None
    cpu0, self0, started = cpu_s(), self_cpu_s(), time.perf_counter()
    if manifest["days"] == 1:
        state = nightly(date=manifest["first"], home=str(home), return_state=True)
        flow_name = "nightly"
    else:
        state = backfill(start=manifest["first"], end=manifest["last"], home=str(home),
                         return_state=True)
        flow_name = "backfill"
    pool.shutdown()                        # reap the worker processes: their CPU and RSS count
    _stop_fork_server()
    wall, cpu, flow_cpu = time.perf_counter() - started, cpu_s() - cpu0, self_cpu_s() - self0
    if profiler is not None:
        _stop_profiler(profiler, profile)
    out = {"flow": flow_name, "wall_s": wall, "cpu_s": cpu, "flow_process_cpu_s": flow_cpu,
           "startup_s": startup,
           "readings_per_s": manifest["readings"] / wall, "peak_rss_mb": peak_rss_mb(),
           "worker_peak_rss_mb": worker_peak_rss_mb(), "processes": load_settings().processes,
           "completed": state.is_completed(), "message": None if state.is_completed() else state.message}
    out.update(_check(home))
    return out


def _stop_fork_server() -> None:
    """End the fork server that started the workers (``tasks/pool/workers.py``): it reaps the
    workers, so their CPU time and peak RSS reach this process's children counters only once the
    server itself has ended and been reaped. (A private API of multiprocessing, used here only.)"""
    from multiprocessing import forkserver

    forkserver._forkserver._stop()  # noqa: SLF001


def _check(home: Path) -> dict:
    """What the run stored: readings, days, mean day efficiency, alerts (a sanity check)."""
    from thermaliq.store import catalog
    from thermaliq.home import Home

    con = catalog.memory_connection(Home.resolve(home))
    stored = con.execute("SELECT count(*) FROM readings").fetchone()[0]
    days, eff = con.execute("SELECT count(*), avg(efficiency_percent) FROM calculations "
                            "WHERE is_current AND granularity = 'day'").fetchone()
    alerts = con.execute("SELECT count(*) FROM alerts").fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    return {"readings_stored": int(stored), "days_calculated": int(days), "alerts": int(alerts),
            "quarantined": int(quarantined), "mean_day_efficiency_percent": eff}


def _start_profiler():
    """cProfile in this thread and in every thread started from now on (Prefect's task threads)."""
    import cProfile
    import threading

    profiles = [cProfile.Profile()]

    def per_thread(*_):
        p = cProfile.Profile()
        profiles.append(p)
        p.enable()

    threading.setprofile(per_thread)
    profiles[0].enable()
    return profiles


def _stop_profiler(profiles, path: Path) -> None:
    import pstats
    import threading

    threading.setprofile(None)
    profiles[0].disable()
    stats = pstats.Stats(profiles[0])
    for p in profiles[1:]:
        stats.add(p)
    stats.dump_stats(str(path))


# ----------------------------------------------------------------------------- driver
def _child(kind: str, home: Path, profile: Path | None, lake_url: str | None = None) -> dict:
    """Run one side in a fresh interpreter and return its JSON (each has its own peak RSS)."""
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", kind, "--dir", str(home)]
    if profile:
        cmd += ["--profile-out", str(profile)]
    env = {**os.environ, "PREFECT_HOME": str(home / ".prefect"), "THERMALIQ_HOME": str(home)}
    if lake_url:
        env["THERMALIQ_LAKE_URL"] = lake_url
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} run failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_wall_s"] = time.perf_counter() - started
    return out


@contextmanager
def s3_lake():
    """An S3-compatible server (moto, on a free 127.0.0.1 port) with a new bucket; yields the lake
    URL and puts the standard AWS variables into this process's environment (the thermaliq child
    inherits them). One writing host, so ``THERMALIQ_LAKE_LOCK=none`` (no Prefect lease)."""
    import logging

    from tests.s3server import aws_env, moto_s3, new_bucket

    logging.getLogger("werkzeug").setLevel(logging.ERROR)     # moto's request log
    with moto_s3() as endpoint:
        saved = dict(os.environ)
        os.environ.update(aws_env(endpoint), THERMALIQ_LAKE_LOCK="none")
        try:
            yield f"s3://{new_bucket(endpoint)}/lake"
        finally:
            os.environ.clear()
            os.environ.update(saved)


def run_workload(name: str, size: Size, data_dir: Path, *, results_dir: Path = RESULTS,
                 isolate: bool = True, profile: bool = False, lake_url: str | None = None) -> dict:
    """Generate (or reuse) ``size`` under ``data_dir``, run reference and thermaliq, write JSON.

    ``isolate=False`` runs both sides in this process (tests); peak RSS is then the process's.
    ``lake_url``: thermaliq's lake at that URL (``THERMALIQ_LAKE_URL``), the reference reads the
    same local files.
    """
    home = Path(data_dir).resolve() / size.key()
    t0 = time.perf_counter()
    manifest = generate(home, size)
    generated_s = time.perf_counter() - t0
    reset_state(home, prefect=True)
    load_before = os.getloadavg()    # other work on the machine inflates wall times
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    results_dir.mkdir(parents=True, exist_ok=True)
    prof = results_dir / f"{name}-{stamp}.prof" if profile else None
    if isolate:
        ref = _child("reference", home, None)
        tiq = _child("thermaliq", home, prof, lake_url)
    else:
        ref = reference(home, manifest)
        tiq = thermaliq_run(home, manifest, prof)
    result = {
        "workload": name, "created_at": stamp, "size": {**asdict(size), "start": size.start.isoformat()},
        "readings": manifest["readings"], "data_dir": str(home), "generate_s": generated_s,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in load_before],
                    "platform": platform.platform(), "commit": _commit()},
        "settings": {k: os.environ.get(k) for k in ("THERMALIQ_WINDOW_DAYS", "THERMALIQ_MAX_WORKERS")},
        "lake": lake_url or "local disk",
        "reference": ref, "thermaliq": tiq,
        "ratio": tiq["wall_s"] / ref["wall_s"],
    }
    path = results_dir / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    result["json"] = str(path)
    return result


def _commit() -> str | None:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() or None


def _print(result: dict) -> None:
    ref, tiq = result["reference"], result["thermaliq"]
    print(f"{result['workload']}: {result['readings']:,} readings "
          f"({result['size']['facilities']} facilities × {result['size']['tags']} tags × "
          f"{result['size']['days']} days, {result['size']['format']})")
    print(f"{'':12} {'wall s':>9} {'CPU s':>9} {'readings/s':>12} {'peak RSS MB':>12}")
    for label, r in (("reference", ref), ("thermaliq", tiq)):
        print(f"{label:12} {r['wall_s']:9.2f} {r['cpu_s']:9.2f} {r['readings_per_s']:12,.0f} "
              f"{r['peak_rss_mb']:12.0f}")
    print(f"ratio thermaliq/reference: {result['ratio']:.1f}x   (Prefect start-up {tiq['startup_s']:.1f} s "
          f"not included; flow {'completed' if tiq['completed'] else 'FAILED: ' + str(tiq['message'])})")
    print(f"stored {tiq['readings_stored']:,} readings, {tiq['days_calculated']} facility-days, mean day "
          f"efficiency {tiq['mean_day_efficiency_percent'] or float('nan'):.2f} %, {tiq['alerts']} alerts, "
          f"{tiq['quarantined']} quarantined")
    if tiq.get("processes", 1) > 1:
        print(f"{tiq['processes']} worker processes: largest peak RSS {tiq['worker_peak_rss_mb']:.0f} MB "
              "(thermaliq's peak RSS above is the flow process)")
    print(f"load average at start: {result['machine']['load_average']}")
    print(f"json: {result['json']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", nargs="?", choices=sorted(WORKLOADS) + sorted(USER_WORKLOADS),
                    help="a standard workload")
    ap.add_argument("--repeat", type=int, default=3, help="runs of a command-line workload (median)")
    ap.add_argument("--fresh-prefect", action="store_true",
                    help="command-line workloads: a new Prefect database every repeat (an installation's first run)")
    ap.add_argument("--table", nargs="+", type=Path, help="print README rows of these result files")
    ap.add_argument("--facilities", type=int)
    ap.add_argument("--tags", type=int)
    ap.add_argument("--days", type=int)
    ap.add_argument("--start", type=date.fromisoformat)
    ap.add_argument("--format", choices=["csv", "parquet"])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/thermaliq-bench"),
                    help="where generated data sets are kept and reused")
    ap.add_argument("--profile", action="store_true", help="also write a cProfile of the flow")
    ap.add_argument("--s3", action="store_true",
                    help="the lake on an S3-compatible server (moto on 127.0.0.1, started here)")
    ap.add_argument("--child", choices=["reference", "thermaliq"], help=argparse.SUPPRESS)
    ap.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.table:
        print("\n".join(table_rows(args.table)))
        return 0
    if args.workload in USER_WORKLOADS:
        result = run_user_workload(args.workload, args.dir, repeat=args.repeat, results_dir=RESULTS,
                                   fresh_prefect=args.fresh_prefect)
        print_result(result)
        return 0 if result["summary"]["all_exit_0"] else 1
    if args.child:
        manifest = json.loads((args.dir / "benchmark-manifest.json").read_text())
        out = reference(args.dir, manifest) if args.child == "reference" else \
            thermaliq_run(args.dir, manifest, args.profile_out)
        print(json.dumps(out, default=str))
        return 0
    size = WORKLOADS.get(args.workload) or Size(1, 20, 1, date(2025, 1, 1))
    overrides = {k: getattr(args, k) for k in ("facilities", "tags", "days", "start", "format")
                 if getattr(args, k) is not None}
    size = replace(size, **overrides)
    name = args.workload if args.workload and not overrides else \
        f"custom-f{size.facilities}-t{size.tags}-d{size.days}-{size.format}"
    if args.s3:
        with s3_lake() as lake_url:
            result = run_workload(f"{name}-s3", size, args.dir, profile=args.profile,
                                  lake_url=lake_url)
    else:
        result = run_workload(name, size, args.dir, profile=args.profile)
    _print(result)
    return 0 if result["thermaliq"]["completed"] else 1


if __name__ == "__main__":
    sys.exit(main())

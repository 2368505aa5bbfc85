"""Benchmarks as users run them: the ``thermaliq`` command line, timed from the moment it starts.

Each workload is a synthetic home (:mod:`benchmarks.generate`: a layout of files as a historian
exports them) and one command line, ``thermaliq backfill`` or ``thermaliq run``, run as a
subprocess and timed from start to exit: imports, Prefect's start-up (the ephemeral API server
unless ``PREFECT_API_URL`` names a running one), the flow and the reports, all included. In the
same repeat a bare DuckDB query reads the same files and computes the daily average of every tag
(:func:`reference`), the floor for any pipeline that reads the data once; the ratio is taken
against it. For the single-file workloads the ingest alone (``thermaliq.pipeline.ingest``, in its
own process) is timed too, against the same reference.

Every repeat starts from a home without lake, catalog, GX or reports. Prefect's database is kept,
as an installation keeps it from night to night: it is created once per workload before the first
repeat, untimed (Prefect's temporary server migrates a new database, ~7 s that only the first run
of an installation pays); ``--fresh-prefect`` removes it before every repeat instead. The JSON of a
workload holds every repeat and the median and range of each figure. Peak RSS is the largest
resident set of the command's process tree (``RUSAGE_CHILDREN`` of a wrapper process that runs
only it).

Usage::

    .venv/bin/python -m benchmarks.run plant-year-file --dir /tmp/bench        # median of 3
    .venv/bin/python -m benchmarks.run home-day --repeat 1
    .venv/bin/python -m benchmarks.run --table benchmarks/results/*.json      # README rows
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

from benchmarks.generate import TIMEZONE, Size, generate

ROOT = Path(__file__).resolve().parents[1]
STATE = ("lake", "thermaliq.duckdb", "thermaliq.duckdb.wal", "gx", "reports", "metrics")
PREFECT_STATE = ".prefect"


@dataclass(frozen=True)
class UserWorkload:
    """A synthetic home and the command a user runs on it."""

    size: Size
    command: str                 # "backfill" (the size's days) or "run" (its first day)
    ingest_alone: bool = False   # also time the ingest alone (one process, library call)
    note: str = ""


USER_WORKLOADS = {
    "plant-year-file": UserWorkload(
        Size(1, 20, 365, date(2025, 1, 1), layout="single"), "backfill", True,
        "one long CSV: a year of 1-minute readings of 20 tags, Z instants"),
    "plant-year-file-local": UserWorkload(
        Size(1, 20, 365, date(2025, 1, 1), layout="single-local"), "backfill", True,
        "the same file with naive local times (America/Chicago)"),
    "wide-year": UserWorkload(
        Size(1, 200, 365, date(2025, 1, 1), layout="wide", step_min=60), "backfill", True,
        "one wide CSV: a year of hourly readings of 200 columns"),
    "fleet-night-100": UserWorkload(
        Size(100, 20, 1, date(2025, 6, 15)), "run", False,
        "thermaliq run for one night, 100 facilities x 20 tags, a file per facility"),
    "fleet-night-1000": UserWorkload(
        Size(1000, 20, 1, date(2025, 6, 15)), "run", False,
        "thermaliq run for one night, 1 000 facilities x 20 tags, a file per facility"),
    "home-day": UserWorkload(
        Size(1, 20, 1, date(2025, 6, 15)), "run", False,
        "thermaliq run for one day of a small home (1 facility x 20 tags)"),
}


def peak_child_rss_mb() -> float:
    """Largest peak RSS of an ended child process of this process (and their reaped children) [MB]."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def child_cpu_s() -> float:
    """CPU time (user + system) of the ended child processes and their reaped children [s]: on a
    shared, loaded machine a steadier figure than wall time (cores add up: it may exceed it)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# ----------------------------------------------------------------------------- the reference
def reference_sql(home: Path, manifest: dict) -> str:
    """The daily average per facility, tag and local day of the raw files, as DuckDB SQL."""
    layout = manifest.get("layout", "daily")
    fmt = manifest["format"]
    pattern = str(home / "inbox" / "*" / f"*.{fmt}")
    tz = manifest.get("timezone", TIMEZONE)
    fac = "split_part(filename, '/', -2)"
    if fmt == "parquet":
        scan = f"read_parquet('{pattern}', filename = true)"
        day = f"CAST(timezone('{tz}', timestamp) AS DATE)"
    elif layout == "wide":
        scan = f"read_csv('{pattern}', filename = true, header = true)"
        return f"""SELECT {fac} AS facility_id, tag,
                   CAST(timezone('{tz}', CAST(timestamp AS TIMESTAMPTZ)) AS DATE) AS day,
                   avg(value) AS mean, count(*) AS n
            FROM (UNPIVOT (SELECT * FROM {scan}) ON COLUMNS(* EXCLUDE (timestamp, filename))
                  INTO NAME tag VALUE value) GROUP BY ALL"""
    else:
        scan = (f"read_csv('{pattern}', filename = true, header = true, "
                "columns = {'timestamp': 'VARCHAR', 'tag': 'VARCHAR', 'value': 'DOUBLE'})")
        day = (f"CAST(CAST(timestamp AS TIMESTAMP) AS DATE)" if layout == "single-local" else
               f"CAST(timezone('{tz}', CAST(timestamp AS TIMESTAMPTZ)) AS DATE)")
    return f"""SELECT {fac} AS facility_id, tag, {day} AS day, avg(value) AS mean, count(*) AS n
               FROM {scan} GROUP BY ALL"""


def reference(home: Path, manifest: dict) -> dict:
    """Run :func:`reference_sql` once (DuckDB on every core); wall time and what it read."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE daily AS {reference_sql(home, manifest)}")
    groups, readings = con.execute("SELECT count(*), sum(n) FROM daily").fetchone()
    wall = time.perf_counter() - started
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    con.close()
    return {"wall_s": wall, "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
            "readings": int(readings), "groups": int(groups)}


# ----------------------------------------------------------------------------- the command
def command_line(workload: UserWorkload, manifest: dict, home: Path) -> list[str]:
    """The user's command: ``thermaliq backfill --start --end`` or ``thermaliq run --date``."""
    if workload.command == "backfill":
        args = ["backfill", "--start", manifest["first"], "--end", manifest["last"]]
    else:
        args = ["run", "--date", manifest["first"]]
    return [sys.executable, "-c", "from flows.cli import main; main()", *args, "--home", str(home)]


def reset_state(home: Path, *, prefect: bool = False) -> None:
    """Remove everything a previous run wrote (lake, catalog, GX, reports; with ``prefect``,
    Prefect's database too)."""
    for name in STATE + ((PREFECT_STATE,) if prefect else ()):
        p = home / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def prepare_prefect(home: Path) -> None:
    """Create the home's Prefect database (start and stop Prefect's temporary server once, which
    migrates it), untimed; nothing when ``PREFECT_API_URL`` names a running server."""
    if "PREFECT_API_URL" in os.environ:
        return
    code = ("from prefect.server.api.server import SubprocessASGIServer\n"
            "s = SubprocessASGIServer(); s.start(); s.stop()\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(home), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"Prefect's database could not be created:\n{proc.stderr[-4000:]}")


def _env(home: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "THERMALIQ_HOME": str(home)}
    if "PREFECT_API_URL" not in env:      # an ephemeral server per run, its database in the home
        env["PREFECT_HOME"] = str(home / ".prefect")
    return env


def timed_child(kind: str, home: Path, argv: list[str] | None = None) -> dict:
    """Run ``python -m benchmarks.as_user --child kind`` (which runs and times one process) and
    return its JSON: wall time from the start of the process to its exit, peak RSS, exit code."""
    cmd = [sys.executable, "-m", "benchmarks.as_user", "--child", kind, "--dir", str(home)]
    if argv:
        cmd += ["--", *argv]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(home), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_command(argv: list[str], home: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env=_env(home), capture_output=True, text=True)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "cpu_s": child_cpu_s(), "peak_rss_mb": peak_child_rss_mb(),
            "exit_code": proc.returncode,
            "stdout_tail": proc.stdout[-1500:], "stderr_tail": proc.stderr[-1500:]}


def _child_ingest(home: Path) -> dict:
    """The ingest alone, every facility of the home, in a process started for it (timed from
    the first import of the library: the command line's imports are not in this figure)."""
    started = time.perf_counter()
    code = ("import sys, time, json, resource; t0 = time.perf_counter()\n"
            "from thermaliq.home import Home\n"
            "from thermaliq.config import load_facilities\n"
            "from thermaliq.pipeline import ingest\n"
            "home = Home.resolve(sys.argv[1]); facs, _ = load_facilities(home.root / 'facilities')\n"
            "n = sum(ingest.ingest_files(home, f).readings_stored for f in facs.values())\n"
            "print(json.dumps({'stored': n, 'inner_s': time.perf_counter() - t0}))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(home)], cwd=ROOT, env=_env(home),
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-4000:])
    inner = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "cpu_s": child_cpu_s(), "peak_rss_mb": peak_child_rss_mb(), **inner}


# ----------------------------------------------------------------------------- one workload
def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_user_workload(name: str, data_dir: Path, *, repeat: int = 3, results_dir: Path,
                      workload: UserWorkload | None = None, fresh_prefect: bool = False) -> dict:
    """Generate (or reuse) the workload's home under ``data_dir``, then ``repeat`` times: the
    reference, the ingest alone (where the workload asks for it) and the command line, each
    from a clean home. Writes ``<results_dir>/<name>-<UTC stamp>.json`` and returns it."""
    workload = workload or USER_WORKLOADS[name]
    home = Path(data_dir).resolve() / workload.size.key()
    t0 = time.perf_counter()
    manifest = generate(home, workload.size)
    generated_s = time.perf_counter() - t0
    argv = command_line(workload, manifest, home)
    runs = []
    reset_state(home, prefect=True)
    if not fresh_prefect:
        prepare_prefect(home)
    for _ in range(repeat):
        reset_state(home, prefect=fresh_prefect)
        one = {"load_average": [round(x, 2) for x in os.getloadavg()],
               "reference": timed_child("reference", home)}
        if workload.ingest_alone:
            one["ingest"] = timed_child("ingest", home)
            reset_state(home)
        one["command"] = timed_child("command", home, argv)
        one["ratio"] = one["command"]["wall_s"] / one["reference"]["wall_s"]
        if workload.ingest_alone:
            one["ingest_ratio"] = one["ingest"]["wall_s"] / one["reference"]["wall_s"]
        runs.append(one)
    summary = {
        "command_s": _stats([r["command"]["wall_s"] for r in runs]),
        "reference_s": _stats([r["reference"]["wall_s"] for r in runs]),
        "ratio": _stats([r["ratio"] for r in runs]),
        "command_cpu_s": _stats([r["command"]["cpu_s"] for r in runs]),
        "reference_cpu_s": _stats([r["reference"]["cpu_s"] for r in runs]),
        "command_peak_rss_mb": _stats([r["command"]["peak_rss_mb"] for r in runs]),
        "all_exit_0": all(r["command"]["exit_code"] == 0 for r in runs),
    }
    if workload.ingest_alone:
        summary["ingest_s"] = _stats([r["ingest"]["wall_s"] for r in runs])
        summary["ingest_ratio"] = _stats([r["ingest_ratio"] for r in runs])
        summary["ingest_peak_rss_mb"] = _stats([r["ingest"]["peak_rss_mb"] for r in runs])
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    size = {**asdict(workload.size), "start": workload.size.start.isoformat()}
    result = {"workload": name, "kind": "as-user", "created_at": stamp, "note": workload.note,
              "size": size, "readings": manifest["readings"], "command": argv[3:-2],
              "repeat": repeat, "generate_s": generated_s, "cpus": os.cpu_count(),
              "prefect_api_url": os.environ.get("PREFECT_API_URL"),
              "prefect_database": "new every repeat" if fresh_prefect else "kept (created before the first repeat)",
              "summary": summary, "runs": runs}
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    result["json"] = str(path)
    return result


def shrunk(name: str, **size) -> UserWorkload:
    """A workload of ``USER_WORKLOADS`` with a smaller size (tests)."""
    w = USER_WORKLOADS[name]
    return replace(w, size=replace(w.size, **size))


def table_rows(paths: list[Path]) -> list[str]:
    """README table rows (markdown) of result JSON files of this module."""
    rows = ["| workload | readings | command | wall s (median, range) | DuckDB reference s | ratio | "
            "ingest alone s (ratio) | peak RSS MB |", "|---|---|---|---|---|---|---|---|"]
    for p in paths:
        r = json.loads(Path(p).read_text())
        if r.get("kind") != "as-user":
            continue
        s = r["summary"]
        ingest = (f"{s['ingest_s']['median']:.1f} ({s['ingest_ratio']['median']:.1f}x)"
                  if "ingest_s" in s else "")
        name = r["workload"] + (" (running Prefect server)" if r.get("prefect_api_url") else "")
        rows.append(f"| {name} | {r['readings']:,} | `thermaliq {' '.join(r['command'][:1])}` | "
                    f"{s['command_s']['median']:.1f} ({s['command_s']['min']:.1f}-{s['command_s']['max']:.1f}) | "
                    f"{s['reference_s']['median']:.2f} | {s['ratio']['median']:.1f}x | {ingest} | "
                    f"{s['command_peak_rss_mb']['max']:.0f} |")
    return rows


def print_result(result: dict) -> None:
    s = result["summary"]
    print(f"{result['workload']}: {result['readings']:,} readings; {result['note']}")
    print(f"  command   {s['command_s']['median']:8.2f} s (range {s['command_s']['min']:.2f}-"
          f"{s['command_s']['max']:.2f}, {result['repeat']} runs)  peak RSS "
          f"{s['command_peak_rss_mb']['max']:.0f} MB  exit 0: {s['all_exit_0']}")
    print(f"  reference {s['reference_s']['median']:8.2f} s  ratio {s['ratio']['median']:.1f}x"
          f"   CPU s: command {s['command_cpu_s']['median']:.1f}, reference {s['reference_cpu_s']['median']:.1f}"
          f"   load average at start {result['runs'][0]['load_average']}")
    if "ingest_s" in s:
        print(f"  ingest    {s['ingest_s']['median']:8.2f} s  ratio {s['ingest_ratio']['median']:.1f}x"
              f"  peak RSS {s['ingest_peak_rss_mb']['max']:.0f} MB")
    print(f"  json: {result['json']}")


def _child_main(kind: str, home: Path, argv: list[str]) -> int:
    manifest = json.loads((home / "benchmark-manifest.json").read_text())
    if kind == "reference":
        out = reference(home, manifest)
    elif kind == "ingest":
        out = _child_ingest(home)
    else:
        out = _child_command(argv, home)
    print(json.dumps(out, default=str))
    return 0


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--child", choices=["reference", "ingest", "command"], required=True)
    ap.add_argument("--dir", type=Path, required=True)
    ap.add_argument("argv", nargs="*")
    a = ap.parse_args()
    sys.exit(_child_main(a.child, a.dir, a.argv))

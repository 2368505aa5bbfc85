"""Benchmark of the publishing stage: HTML reports, Prometheus metrics and run artifacts.

Runs what ``tasks/render.py::publish_reports`` runs after the catalog refresh, on a home that a
benchmark run (``benchmarks/run.py``) has already filled, and prints the median wall time of
each part over ``--repeat`` runs, per page and per facility. Every repetition renders into a
fresh reports directory (the first-night case: nothing to compare with, every page written).
Prefect's artifact and event functions are replaced by recorders, so the timing is thermaliq's
own work, not the Prefect API's.

Usage::

    .venv/bin/python -m benchmarks.bench_report /tmp/thermaliq-bench/f100-t20-d1-2025-06-15-csv
    .venv/bin/python -m benchmarks.bench_report HOME --start 2025-01-01 --end 2025-12-31 --repeat 3
    .venv/bin/python -m benchmarks.bench_report HOME --profile /tmp/render.prof
    .venv/bin/python -m benchmarks.bench_report HOME --keep /tmp/pages   # keep the last output
    .venv/bin/python -m benchmarks.bench_report HOME --no-share --limit 20
    .venv/bin/python -m benchmarks.bench_report HOME --workers 2   # pages in a process pool

``--workers N``: ``render_reports`` gets a process pool of N workers as its ``executor``
(default 0: every page in this process). ``--no-share``: the artifacts read their data again, as ``tasks/render.py`` does until it passes
``periods=`` from ``render_reports`` to ``publish_flow_run``; ``--limit N``: the first N facilities.

The home is not changed: reports and metrics go under a temporary directory.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from types import SimpleNamespace


def _stub_prefect() -> None:
    """Record artifacts and events instead of sending them to a Prefect API."""
    import prefect.artifacts
    import prefect.events

    for name in ("create_table_artifact", "create_markdown_artifact", "create_link_artifact"):
        setattr(prefect.artifacts, name, lambda **kw: 1)
    prefect.events.emit_event = lambda **kw: object()


def run_once(home, con, facilities: dict, start: date, end: date, out: Path, share: bool = True,
             executor=None) -> dict:
    """One publishing stage into ``out``; seconds per part and the pages written.

    ``share``: the report's period data go to the artifacts (``periods=``) instead of being read
    again, as ``tasks/render.py`` can wire it.
    """
    from tasks.publish.artifacts import publish_flow_run
    from thermaliq.report import metrics, render

    view = SimpleNamespace(reports=out / "reports", metrics=out / "metrics" / "thermaliq.prom")
    calculated = [{"facility_id": fid, "first": start.isoformat(), "last": end.isoformat(),
                   "changed": True, "duration_s": 1.0} for fid in facilities]
    stats: dict[str, dict] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    periods: dict = {}
    shared = {"periods": periods} if share else {}
    paths = render.render_reports(con, view.reports, facilities, start, end, stats=stats, executor=executor,
                                  **shared)
    t1, c1 = time.perf_counter(), time.process_time()
    metrics.write_run_metrics(view, con, facilities, calculated=calculated, sankey_stats=stats,
                              report_seconds=t1 - t0, flow="bench", succeeded_at=time.time(),
                              connector={})
    t2 = time.perf_counter()
    publish_flow_run(view, con, facilities, start, end, "bench-run", "bench", **shared)
    t3 = time.perf_counter()
    return {"report_s": t1 - t0, "report_cpu_s": c1 - c0, "metrics_s": t2 - t1, "publish_s": t3 - t2, "total_s": t3 - t0,
            "pages": len(paths)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("home", type=Path)
    parser.add_argument("--start", type=date.fromisoformat, help="first local day (default: manifest)")
    parser.add_argument("--end", type=date.fromisoformat, help="last local day (default: manifest)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="write a cProfile of one extra run here")
    parser.add_argument("--keep", type=Path, help="copy the last run's reports and metrics here")
    parser.add_argument("--limit", type=int, help="the first N facilities of the home only")
    parser.add_argument("--workers", type=int, default=0, help="processes rendering pages (0: none)")
    parser.add_argument("--no-share", action="store_true",
                        help="artifacts read their data again instead of taking the report's")
    args = parser.parse_args(argv)

    from thermaliq.store import catalog
    from thermaliq.config import load_facility
    from thermaliq.home import Home

    _stub_prefect()
    home = Home.resolve(args.home)
    manifest_path = home.root / "benchmark-manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    start = args.start or date.fromisoformat(manifest["first"])
    end = args.end or date.fromisoformat(manifest["last"])
    facilities = {p.stem: load_facility(p) for p in sorted(home.facilities.glob("*.yaml"))[:args.limit]}
    con = catalog.memory_connection(home)
    runs = []
    pool = ProcessPoolExecutor(args.workers) if args.workers else None
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp, pool or contextlib.nullcontext():
        for i in range(args.repeat + (1 if args.profile else 0)):
            out = Path(tmp) / str(i)
            profiler = cProfile.Profile() if args.profile and i == args.repeat else None
            if profiler:
                profiler.enable()
            result = run_once(home, con, facilities, start, end, out, share=not args.no_share, executor=pool)
            if profiler:
                profiler.disable()
                profiler.dump_stats(str(args.profile))
            else:
                runs.append(result)
            if args.keep and i == args.repeat - 1:
                shutil.rmtree(args.keep, ignore_errors=True)
                shutil.copytree(out, args.keep)
            shutil.rmtree(out)
    med = {k: statistics.median(r[k] for r in runs) for k in ("report_s", "report_cpu_s", "metrics_s", "publish_s",
                                                          "total_s")}
    pages, n = runs[0]["pages"], len(facilities)
    summary = {"facilities": n, "pages": pages, "workers": args.workers, "share": not args.no_share, "start": str(start), "end": str(end), "repeat": len(runs),
               **{k: round(v, 4) for k, v in med.items()},
               "report_ms_per_page": round(med["report_s"] / pages * 1e3, 2),
               "report_cpu_ms_per_page": round(med["report_cpu_s"] / pages * 1e3, 2),
               "total_s_per_facility": round(med["total_s"] / n, 4)}
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()

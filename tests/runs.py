"""Helpers of the reliability tests: runs of the real CLI in subprocesses, snapshots of results."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from thermaliq.store import catalog

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "flows.cli"]


def api_url() -> str:
    """The Prefect API of the session's test harness (subprocesses report their runs to it)."""
    import prefect.settings

    return str(prefect.settings.PREFECT_API_URL.value())


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THERMALIQ_CRASH")}
    env.update(PREFECT_API_URL=api_url(), PYTHONPATH=str(ROOT), THERMALIQ_MAX_WORKERS="2")
    env.update(extra)
    return env


def start_cli(*args: str, **extra_env: str) -> subprocess.Popen:
    """Start ``thermaliq <args>`` in a subprocess (output captured)."""
    return subprocess.Popen([*CLI, *args], cwd=ROOT, env=cli_env(**extra_env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_cli(*args: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
    proc = start_cli(*args, **extra_env)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# Columns compared between runs: everything of the relations except who/when wrote it.
SNAPSHOT_SQL = {
    "readings": "SELECT facility_id, tag, ts, value, unit, quality, source FROM readings "
                "ORDER BY ALL",
    "quarantine": "SELECT facility_id, source, row, reason, raw, tag, ts FROM quarantine ORDER BY ALL",
    "calculations": "SELECT * EXCLUDE (calculated_at, run_id) FROM calculations WHERE is_current "
                    "ORDER BY facility_id, granularity, period_start",
    "stream_energies": "SELECT * FROM stream_energies WHERE is_current "
                       "ORDER BY facility_id, granularity, period_start, stream_id",
    "data_quality": "SELECT * FROM data_quality ORDER BY facility_id, tag, period_start",
    "alerts": "SELECT * EXCLUDE (run_id) FROM alerts ORDER BY ALL",
}


def snapshot(home) -> dict[str, pd.DataFrame]:
    """The current results of a home, as users see them through the relations."""
    con = catalog.memory_connection(home)
    try:
        return {name: con.execute(sql).df() for name, sql in SNAPSHOT_SQL.items()}
    finally:
        con.close()


def assert_same_results(got: dict, want: dict) -> None:
    """Exact equality of every relation (values, versions, row counts)."""
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, check_exact=True, obj=name)


def assert_no_duplicates(snap: dict) -> None:
    """One reading per (facility, tag, instant); one current result per period (and stream)."""
    keys = {"readings": ["facility_id", "tag", "ts"],
            "calculations": ["facility_id", "granularity", "period_start"],
            "stream_energies": ["facility_id", "granularity", "period_start", "stream_id"],
            "data_quality": ["facility_id", "tag", "period_start"]}
    for name, cols in keys.items():
        dup = snap[name].duplicated(cols)
        assert not dup.any(), f"{name}: duplicated {snap[name][dup].head()}"

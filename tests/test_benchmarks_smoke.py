"""The benchmark command keeps working: a tiny size of each standard workload, end to end.

Not a timed test (speed is measured by ``python -m benchmarks.run``, see benchmarks/run.py); it
runs both sides in this process under the Prefect test harness and checks what the JSON holds and
that the pipeline stored what the generator wrote.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.generate import facility_config
from benchmarks.run import WORKLOADS, run_workload
from thermaliq.config import parse_facility

FIELDS = ("wall_s", "cpu_s", "readings_per_s", "peak_rss_mb")


def test_generated_configs_pass_validation():
    """Every tag count from the minimum up gives a valid facility with exactly that many tags."""
    for tags in (8, 9, 13, 17, 20, 25):
        facility = parse_facility(facility_config("BENCH-0001", tags, "csv"))
        assert len(facility.tag_specs()) == tags
    with pytest.raises(ValueError, match="tags"):
        facility_config("BENCH-0001", 7, "csv")


@pytest.mark.flow
@pytest.mark.parametrize("name, shrink, window_days", [
    ("fleet-night", {"facilities": 2, "tags": 8}, None),        # nightly flow, 2 facilities
    ("plant-year", {"tags": 8, "days": 3, "format": "parquet"}, "2"),   # backfill, 2 windows
])
def test_tiny_workload_runs_and_writes_json(prefect_harness, tmp_path, monkeypatch, name, shrink,
                                            window_days):
    if window_days:
        monkeypatch.setenv("THERMALIQ_WINDOW_DAYS", window_days)
    size = replace(WORKLOADS[name], **shrink)
    result = run_workload(name, size, tmp_path / "data", results_dir=tmp_path / "results",
                          isolate=False)
    saved = json.loads(Path(result["json"]).read_text())
    expected = size.facilities * size.tags * 1440 * size.days    # no DST change in these days
    assert saved["readings"] == expected
    assert saved["reference"]["readings"] == expected
    # one daily average per facility, tag and local day
    assert saved["reference"]["groups"] == size.facilities * size.tags * size.days
    tiq = saved["thermaliq"]
    assert tiq["completed"], tiq["message"]
    assert tiq["readings_stored"] == expected and tiq["quarantined"] == 0
    assert tiq["days_calculated"] == size.facilities * size.days
    # the generator's plant runs at about 88 % on the LHV basis (benchmarks/generate.py)
    assert 80 < tiq["mean_day_efficiency_percent"] < 95
    for side in ("reference", "thermaliq"):
        for field in FIELDS:
            assert saved[side][field] > 0, (side, field)
    assert saved["ratio"] == pytest.approx(tiq["wall_s"] / saved["reference"]["wall_s"])
    assert saved["size"]["facilities"] == size.facilities


@pytest.mark.flow
@pytest.mark.parametrize("name, shrink", [
    ("plant-year-file", {"tags": 8, "days": 2}),            # one long file, thermaliq backfill
    ("wide-year", {"tags": 12, "days": 2}),                  # one wide file, hourly
    ("fleet-night-100", {"facilities": 2, "tags": 8}),       # thermaliq run, a file per facility
])
def test_tiny_command_line_workload_runs_and_writes_json(tmp_path, name, shrink):
    """The command-line workloads (benchmarks/as_user.py) at a tiny size, once: the user's
    command exits 0, the reference reads every generated reading, the JSON and the README row
    hold the figures. Not timed."""
    from benchmarks.as_user import USER_WORKLOADS, run_user_workload, shrunk, table_rows

    workload = shrunk(name, **shrink)
    result = run_user_workload(name, tmp_path / "data", repeat=1, results_dir=tmp_path / "results",
                               workload=workload)
    saved = json.loads(Path(result["json"]).read_text())
    size = workload.size
    per_day = 1440 // size.step_min
    assert saved["readings"] == size.facilities * size.tags * per_day * size.days
    run = saved["runs"][0]
    assert run["command"]["exit_code"] == 0, run["command"]["stderr_tail"]
    assert run["reference"]["readings"] == saved["readings"]
    assert run["reference"]["groups"] == size.facilities * size.tags * size.days
    assert saved["summary"]["all_exit_0"] and saved["summary"]["command_s"]["median"] > 0
    assert ("ingest_s" in saved["summary"]) == USER_WORKLOADS[name].ingest_alone
    assert saved["command"][0] == USER_WORKLOADS[name].command
    # Prefect's database is created before the timed repeats and kept, as an installation keeps it
    assert saved["prefect_database"].startswith("kept")
    assert (tmp_path / "data" / workload.size.key() / ".prefect" / "prefect.db").is_file()
    rows = table_rows([Path(result["json"])])
    assert len(rows) == 3 and rows[2].startswith(f"| {name} |")

"""The lake on object storage (issue #19): commits without rename against moto's S3 server on
127.0.0.1, two working copies standing for two hosts."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from tests.s3server import aws_env, moto_s3, new_bucket
from thermaliq.errors import ConfigError
from thermaliq.store import lake, objectlake

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2024, 5, 30)


@pytest.fixture(scope="module")
def endpoint():
    with moto_s3() as url:
        yield url


@pytest.fixture
def remote(endpoint, monkeypatch):
    """A fresh bucket as the lake (no cross-host lock: these tests are one host)."""
    url = f"s3://{new_bucket(endpoint)}/lake"
    for name, value in aws_env(endpoint).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("THERMALIQ_LAKE_URL", url)
    monkeypatch.setenv("THERMALIQ_LAKE_LOCK", "none")
    return url


def _readings(value: float) -> pd.DataFrame:
    ts = pd.date_range("2024-05-30", periods=3, freq="h", tz="UTC")
    return pd.DataFrame({"tag": "FT-101", "ts": ts, "value": value, "unit": "kg/h",
                         "quality": "good", "source": "a.csv", "row": range(3)})


def _result(seq: int) -> pd.DataFrame:
    return pd.DataFrame({"granularity": ["day"], "period_start": [pd.Timestamp("2024-05-30", tz="UTC")],
                         "version": [seq], "write_seq": [seq]})


def _files(root: Path, facility_id: str) -> dict[str, bytes]:
    ol = objectlake.ObjectLake("s3://unused/x", root)
    return {rel: (root / rel).read_bytes() for rel in ol.tracked(facility_id)}


def test_a_commit_is_seen_whole_by_another_host(remote, tmp_path):
    a, b = tmp_path / "a" / "lake", tmp_path / "b" / "lake"
    with lake.facility_lock(a, "F1"):
        lake.write_readings_day(a, "F1", DAY, _readings(1.0))
        lake.write_result(a, "calculations", "F1", "2024-05", _result(1), f"{1:020d}")
        lake.write_result(a, "data_quality", "F1", "2024-05", _result(1), f"{1:020d}")
    remote_lake = objectlake.for_lake(a)
    commit = json.loads(remote_lake.fs.cat_file(remote_lake.remote(remote_lake.commit_key("F1", 1))))
    assert sorted(commit["files"]) == [
        "calculations/facility_id=F1/month=2024-05/00000000000000000001.parquet",
        "data_quality/facility_id=F1/month=2024-05/00000000000000000001.parquet",
        "readings/facility_id=F1/date=2024-05-30/part-0.parquet"]
    assert all(k.startswith("data/") and k.endswith(".parquet") for k in commit["files"].values())
    assert not (b / "readings").exists()
    lake.refresh(b, "F1")
    assert _files(b, "F1") == _files(a, "F1") and len(_files(b, "F1")) == 3
    assert lake.read_readings_days(b, "F1", [DAY])["value"].tolist() == [1.0, 1.0, 1.0]


def test_a_replaced_and_a_removed_file_reach_the_other_host(remote, tmp_path):
    a, b = tmp_path / "a" / "lake", tmp_path / "b" / "lake"
    with lake.facility_lock(a, "F1"):
        lake.write_readings_day(a, "F1", DAY, _readings(1.0))
        lake.write_result(a, "alerts", "F1", "2024-05", _result(1), f"{1:020d}")
    lake.refresh(b, "F1")
    with lake.facility_lock(b, "F1"):                  # host b replaces the day, drops the alerts
        lake.write_readings_day(b, "F1", DAY, _readings(2.0))
        (b / "alerts" / "facility_id=F1" / "month=2024-05" / f"{1:020d}.parquet").unlink()
    with lake.facility_lock(a, "F1"):                  # host a's next hold starts from commit 2
        assert lake.read_readings_days(a, "F1", [DAY])["value"].tolist() == [2.0, 2.0, 2.0]
        assert not list((a / "alerts").rglob("*.parquet"))
    assert objectlake.for_lake(a).read_meta("F1")["seq"] == 2


def test_a_failed_write_is_not_committed_and_is_undone_in_the_working_copy(remote, tmp_path):
    a, b = tmp_path / "a" / "lake", tmp_path / "b" / "lake"
    with lake.facility_lock(a, "F1"):
        lake.write_readings_day(a, "F1", DAY, _readings(1.0))
    with pytest.raises(RuntimeError, match="half-way"):
        with lake.facility_lock(a, "F1"):
            lake.write_readings_day(a, "F1", DAY, _readings(5.0))
            lake.write_result(a, "calculations", "F1", "2024-05", _result(2), f"{2:020d}")
            raise RuntimeError("died half-way")
    assert lake.read_readings_days(a, "F1", [DAY])["value"].tolist() == [1.0, 1.0, 1.0]
    assert not (a / "calculations").exists() or not list((a / "calculations").rglob("*.parquet"))
    lake.refresh(b, "F1")
    assert list(_files(b, "F1")) == ["readings/facility_id=F1/date=2024-05-30/part-0.parquet"]


def test_two_writers_of_one_commit_number_one_wins(remote, tmp_path):
    a = objectlake.ObjectLake(remote, tmp_path / "a" / "lake")
    b = objectlake.ObjectLake(remote, tmp_path / "b" / "lake")
    a.pull("F1"), b.pull("F1")
    lake.write_readings_day(a.local, "F1", DAY, _readings(1.0))
    lake.write_readings_day(b.local, "F1", DAY, _readings(9.0))
    assert a.push("F1") == 1
    with pytest.raises(objectlake.CommitConflict, match="another writer committed number 1"):
        b.push("F1")
    b.pull("F1")                                        # the loser's copy: the winner's data
    assert lake.read_readings_days(b.local, "F1", [DAY])["value"].tolist() == [1.0, 1.0, 1.0]
    assert b.push("F1") is None                         # nothing of its own left to commit


def test_killed_between_uploads_and_commit_leaves_nothing_visible(remote, endpoint, tmp_path):
    a, c = tmp_path / "a" / "lake", tmp_path / "c" / "lake"
    code = ("import sys, pandas as pd; from datetime import date; from pathlib import Path\n"
            "from thermaliq.store import lake\n"
            "ts = pd.date_range('2024-05-30', periods=3, freq='h', tz='UTC')\n"
            "df = pd.DataFrame({'tag': 'T', 'ts': ts, 'value': 1.0, 'unit': 'kg/h', 'quality': 'good',"
            " 'source': 'a.csv', 'row': range(3)})\n"
            "with lake.facility_lock(Path(sys.argv[1]), 'F1'):\n"
            "    lake.write_readings_day(Path(sys.argv[1]), 'F1', date(2024, 5, 30), df)\n")
    env = {**aws_env(endpoint), "THERMALIQ_LAKE_URL": remote, "THERMALIQ_LAKE_LOCK": "none",
           "THERMALIQ_CRASH_AT": "lake.commit:1", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code, str(a)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 137, done.stderr[-2000:]
    ol = objectlake.for_lake(c)
    assert ol.fs.ls(ol.remote("data"), detail=False), "the data object was uploaded"
    assert ol.commits_after("F1", 0) == []               # ... but never committed
    lake.refresh(c, "F1")
    assert _files(c, "F1") == {}
    lake.refresh(a, "F1")                                # the killed host's copy is undone too
    assert _files(a, "F1") == {}


def test_the_lake_is_local_without_a_url(monkeypatch, tmp_path):
    monkeypatch.delenv("THERMALIQ_LAKE_URL", raising=False)
    assert objectlake.for_lake(tmp_path / "lake") is None
    with lake.facility_lock(tmp_path / "lake", "F1"):
        lake.write_readings_day(tmp_path / "lake", "F1", DAY, _readings(1.0))
    assert not (tmp_path / "lake" / "_remote").exists()


def test_plain_http_only_to_a_loopback_endpoint(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://s3.example.com:9000")
    with pytest.raises(ConfigError, match="plain HTTP is allowed only to a loopback"):
        objectlake.storage_options("s3://b/lake")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    opts = objectlake.storage_options("s3://b/lake")
    assert opts["endpoint_url"] == "http://127.0.0.1:9000"
    assert opts["client_kwargs"] == {"region_name": "eu-west-1"}


def test_the_prefect_lease_needs_a_shared_server(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from thermaliq.store import leases

    with temporary_settings(updates={PREFECT_API_URL: None}):
        with pytest.raises(ConfigError, match="needs the Prefect server that every host shares"):
            with leases.facility_lease("F1", 1.0, 60.0):
                pass


def test_a_run_record_rewritten_when_the_run_ends_reaches_a_reader(remote, tmp_path):
    a, b = tmp_path / "a" / "lake", tmp_path / "b" / "lake"
    record = {"run_id": "r1", "flow": "backfill", "started_at": pd.Timestamp("2024-06-01", tz="UTC"),
              "finished_at": None, "status": "running", "parameters": "{}", "reason": None}
    lake.write_run(a, record)
    lake.refresh_all(b)
    assert pd.read_parquet(b / "runs" / "r1.parquet")["status"].tolist() == ["running"]
    lake.write_run(a, {**record, "finished_at": pd.Timestamp("2024-06-01 01:00", tz="UTC"),
                       "status": "completed"})
    lake.refresh_all(b)
    assert pd.read_parquet(b / "runs" / "r1.parquet")["status"].tolist() == ["completed"]

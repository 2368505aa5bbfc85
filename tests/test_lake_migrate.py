"""``thermaliq lake migrate --to s3://...`` and ``thermaliq query`` on a remote lake (issue #19):
a local lake moved to moto's S3 server on 127.0.0.1 reads the same from a host that has only
the URL."""
from __future__ import annotations

from datetime import date

import pytest

from tests.helpers import constant_boiler_config, constant_readings, write_daily_csv, write_facility
from tests.runs import assert_same_results, run_cli, snapshot
from tests.s3server import aws_env, moto_s3, new_bucket
from thermaliq.home import Home
from thermaliq.store import lake

pytestmark = [pytest.mark.flow, pytest.mark.slow]

VALUES = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
SQL = ("SELECT facility_id, granularity, period_start, efficiency_percent, version FROM calculations "
       "WHERE is_current AND granularity IN ('day', 'month') ORDER BY ALL")


def test_migrate_then_query_from_a_host_with_only_the_url(prefect_harness, tmp_path, monkeypatch):
    from flows.backfill import backfill

    monkeypatch.delenv("THERMALIQ_LAKE_URL", raising=False)
    home = Home.resolve(tmp_path / "home")
    write_facility(home.root, constant_boiler_config())
    write_daily_csv(home.root, "BOILER-1", constant_readings(date(2024, 5, 30), date(2024, 6, 1),
                                                             "Europe/Berlin", VALUES, freq="15min"))
    backfill(start="2024-05-30", end="2024-06-01", home=str(home.root))
    local_csv = run_cli("query", "--home", str(home.root), "--csv", SQL)
    assert local_csv.returncode == 0, local_csv.stderr
    assert local_csv.stdout.count("\n") == 1 + 3 + 2          # header, 3 days, 2 months

    with moto_s3() as endpoint:
        url = f"s3://{new_bucket(endpoint)}/lake"
        env = aws_env(endpoint)
        moved = run_cli("lake", "migrate", "--to", url, "--home", str(home.root), **env)
        assert moved.returncode == 0, moved.stderr
        assert "BOILER-1: commit 1" in moved.stdout
        again = run_cli("lake", "migrate", "--to", url, "--home", str(home.root), **env)
        assert again.returncode == 2 and "already have commits" in again.stderr

        other = tmp_path / "other-host"                  # no facility files, no lake: the URL only
        remote_csv = run_cli("query", "--home", str(other), "--csv", SQL, THERMALIQ_LAKE_URL=url, **env)
        assert remote_csv.returncode == 0, remote_csv.stderr
        assert remote_csv.stdout == local_csv.stdout

        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("THERMALIQ_LAKE_URL", url)
        reader = Home.resolve(tmp_path / "reader")
        assert lake.refresh_all(reader.lake) == ["BOILER-1"]
        monkeypatch.delenv("THERMALIQ_LAKE_URL")
        assert_same_results(snapshot(reader), snapshot(home))
        assert len(list((reader.lake / "runs").glob("*.parquet"))) == len(list((home.lake / "runs").glob("*.parquet")))

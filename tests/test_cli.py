"""The ``thermaliq`` CLI as a new user meets it: exit codes of DESIGN §8 (0 ok, 1 some facility
failed, 2 usage or configuration errors) and clear messages, before any Prefect run starts.

No test here runs a flow (tests/test_flows.py and tests/test_deployment.py do); the commands that
serve run as subprocesses with bounded waits, talking only to 127.0.0.1.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.params import parse_range
from tests.helpers import constant_boiler_config, write_facility
from thermaliq.errors import ConfigError

CLI = [sys.executable, "-m", "flows.cli"]


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(tmp_path, **extra: str) -> dict:
    """The environment of a new shell: no Prefect settings, a throw-away PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "THERMALIQ_"))}
    return {**env, "PREFECT_HOME": str(tmp_path / "prefect-home"), **extra}


class _MustNotRun:
    """Stands in for a flow: a usage error must be reported before any Prefect run starts."""

    name = "must-not-run"

    def __call__(self, **params):
        raise AssertionError(f"a flow ran with {params}")


@pytest.fixture
def no_flow_runs(monkeypatch):
    for module, name in (("backfill", "backfill"), ("recalculate", "recalculate"), ("report", "report"),
                         ("nightly", "nightly")):
        monkeypatch.setattr(f"flows.{module}.{name}", _MustNotRun())


def test_parse_range_accepts_one_day_and_rejects_a_reversed_range():
    """Flows launched from the Prefect UI get the same check (a reversed range used to IndexError)."""
    assert parse_range("2024-03-31", "2024-03-31") == (date(2024, 3, 31), date(2024, 3, 31))
    with pytest.raises(ConfigError, match=r"end='2024-03-30' is before start='2024-03-31'"):
        parse_range("2024-03-31", "2024-03-30")
    with pytest.raises(ConfigError, match=r"end='31.03.2024' is not an ISO date"):
        parse_range("2024-03-30", "31.03.2024")


@pytest.mark.parametrize("args", [
    ["backfill", "--start", "2024-03-31", "--end", "2024-03-30"],
    ["recalculate", "--start", "2024-03-31", "--end", "2024-03-30", "--reason", "meter fixed"],
    ["report", "--start", "2024-03-31", "--end", "2024-03-30"],
])
def test_reversed_date_range_is_a_usage_error_before_any_run(home, no_flow_runs, args):
    result = _invoke(*args, "--home", str(home.root))
    assert result.exit_code == 2, result.output
    assert "end='2024-03-30' is before start='2024-03-31'" in result.output


def test_run_with_a_bad_date_is_a_usage_error(home, no_flow_runs):
    result = _invoke("run", "--home", str(home.root), "--date", "yesterday")
    assert result.exit_code == 2 and "date='yesterday' is not an ISO date" in result.output


@pytest.mark.parametrize("reason_args, message", [
    ([], "Missing option '--reason'"),
    (["--reason", "   "], "--reason must not be empty"),
])
def test_recalculate_requires_a_reason(home, no_flow_runs, reason_args, message):
    result = _invoke("recalculate", "--home", str(home.root), "--start", "2024-03-30",
                     "--end", "2024-03-31", *reason_args)
    assert result.exit_code == 2 and message in result.output


def test_check_config_ok_and_missing_facilities_directory(home, tmp_path):
    write_facility(home.root, constant_boiler_config())
    good = _invoke("check-config", "--home", str(home.root))
    assert good.exit_code == 0 and "1 valid, 0 problem(s)" in good.output
    missing = _invoke("check-config", "--home", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no facilities directory" in missing.output


def test_check_config_names_the_file_of_a_yaml_syntax_error(home):
    (home.facilities / "SYNTAX-1.yaml").write_text("facility_id: [\n")
    result = _invoke("check-config", "--home", str(home.root))
    assert result.exit_code == 2
    assert "SYNTAX-1.yaml: not valid YAML" in result.output and "correct the YAML" in result.output


def test_serve_reports_without_reports_or_on_a_busy_port_is_a_usage_error(home):
    missing = _invoke("serve-reports", "--home", str(home.root), "--port", "0")
    assert missing.exit_code == 2 and "reports directory" in missing.output
    home.reports.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = _invoke("serve-reports", "--home", str(home.root), "--port", str(port))
    assert taken.exit_code == 2 and f"cannot serve on 127.0.0.1:{port}" in taken.output


def test_serve_reports_serves_pages_and_stops_on_ctrl_c(home, tmp_path):
    home.reports.mkdir()
    (home.reports / "index.html").write_text("<html><body>fleet</body></html>")
    port = _free_port()
    proc = subprocess.Popen(CLI + ["serve-reports", "--home", str(home.root), "--port", str(port)],
                            env=_clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        body, deadline = None, time.monotonic() + 120
        while body is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
                    body = r.read().decode()
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        assert body is not None and "fleet" in body
        with pytest.raises(urllib.error.HTTPError) as outside:   # nothing outside reports/
            urllib.request.urlopen(f"http://127.0.0.1:{port}/../facilities/", timeout=5)
        assert outside.value.code == 404
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out.decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_serve_refuses_prefect_ephemeral_mode(home, tmp_path):
    """Without PREFECT_API_URL Prefect's ephemeral API runs no scheduler service (Prefect 3.9), so
    the nightly schedule would silently never fire: ``serve`` says so and exits 2."""
    done = subprocess.run(CLI + ["serve", "--home", str(home.root), "--port", "0"], env=_clean_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "needs a Prefect server" in done.stderr and "PREFECT_API_URL" in done.stderr


def test_serve_rejects_an_unknown_schedule_time_zone(home, tmp_path):
    """The time zone comes from THERMALIQ_SCHEDULE_TZ like prefect.yaml's; checked before serving.
    Port 9 on 127.0.0.1 (discard) is never contacted: the check comes first."""
    env = _clean_env(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api", THERMALIQ_SCHEDULE_TZ="Mars/Olympus")
    done = subprocess.run(CLI + ["serve", "--home", str(home.root), "--port", "0"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "'Mars/Olympus' is not an IANA time zone" in done.stderr

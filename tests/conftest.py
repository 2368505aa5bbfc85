"""Shared fixtures. Prefect's test harness is entered once per session (it costs ~11 s)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("THERMALIQ_MAX_WORKERS", "2")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect database and API for the whole session (flow tests only)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def home(tmp_path):
    """An empty thermaliq home."""
    from thermaliq.home import Home

    h = Home.resolve(tmp_path / "home")
    h.facilities.mkdir(parents=True)
    return h

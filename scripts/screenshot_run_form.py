"""Refresh docs/img/run-form.png: the backfill deployment's run form in the Prefect UI.

Starts a real ``prefect server`` on 127.0.0.1 (temporary PREFECT_HOME), creates the work pool,
runs ``prefect deploy --all`` from the repository root, and takes a screenshot of
``/deployments/deployment/<id>/run`` with headless Chromium. Run from the repository root::

    .venv/bin/python scripts/screenshot_run_form.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_deployment import PrefectServer  # noqa: E402 - the tests' server harness


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="thermaliq-run-form-"))
    server = PrefectServer(work)
    try:
        server.start()
        server.cli("work-pool", "create", "thermaliq", "--type", "process")
        server.cli("--no-prompt", "deploy", "--all", cwd=ROOT, env={"THERMALIQ_SCHEDULE_TZ": "UTC"})
        with server.client() as client:
            deployment = client.read_deployment_by_name("backfill/backfill")
        ui = server.api_url.removesuffix("/api")
        out = ROOT / "docs" / "img" / "run-form.png"
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update", "--no-first-run",
                        f"--user-data-dir={work / 'chromium'}", f"--screenshot={out}",
                        "--window-size=1280,1400", "--virtual-time-budget=20000",
                        f"{ui}/deployments/deployment/{deployment.id}/run"],
                       check=True, timeout=180, capture_output=True)
        print(out)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Prefect's temporary server as a command line starts it (flows/startup.py).

Each case runs in its own Python process: the module changes the process's Prefect settings for
the rest of the process, as a command does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
from flows import startup
early = startup.begin()
out = {"server": early.server is not None}
if early.server is not None:
    early.ready()
    from prefect.settings import PREFECT_API_URL
    from prefect.client.orchestration import get_client
    with get_client(sync_client=True) as client:
        out["api_url"] = PREFECT_API_URL.value()
        out["server_api"] = early.server.api_url
        out["health"] = client.api_healthcheck() is None
        out["server_module_imported"] = "prefect.server.api.server" in sys.modules
    process = early.server.process
    early.server.stop()
    out["stopped"] = process.poll() is not None
print(json.dumps(out))
"""


def _run(tmp_path: Path, **env) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    environ.update({"PYTHONPATH": str(ROOT), "PREFECT_HOME": str(tmp_path / ".prefect"),
                    "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env})
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_temporary_server_answers_and_the_client_uses_it(tmp_path):
    """Without PREFECT_API_URL: a server starts, answers /health, Prefect's client talks to it,
    the server application is never imported into the command's process, and stop reaps it."""
    out = _run(tmp_path)
    assert out["server"] and out["health"] and out["stopped"]
    assert out["api_url"] == out["server_api"] and out["api_url"].startswith("http://127.0.0.1:")
    assert out["server_module_imported"] is False


def test_no_server_when_the_environment_names_an_api(tmp_path):
    assert _run(tmp_path, PREFECT_API_URL="http://127.0.0.1:9/api") == {"server": False}


def test_no_server_when_a_profile_names_an_api(tmp_path):
    """A profile's PREFECT_API_URL (``prefect config set``) wins: the server begun before Prefect
    was imported is stopped unused."""
    home = tmp_path / ".prefect"
    home.mkdir()
    (home / "profiles.toml").write_text('active = "kept"\n[profiles.kept]\n'
                                        'PREFECT_API_URL = "http://127.0.0.1:9/api"\n')
    assert _run(tmp_path) == {"server": False}

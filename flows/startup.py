"""The start of a command-line run: Prefect's temporary API server, started before it is needed.

A one-facility-day ``thermaliq run`` spends most of its time before any work: importing the flows,
Great Expectations' import and context (about 3.4 s; the flow warms it up in a thread while the
ingest runs in worker processes, ``flows/fanout.py``), and Prefect's temporary API server, which
Prefect starts only when the first flow run asks for a client: a ``uvicorn`` subprocess that
migrates its database and answers ``/health`` after a few seconds. Prefect's own way to start it
(``prefect.server.api.server.SubprocessASGIServer``) first imports the whole server application
into the command's process, about 4 s of CPU that this process never uses.

So ``begin`` starts the same subprocess itself, once the command's checks passed (a refused facility
still exits before the server starts) and before this process imports Prefect: the same ``uvicorn``
command line and environment as Prefect's, without importing the server here. It boots on the other
core while this process imports Prefect and the flow. ``ready`` waits for its ``/health`` just
before the flow starts and points this process's Prefect settings at it (``temporary_settings``, as
``prefect_test_harness`` does), so the flow's client uses it as it would a running server; the
server is stopped when the process exits.
Great Expectations is not started here: its import is Python work in this process, which a thread
would only interleave with the flow's own imports (measured: no gain).

With ``PREFECT_API_URL`` set (a running ``prefect server start``), Prefect uses that server and no
temporary one is started; see the README ("Fixed cost of a run").
"""
from __future__ import annotations

import atexit
import os
import random
import socket
import subprocess
import sys
import time
from contextlib import closing

from thermaliq.settings import child_environment, names_prefect_api

#: uvicorn's exit code when its port was taken meanwhile: start again on another port.
_PORT_TAKEN = 3


class TemporaryServer:
    """Prefect's temporary API server in a subprocess on 127.0.0.1 (what Prefect's ephemeral
    mode starts), without importing the server application in this process."""

    def __init__(self):
        self.port = _free_port()
        self.process = self._spawn()
        atexit.register(self.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> subprocess.Popen:
        env = child_environment(PREFECT_UI_ENABLED="0", PREFECT__SERVER_EPHEMERAL="1",
                                PREFECT__SERVER_FINAL="1", **_settings_env())
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--app-dir", _site_packages(),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"], env=env)

    def wait_healthy(self, timeout_s: float) -> None:
        """Wait until ``/health`` answers 200; raise ``RuntimeError`` naming the exit code or the
        time waited when it does not."""
        import httpx

        deadline = time.monotonic() + timeout_s
        with httpx.Client() as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code == _PORT_TAKEN:
                    self.port = _free_port()
                    self.process = self._spawn()
                    continue
                if code is not None:
                    raise RuntimeError(f"Prefect's temporary server exited with code {code} before it "
                                       "answered (see its messages above)")
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Prefect's temporary server did not answer within {timeout_s:.0f} s "
                           "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)")

    def stop(self) -> None:
        """Terminate the server (killed after 5 s) and reap it; idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class EarlyStart:
    """Prefect's temporary server, started by :func:`begin` (none with ``PREFECT_API_URL``).

    The server is started before Prefect is imported (~2.4 s) when the environment names no API
    URL; if Prefect's settings then name one (a profile: ``prefect config set PREFECT_API_URL``),
    that server is stopped unused."""

    def __init__(self, *, server: bool = True):
        self.server = TemporaryServer() if server and not names_prefect_api() else None
        if self.server is not None and not _ephemeral():
            self.server.stop()
            self.server = None
        self._settings = None

    def ready(self) -> None:
        """Wait for the temporary server (if one is starting) and make this process's Prefect
        client use it, for the rest of the process."""
        if self.server is None or self._settings is not None:
            return
        from prefect.settings import (PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
                                      temporary_settings)

        self.server.wait_healthy(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
        self._settings = temporary_settings(updates={PREFECT_API_URL: self.server.api_url})
        self._settings.__enter__()    # left at exit: the command ends with its flow

    def finish(self) -> None:
        """Nothing to wait for: the server runs until the process exits (the flow's result and
        the summary may still talk to it); kept so the commands' shape stays one."""


def _site_packages() -> str:
    """The folder that holds the ``prefect`` package (uvicorn's ``--app-dir``), found without
    importing it."""
    from importlib.util import find_spec

    return os.path.dirname(find_spec("prefect").submodule_search_locations[0])


def _settings_env() -> dict[str, str]:
    """Prefect settings made in this process (not in the environment or a profile, which the
    server reads itself), as environment variables; none before Prefect is imported."""
    if "prefect.settings" not in sys.modules:
        return {}
    from prefect.settings import get_current_settings

    return get_current_settings().to_environment_variables(exclude_unset=True)


def _free_port() -> int:
    """A port on 127.0.0.1 that is free now, in Prefect's range for temporary servers."""
    for _ in range(50):
        port = random.randrange(8000, 9000)
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port in 8000-8999 on 127.0.0.1 for Prefect's temporary server")


def _ephemeral() -> bool:
    """Whether Prefect will run a temporary server (no ``PREFECT_API_URL``, ephemeral mode on)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def begin(*, server: bool = True) -> EarlyStart:
    """Start Prefect's temporary server (unless ``PREFECT_API_URL`` names one). See the module
    docstring."""
    return EarlyStart(server=server)


__all__ = ["EarlyStart", "TemporaryServer", "begin"]

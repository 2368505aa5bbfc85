"""The start of a command-line run: what it will wait for, started before it is needed.

A one-facility-day ``thermaliq run`` used to spend most of its time before any work: importing
the flows, Great Expectations' import and context (about 3.4 s), and Prefect's temporary API
server, which Prefect starts only when the first flow run asks for a client (a ``uvicorn``
subprocess that migrates its database and answers ``/health`` after a few seconds). ``begin``
starts the server in a thread once the command's checks passed (a refused facility still exits
before Prefect loads), so that it boots on the other core while this process imports the flow;
``start_gx`` adds the GX warm-up; ``ready`` waits for the server just before the flow starts and
``finish`` for both before the command ends.

With ``PREFECT_API_URL`` set (a running ``prefect server start``), Prefect uses that server and no
temporary one is started; see the README ("Fixed cost of a run").
"""
from __future__ import annotations

import threading
from pathlib import Path


class EarlyStart:
    """Threads started by :func:`begin`: Prefect's temporary server and the GX warm-up."""

    def __init__(self, *, server: bool = True):
        self._threads: dict[str, threading.Thread] = {}
        self.errors: dict[str, BaseException] = {}
        if server and _ephemeral():
            from prefect.server.api.server import SubprocessASGIServer   # imported here, not in a thread

            self._spawn("server", SubprocessASGIServer().start)

    def start_gx(self, home: str | Path | None) -> None:
        """Import Great Expectations and open ``home``'s context in a thread (after the command's
        checks passed: it writes the context's files on first use)."""
        self._spawn("gx", lambda: _warm_up_gx(home))

    def _spawn(self, name: str, fn) -> None:
        def run() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - kept; the flow meets the problem again and reports it
                self.errors[name] = exc

        thread = threading.Thread(target=run, name=f"thermaliq-early-{name}", daemon=True)
        thread.start()
        self._threads[name] = thread

    def ready(self) -> None:
        """Wait for the temporary server (if one is starting). A server that failed to start is
        started again by Prefect's client, which then raises its own error."""
        if "server" in self._threads:
            self._threads["server"].join()

    def finish(self) -> None:
        """Wait for every thread (never leave while the GX context files are being written)."""
        for thread in self._threads.values():
            thread.join()


def _ephemeral() -> bool:
    """Whether Prefect will run a temporary server (no ``PREFECT_API_URL``, ephemeral mode on)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def _warm_up_gx(home: str | Path | None) -> None:
    from tasks.gx import validate as gx_validate
    from thermaliq.home import Home

    gx_validate.warm_up(Home.resolve(home).gx)


def begin(*, server: bool = True) -> EarlyStart:
    """Start Prefect's temporary server in a thread (unless ``PREFECT_API_URL`` names one);
    :meth:`EarlyStart.start_gx` adds the GX warm-up. See the module docstring."""
    return EarlyStart(server=server)


__all__ = ["EarlyStart", "begin"]

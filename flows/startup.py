"""The start of a command-line run: Prefect's temporary API server, started before it is needed.

A one-facility-day ``thermaliq run`` spends most of its time before any work: importing the flows,
Great Expectations' import and context (about 3.4 s; the flow warms it up in a thread while the
ingest runs in worker processes, ``flows/fanout.py``), and Prefect's temporary API server, which
Prefect starts only when the first flow run asks for a client (a ``uvicorn`` subprocess that
migrates its database and answers ``/health`` after a few seconds). ``begin`` starts that server
in a thread once the command's checks passed (a refused facility still exits before Prefect
loads), so that it boots in its own process on the other core while this process imports the
flow; ``ready`` waits for it just before the flow starts, ``finish`` before the command ends.
Great Expectations is not started here: its import is Python work in this process, which a thread
would only interleave with the flow's own imports (measured: no gain).

With ``PREFECT_API_URL`` set (a running ``prefect server start``), Prefect uses that server and no
temporary one is started; see the README ("Fixed cost of a run").
"""
from __future__ import annotations

import threading


class EarlyStart:
    """The thread started by :func:`begin`: Prefect's temporary server."""

    def __init__(self, *, server: bool = True):
        self._threads: dict[str, threading.Thread] = {}
        self.errors: dict[str, BaseException] = {}
        if server and _ephemeral():
            from prefect.server.api.server import SubprocessASGIServer   # imported here, not in a thread

            self._spawn("server", SubprocessASGIServer().start)

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
        """Wait for the thread (the command never ends while the server is being started)."""
        for thread in self._threads.values():
            thread.join()


def _ephemeral() -> bool:
    """Whether Prefect will run a temporary server (no ``PREFECT_API_URL``, ephemeral mode on)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def begin(*, server: bool = True) -> EarlyStart:
    """Start Prefect's temporary server in a thread (unless ``PREFECT_API_URL`` names one).
    See the module docstring."""
    return EarlyStart(server=server)


__all__ = ["EarlyStart", "begin"]

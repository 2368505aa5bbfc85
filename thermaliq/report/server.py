"""A small HTTP server for ``<home>/reports`` (used by ``thermaliq serve``), with the Great
Expectations Data Docs under ``/datadocs/`` (:data:`DATA_DOCS_PREFIX`).

The Prefect UI cannot embed HTML, so run artifacts link to the reports served here. It binds to
127.0.0.1 by default, serves only files inside the reports directory (no directory traversal, no
symlinks leading out of it) and answers GET and HEAD only.
"""
from __future__ import annotations

import os
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from thermaliq.settings import load_settings

DEFAULT_PORT = 8765
#: URL path under which the Data Docs are served next to the reports.
DATA_DOCS_PREFIX = "/datadocs/"


class ReportHandler(SimpleHTTPRequestHandler):
    """Static files of the reports directory (and of the Data Docs site below
    :data:`DATA_DOCS_PREFIX`); anything resolving outside them is a 404."""

    def __init__(self, *args, data_docs: str | None = None, **kwargs):
        self.data_docs = data_docs
        super().__init__(*args, **kwargs)

    def translate_path(self, path: str) -> str:
        root = Path(self.directory).resolve()
        if self.data_docs and path.startswith(DATA_DOCS_PREFIX):
            root = Path(self.data_docs).resolve()
            path = "/" + path[len(DATA_DOCS_PREFIX):]
            translated = Path(self.directory_of(root, path)).resolve()
        else:
            translated = Path(super().translate_path(path)).resolve()
        if translated != root and root not in translated.parents:
            return str(root / "__outside__")  # does not exist: 404
        return str(translated)

    def directory_of(self, root: Path, path: str) -> str:
        """``path`` translated as the base class does, below ``root`` instead of the reports."""
        reports, self.directory = self.directory, str(root)
        try:
            return super().translate_path(path)
        finally:
            self.directory = reports

    def list_directory(self, path):  # noqa: D102 - no listings: reports have index.html pages
        self.send_error(404, "No index here")
        return None

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base class
        if load_settings().serve_log:
            super().log_message(format, *args)


def serve(reports_dir: str | os.PathLike, host: str = "127.0.0.1",
          port: int = DEFAULT_PORT, data_docs_dir: str | os.PathLike | None = None) -> ThreadingHTTPServer:
    """A server bound to ``host:port`` for ``reports_dir``; call ``serve_forever()`` on it.

    Parameters
    ----------
    reports_dir : path-like
        ``<home>/reports``; must exist.
    host : str, default "127.0.0.1"
        Interface to bind; keep the loopback unless the reports may be seen on the network.
    port : int, default 8765
        TCP port; 0 picks a free one (see ``server.server_address``).
    data_docs_dir : path-like, optional
        The Data Docs site (``<home>/gx/uncommitted/data_docs/local_site``), served below
        ``/datadocs/``; None serves the reports only.
    """
    root = Path(reports_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"reports directory {root} does not exist; run 'thermaliq report' first")
    docs = str(Path(data_docs_dir).resolve()) if data_docs_dir else None
    return ThreadingHTTPServer((host, port), partial(ReportHandler, directory=str(root), data_docs=docs))


def serve_in_thread(reports_dir: str | os.PathLike, host: str = "127.0.0.1",
                    port: int = 0) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Start :func:`serve` in a daemon thread; stop it with ``server.shutdown(); server.server_close()``."""
    server = serve(reports_dir, host, port)
    thread = threading.Thread(target=server.serve_forever, name="thermaliq-reports", daemon=True)
    thread.start()
    return server, thread


def base_url(server: ThreadingHTTPServer) -> str:
    """``http://host:port`` of a running server."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"

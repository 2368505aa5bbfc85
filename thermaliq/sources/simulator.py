"""A local historian speaking the API of DESIGN §5, with switchable faults (demo and tests).

Standard library HTTP server (``ThreadingHTTPServer``) serving readings from a DataFrame
(``tag, ts, value`` + optional ``unit``, ``quality``) or from a directory of long CSV files. Faults, drawn
per request from a seeded random generator so a test run is reproducible:

* ``delay_s`` with ``slow_rate``: answer only after ``delay_s`` seconds;
* ``error_rate``: HTTP 500;
* ``rate_limit_rate``: HTTP 429 with ``Retry-After: retry_after_s``;
* ``truncate_rate``: HTTP 200 whose JSON body is cut in half (valid HTTP, invalid JSON);
* ``fail_rate``: any one of the faults above, chosen at random.

Use::

    with HistorianSimulator(df, token="secret", page_size=500) as sim:
        sim.set_faults(error_rate=0.2, seed=1)
        fetch_readings(sim.url, "FAC-001", ["FT-101"], start, end, token="secret")

or ``python -m thermaliq.sources.simulator --data DIR --port 8080 --token T``.
"""
from __future__ import annotations

import argparse
import hmac
import json
import logging
import math
import random
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
_FAULTS = ("slow", "error", "rate_limit", "truncate")


def _load_dir(path: Path, tz: str) -> pd.DataFrame:
    from thermaliq.sources.readers import read_readings_file  # only needed for directory data
    frames = [read_readings_file(p, tz=tz, format="long").readings for p in sorted(path.glob("*.csv"))]
    if not frames:
        raise ValueError(f"{path}: no *.csv readings files")
    return pd.concat(frames, ignore_index=True)


class HistorianSimulator:
    """Local historian (DESIGN §5 API) with faults; see the module docstring.

    Parameters
    ----------
    data : pandas.DataFrame or str or pathlib.Path
        Readings (``tag``, ``ts`` tz-aware or UTC, ``value``, optional ``unit``, ``quality``), or a directory
        of long CSV files (naive timestamps read in ``tz``).
    token : str, optional
        Required bearer token; None accepts any request.
    page_size : int
        Readings per page.
    tz : str
        Time zone of naive timestamps when ``data`` is a directory.
    """

    def __init__(self, data, *, token: str | None = None, page_size: int = 1000, tz: str = "UTC"):
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, not {page_size}")
        df = data if isinstance(data, pd.DataFrame) else _load_dir(Path(data), tz)
        missing = {"tag", "ts", "value"} - set(df.columns)
        if missing:
            raise ValueError(f"data lacks columns {sorted(missing)}")
        df = df.reset_index(drop=True)
        self._data = pd.DataFrame({"tag": df["tag"].astype(str), "ts": pd.to_datetime(df["ts"], utc=True),
                                   "value": df["value"],
                                   "unit": df["unit"] if "unit" in df else None,
                                   "quality": df["quality"] if "quality" in df else None})
        self._data = self._data.sort_values(["tag", "ts"], kind="stable", ignore_index=True)
        self._token, self.page_size = token, page_size
        self._lock = threading.Lock()
        self.counters = {"requests": 0, "served": 0, "unauthorized": 0, "bad_request": 0,
                         **{f: 0 for f in _FAULTS}}
        self.set_faults()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.last_body: dict | None = None  # the last query body received (no headers)

    def set_faults(self, *, delay_s: float = 0.0, slow_rate: float = 0.0, error_rate: float = 0.0,
                   rate_limit_rate: float = 0.0, retry_after_s: float = 1,
                   truncate_rate: float = 0.0, fail_rate: float = 0.0, seed: int = 0) -> None:
        """Switch faults on or off (all off by default); rates are probabilities per request."""
        for name, rate in [("slow_rate", slow_rate), ("error_rate", error_rate),
                           ("rate_limit_rate", rate_limit_rate), ("truncate_rate", truncate_rate),
                           ("fail_rate", fail_rate)]:
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within 0..1, not {rate}")
        with self._lock:
            self._faults = dict(delay_s=delay_s, slow=slow_rate, error=error_rate,
                                rate_limit=rate_limit_rate, truncate=truncate_rate, fail=fail_rate,
                                retry_after_s=retry_after_s)
            self._rng = random.Random(seed)

    def _draw_fault(self) -> str | None:
        f = self._faults
        with self._lock:
            if self._rng.random() < f["fail"]:
                return self._rng.choice(_FAULTS)
            for name in ("error", "rate_limit", "truncate", "slow"):
                if self._rng.random() < f[name]:
                    return name
        return None

    def _count(self, key: str) -> None:
        with self._lock:
            self.counters[key] += 1

    def query(self, body: dict) -> dict:
        """The answer to one query body (no faults), for the handler and for inspection."""
        start = pd.Timestamp(body["start_time"])
        end = pd.Timestamp(body["end_time"])
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        tags = body["tags"]
        if not isinstance(tags, list):
            raise ValueError("tags must be a list")
        d = self._data
        sel = d[d["tag"].isin(tags) & (d["ts"] >= start) & (d["ts"] < end)]
        offset = int(body.get("page_token") or 0)
        page = sel.iloc[offset:offset + self.page_size]
        nxt = offset + self.page_size
        return {"readings": [_reading(r) for r in page.itertuples(index=False)],
                "next_page_token": str(nxt) if nxt < len(sel) else None}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL (``http://host:port``)."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="historian-simulator")
        self._thread.start()
        self.url = f"http://{host}:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "HistorianSimulator":
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _reading(r) -> dict:
    v = r.value
    if isinstance(v, (float, np.floating)):
        v = float(v) if math.isfinite(v) else None
    elif isinstance(v, np.integer):
        v = int(v)
    out = {"timestamp": r.ts.isoformat().replace("+00:00", "Z"), "tag": r.tag, "value": v}
    if isinstance(r.unit, str):
        out["unit"] = r.unit
    if isinstance(r.quality, str):
        out["quality"] = r.quality
    return out


def _handler(sim: HistorianSimulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # headers (and so the token) are never logged
            log.debug("simulator: %s", fmt % args)

        def _send(self, code: int, payload: bytes, headers: dict | None = None) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout)
                log.debug("simulator: client disconnected before the answer")

        def do_POST(self):  # noqa: N802
            sim._count("requests")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.rstrip("/") != "/api/query":
                return self._send(404, b'{"error": "not found"}')
            if sim._token is not None and not hmac.compare_digest(
                    self.headers.get("Authorization", ""), f"Bearer {sim._token}"):
                sim._count("unauthorized")
                return self._send(401, b'{"error": "unauthorized"}')
            try:
                body = json.loads(raw)
                sim.last_body = body
                answer = sim.query(body)
            except (ValueError, KeyError, TypeError) as exc:
                sim._count("bad_request")
                return self._send(400, json.dumps({"error": str(exc)}).encode())
            fault = sim._draw_fault()
            if fault:
                sim._count(fault)
            if fault == "error":
                return self._send(500, b'{"error": "internal error (simulated)"}')
            if fault == "rate_limit":
                return self._send(429, b'{"error": "too many requests (simulated)"}',
                                  {"Retry-After": str(sim._faults["retry_after_s"])})
            if fault == "slow":
                time.sleep(sim._faults["delay_s"])
            body = json.dumps(answer).encode()
            if fault == "truncate":
                body = body[: len(body) // 2]
            else:
                sim._count("served")
            self._send(200, body)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """``python -m thermaliq.sources.simulator --data DIR --port N --token T``."""
    ap = argparse.ArgumentParser(description="Local historian (thermaliq DESIGN §5 API).")
    ap.add_argument("--data", required=True, type=Path, help="directory of long CSV files")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--token", default=None, help="required bearer token (default: none)")
    ap.add_argument("--tz", default="UTC", help="time zone of naive timestamps in the files")
    ap.add_argument("--page-size", type=int, default=1000)
    args = ap.parse_args(argv)
    sim = HistorianSimulator(args.data, token=args.token, page_size=args.page_size, tz=args.tz)
    url = sim.start(args.host, args.port)
    print(f"historian simulator on {url}/api/query ({len(sim._data)} readings); Ctrl-C stops",
          flush=True)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


def _exit_on_signal(signum, frame):
    raise SystemExit(0)


if __name__ == "__main__":
    main()

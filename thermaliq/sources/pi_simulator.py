"""A local PI Web API (the endpoints thermaliq uses), with switchable faults (demo and tests).

Standard library HTTP server on 127.0.0.1 serving, under ``/piwebapi``, as documented in the
PI Web API reference:

* ``GET points?path=\\\\<server>\\<tag>`` -> the point (``WebId``, ``Name``, ``Path``...), or
  404 with ``{"Errors": ["PI Point not found ..."]}``;
* ``GET streams/{webId}/recorded?startTime&endTime&maxCount&boundaryType`` -> ``{"Items": [...]}``
  (values in [startTime, endTime], both ends included as for ``boundaryType=Inside``, at most
  ``maxCount``; a request above the server's ``max_count`` is answered with HTTP 400);
* ``GET streamsets/recorded?webId=..&webId=..&...`` -> ``{"Items": [{"WebId", "Name", "Items"}]}``.

A value is ``{"Timestamp", "Value", "UnitsAbbreviation", "Good", "Questionable", "Substituted",
"Annotated"}``; a reading with a ``state`` (e.g. ``Shutdown``, ``I/O Timeout``, ``Bad Input``)
is served as a digital state ``{"Name": state, "Value": code, "IsSystem": true}``. Data: a
DataFrame ``tag, ts, value`` with optional ``state`` and ``questionable``.

Faults per request, from a seeded generator: ``error_rate`` (HTTP 500/502/503),
``rate_limit_rate`` (429 with ``Retry-After``), ``slow_rate`` with ``delay_s``,
``disconnect_rate`` (the connection is closed without an answer), ``truncate_rate`` (JSON cut
in half). Authentication: ``basic=(user, password)`` or ``token`` (bearer); none accepts all.

``python -m thermaliq.sources.pi_simulator [--data DIR] --port 8443`` starts one for a try-out.
"""
from __future__ import annotations

import argparse
import base64
import hmac
import json
import logging
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
_FAULTS = ("error", "rate_limit", "slow", "disconnect", "truncate")
#: PI system digital states (the "SYSTEM" state set) the simulator knows, with their codes.
SYSTEM_STATES = {"Shutdown": 254, "I/O Timeout": 246, "Bad Input": 307, "Calc Failed": 250,
                 "No Data": 248, "Pt Created": 251}


def web_id_of(server: str, tag: str) -> str:
    """A stable WebId for a point (``P1DP`` + URL-safe base64 of its path, as PI's are opaque)."""
    return "P1DP" + base64.urlsafe_b64encode(f"{server}\\{tag}".encode()).decode().rstrip("=")


class PiWebApiSimulator:
    """Local PI Web API; see the module docstring.

    Parameters
    ----------
    data : pandas.DataFrame
        ``tag``, ``ts`` (tz-aware), ``value``, optional ``state`` (digital state name or empty)
        and ``questionable`` (bool).
    data_server : str
        Name of the simulated PI Data Archive.
    basic, token : optional
        Required Basic credentials ``(user, password)`` or bearer token.
    max_count : int
        Largest ``maxCount`` the server accepts (PI's ``MaxReturnedItemsPerCall``).
    """

    def __init__(self, data: pd.DataFrame, *, data_server: str = "PISRV01",
                 basic: tuple[str, str] | None = None, token: str | None = None,
                 max_count: int = 150_000, units: dict[str, str] | None = None):
        missing = {"tag", "ts", "value"} - set(data.columns)
        if missing:
            raise ValueError(f"data lacks columns {sorted(missing)}")
        df = data.assign(ts=pd.to_datetime(data["ts"], utc=True))
        self.data_server, self.max_count, self.units = data_server, max_count, units or {}
        self._series = {}
        for tag, part in df.sort_values(["tag", "ts"], kind="stable").groupby("tag", sort=True):
            state = part["state"].to_numpy(dtype=object) if "state" in part else None
            quest = part["questionable"].to_numpy(dtype=bool) if "questionable" in part else None
            self._series[web_id_of(data_server, str(tag))] = (
                str(tag), part["ts"].astype("datetime64[ns, UTC]").array.asi8,
                part["value"].to_numpy(dtype="float64"), state, quest)
        self._auth = (f"Basic {base64.b64encode(f'{basic[0]}:{basic[1]}'.encode()).decode()}"
                      if basic else f"Bearer {token}" if token else None)
        self._lock = threading.Lock()
        self.counters = {"requests": 0, "unauthorized": 0, **{f: 0 for f in _FAULTS}}
        self.set_faults()
        self._server: ThreadingHTTPServer | None = None
        self.url: str | None = None

    def set_faults(self, *, error_rate: float = 0.0, rate_limit_rate: float = 0.0,
                   slow_rate: float = 0.0, delay_s: float = 0.0, disconnect_rate: float = 0.0,
                   truncate_rate: float = 0.0, retry_after_s: float = 0, seed: int = 0) -> None:
        """Switch faults on (probabilities per request) or off (no arguments)."""
        rates = {"error": error_rate, "rate_limit": rate_limit_rate, "slow": slow_rate,
                 "disconnect": disconnect_rate, "truncate": truncate_rate}
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name}_rate must be within 0..1, not {rate}")
        with self._lock:
            self._rates, self._delay_s, self._retry_after_s = rates, delay_s, retry_after_s
            self._rng = random.Random(seed)

    def draw_fault(self) -> tuple[str | None, int]:
        """The fault of one request (or None) and a 5xx code; counts the request."""
        with self._lock:
            self.counters["requests"] += 1
            draw, edge = self._rng.random(), 0.0
            for name in _FAULTS:
                edge += self._rates[name]
                if draw < edge:
                    self.counters[name] += 1
                    return name, self._rng.choice((500, 502, 503))
        return None, 0

    def point(self, path: str) -> tuple[int, dict]:
        server, _, tag = path.lstrip("\\").partition("\\")
        web_id = web_id_of(server, tag)
        if server != self.data_server or web_id not in self._series:
            return 404, {"Errors": [f"PI Point not found '{path}'."]}
        return 200, {"WebId": web_id, "Id": abs(hash(web_id)) % 100000, "Name": tag,
                     "Path": f"\\\\{server}\\{tag}", "PointClass": "classic",
                     "PointType": "Float32", "EngineeringUnits": self.units.get(tag, ""),
                     "Links": {"RecordedData": f"{self.url}/streams/{web_id}/recorded"}}

    def data_server_web_id(self) -> str:
        """The simulated data server's WebId (``F1DS`` + URL-safe base64 of its name)."""
        return "F1DS" + base64.urlsafe_b64encode(self.data_server.encode()).decode().rstrip("=")

    def server_by_path(self, path: str) -> tuple[int, dict]:
        """``GET dataservers?path=\\\\SERVER``: the data server by path."""
        if path.lstrip("\\") != self.data_server:
            return 404, {"Errors": [f"Data server not found '{path}'."]}
        return 200, {"WebId": self.data_server_web_id(), "Name": self.data_server,
                     "Path": f"\\\\{self.data_server}"}

    def points(self, web_id: str, q: dict) -> tuple[int, dict]:
        """``GET dataservers/{webId}/points``: the server's points, ``startIndex``/``maxCount`` paged."""
        if web_id != self.data_server_web_id():
            return 404, {"Errors": [f"Data server not found '{web_id}'."]}
        start = int(q.get("startIndex", ["0"])[0])
        count = min(int(q.get("maxCount", ["1000"])[0]), 1000)
        names = sorted(tag for tag, *_ in self._series.values())
        return 200, {"Items": [{"Name": t, "WebId": web_id_of(self.data_server, t)}
                               for t in names[start:start + count]]}

    def recorded(self, web_id: str, q: dict) -> tuple[int, dict]:
        """Recorded values of one stream for query ``q`` (lists of strings)."""
        if web_id not in self._series:
            return 404, {"Errors": [f"Unknown or invalid WebID '{web_id}'."]}
        try:
            start = pd.Timestamp(q["startTime"][0]).tz_convert("UTC").value
            end = pd.Timestamp(q["endTime"][0]).tz_convert("UTC").value
            max_count = int(q.get("maxCount", ["1000"])[0])
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"Errors": [f"Bad time or maxCount: {type(exc).__name__}"]}
        if q.get("boundaryType", ["Inside"])[0] != "Inside":
            return 400, {"Errors": ["Only boundaryType=Inside is simulated."]}
        if max_count > self.max_count:
            return 400, {"Errors": [f"maxCount {max_count} exceeds MaxReturnedItemsPerCall "
                                    f"{self.max_count}."]}
        tag, ts, values, state, quest = self._series[web_id]
        lo, hi = np.searchsorted(ts, start, "left"), np.searchsorted(ts, end, "right")
        items = [self._item(tag, ts[i], values[i], state, quest, i)
                 for i in range(lo, min(hi, lo + max_count))]
        return 200, {"Links": {}, "Items": items, "UnitsAbbreviation": self.units.get(tag, "")}

    def _item(self, tag, t, v, state, quest, i) -> dict:
        name = state[i] if state is not None and isinstance(state[i], str) and state[i] else None
        value = ({"Name": name, "Value": SYSTEM_STATES.get(name, 0), "IsSystem": True}
                 if name else (float(v) if math.isfinite(v) else None))
        q = bool(quest[i]) if quest is not None else False
        return {"Timestamp": pd.Timestamp(int(t), tz="UTC").isoformat().replace("+00:00", "Z"),
                "Value": value, "UnitsAbbreviation": self.units.get(tag, ""), "Good": name is None,
                "Questionable": q, "Substituted": False, "Annotated": False}

    def streamset(self, q: dict) -> tuple[int, dict]:
        out = []
        for web_id in q.get("webId", []):
            code, answer = self.recorded(web_id, q)
            if code == 400:
                return code, answer
            entry = {"WebId": web_id, "Name": self._series[web_id][0] if code == 200 else None,
                     "Items": answer.get("Items", [])}
            if code != 200:
                entry["Errors"] = answer["Errors"]
            out.append(entry)
        return 200, {"Links": {}, "Items": out}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL (``http://host:port/piwebapi``)."""
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}/piwebapi"
        threading.Thread(target=self._server.serve_forever, daemon=True, name="pi-sim").start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "PiWebApiSimulator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _handler(sim: PiWebApiSimulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # headers (and so secrets) are never logged
            log.debug("pi simulator: %s", fmt % args)

        def _send(self, code: int, payload: bytes, headers: dict | None = None) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                log.debug("pi simulator: client gone before the answer")

        def do_GET(self):  # noqa: N802
            parts = urlsplit(self.path)
            q = parse_qs(parts.query)
            path = parts.path.rstrip("/")
            if sim._auth is not None and not hmac.compare_digest(
                    self.headers.get("Authorization", ""), sim._auth):
                with sim._lock:
                    sim.counters["unauthorized"] += 1
                return self._send(401, b'{"Errors": ["Authorization has been denied."]}',
                                  {"WWW-Authenticate": "Basic realm=\"PI\""})
            fault, code = sim.draw_fault()
            if fault == "error":
                return self._send(code, b'{"Errors": ["Simulated server error."]}')
            if fault == "rate_limit":
                return self._send(429, b'{"Errors": ["Too many requests."]}',
                                  {"Retry-After": str(sim._retry_after_s)})
            if fault == "disconnect":
                self.close_connection = True
                self.connection.shutdown(2)
                return None
            if fault == "slow":
                time.sleep(sim._delay_s)
            if path == "/piwebapi/points":
                status, answer = sim.point(q.get("path", [""])[0])
            elif path == "/piwebapi/dataservers":
                status, answer = sim.server_by_path(q.get("path", [""])[0])
            elif path.startswith("/piwebapi/dataservers/") and path.endswith("/points"):
                status, answer = sim.points(path.split("/")[3], q)
            elif path == "/piwebapi/streamsets/recorded":
                status, answer = sim.streamset(q)
            elif path.startswith("/piwebapi/streams/") and path.endswith("/recorded"):
                status, answer = sim.recorded(path.split("/")[3], q)
            else:
                status, answer = 404, {"Errors": [f"No resource at {path}."]}
            body = json.dumps(answer).encode()
            if fault == "truncate":
                body = body[: len(body) // 2]
            self._send(status, body)

    return Handler


def run_pi_simulator(argv: list[str] | None = None) -> None:
    """``python -m thermaliq.sources.pi_simulator [--data DIR] --port N [--user U --password P]``."""
    from thermaliq.sources.opcua_server import demo_data

    ap = argparse.ArgumentParser(description="Local PI Web API simulator.")
    ap.add_argument("--data", help="directory of long CSV readings files (default: a demo day)")
    ap.add_argument("--tz", default="UTC", help="time zone of naive timestamps in --data")
    ap.add_argument("--port", type=int, default=8443)
    ap.add_argument("--data-server", default="PISRV01")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--error-rate", type=float, default=0.0)
    args = ap.parse_args(argv)
    if args.data:
        from pathlib import Path
        from thermaliq.sources.readers import read_readings_file
        data = pd.concat([read_readings_file(p, tz=args.tz, format="long").readings
                          for p in sorted(Path(args.data).glob("*.csv"))], ignore_index=True)
    else:
        data = demo_data()
    sim = PiWebApiSimulator(data, data_server=args.data_server,
                            basic=(args.user, args.password or "") if args.user else None)
    sim.set_faults(error_rate=args.error_rate)
    url = sim.start(port=args.port)
    print(f"PI Web API simulator at {url} (data server {args.data_server}, "
          f"{data['tag'].nunique()} points); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":
    run_pi_simulator()


__all__ = ["PiWebApiSimulator", "web_id_of", "SYSTEM_STATES"]

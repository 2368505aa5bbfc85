"""PI Web API connector (OSIsoft/AVEVA PI), returning raw readings.

Each tag resolves to its WebId through ``GET {url}/points?path=\\\\<data_server>\\<tag>`` (cached
per run, i.e. per call). Recorded values of ``batch_tags`` points at a time come from
``GET {url}/streamsets/recorded?webId=..&webId=..`` with ``startTime``, ``endTime``,
``maxCount`` and ``boundaryType=Inside``; a stream that returns ``maxCount`` values is followed
with ``GET {url}/streams/{webId}/recorded`` from its last timestamp until it returns fewer, so
no value is lost and none arrives twice (values at or before the last one received are skipped).

A value keeps PI's flags as ``quality``: ``Good``, or ``Questionable`` when ``Good`` is false or
``Questionable`` true. A digital-state value (``{"Name": "Shutdown", "Value": 254}``, also
``I/O Timeout``, ``Bad Input``...) becomes a rejected row whose reason names the state.
``source`` is ``"piwebapi:" + url``; ``row`` is the value's 1-based position in the order received.

Reliability is the REST historian's (:func:`thermaliq.sources.retry.call_with_retry`): 5xx, 429
(``Retry-After``), timeouts, dropped connections and bodies that are not JSON are retried with
backoff; 401/403 and other 4xx are not; one circuit breaker per URL. Authentication is Basic or
bearer; TLS certificates are verified (``verify``: True or the path of a CA bundle). Secrets go
into the Authorization header only and are masked in any error text.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import requests

from thermaliq.errors import HistorianError
from thermaliq.sources.credentials import Credentials, mask
from thermaliq.sources.readers import ReadResult, empty_raw_readings, empty_rejects, rejects_frame
from thermaliq.sources.retry import (CircuitBreaker, RetryPolicy, Retryable, breaker_for,
                                     call_with_retry, increment_stat, redact_url)

_HINTS = {401: "unauthorized: check username_env/password_env or token_env",
          403: "forbidden: the account may not read these points"}


class PiWebApi:
    """A session with one PI Web API: GETs under the policy, WebIds cached.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``https://pi.plant.local/piwebapi``.
    credentials : Credentials, optional
        ``username`` + ``password`` (Basic) or ``token`` (bearer); none: anonymous.
    verify : bool or str
        TLS verification: True, or the path of a CA bundle (PEM).
    """

    def __init__(self, url: str, credentials: Credentials | None = None, *, verify: bool | str = True,
                 timeout_s: float = 30.0, retry: RetryPolicy | None = None,
                 breaker: CircuitBreaker | None = None, session: requests.Session | None = None):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, not {timeout_s}")
        self.base = url.rstrip("/")
        self.safe = redact_url(self.base)
        self.credentials = credentials or Credentials()
        self.timeouts = (min(timeout_s, 10.0), timeout_s)
        self.retry, self.breaker = retry or RetryPolicy(), breaker or breaker_for(self.base)
        self.session = session or requests.Session()
        self.session.verify = verify
        self.session.headers["Accept"] = "application/json"
        c = self.credentials
        if c.token:
            self.session.headers["Authorization"] = f"Bearer {c.token}"
        elif c.username:
            self.session.auth = (c.username, c.password or "")
        self.web_ids: dict[str, str] = {}

    def close(self) -> None:
        self.session.close()

    def _once(self, path: str, params) -> tuple[int, dict]:
        increment_stat("requests")
        try:
            resp = self.session.get(self.base + path, params=params, timeout=self.timeouts)
        except requests.Timeout as exc:
            increment_stat("connector_timeouts_total")
            raise Retryable(f"timed out ({type(exc).__name__})") from None
        except requests.exceptions.SSLError:
            raise HistorianError(f"PI Web API {self.safe}: TLS certificate not trusted; set "
                                 "source.ca_bundle to the plant's CA bundle", permanent=True) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise Retryable(f"connection error ({type(exc).__name__})") from None
        code = resp.status_code
        if code == 429:
            try:
                after = float(resp.headers.get("Retry-After", ""))
            except ValueError:
                after = None
            raise Retryable("HTTP 429 Too Many Requests", after)
        if code >= 500:
            raise Retryable(f"HTTP {code}")
        try:
            data = resp.json()
        except ValueError:
            if code == 200:
                raise Retryable(f"invalid JSON ({len(resp.content)} bytes, truncated?)") from None
            data = {}
        if code in _HINTS:
            raise HistorianError(f"PI Web API {self.safe}: HTTP {code} {_HINTS[code]} (not retried)",
                                 permanent=True)
        return code, data if isinstance(data, dict) else {}

    def get(self, path: str, params) -> tuple[int, dict]:
        """(HTTP status, JSON object) of one GET; 2xx and 4xx other than 401/403 are returned."""
        return call_with_retry(lambda: self._once(path, params), self.retry, self.breaker,
                               f"PI Web API {self.safe}")

    def web_id(self, data_server: str, tag: str) -> tuple[str | None, str | None]:
        """(WebId, None) of ``\\\\data_server\\tag``, or (None, why) when the point is unknown."""
        if tag not in self.web_ids:
            code, data = self.get("/points", {"path": f"\\\\{data_server}\\{tag}",
                                              "selectedFields": "WebId;Name"})
            if code != 200 or not data.get("WebId"):
                errors = "; ".join(map(str, data.get("Errors", []))) or f"HTTP {code}"
                return None, mask(f"point \\\\{data_server}\\{tag} not found ({errors})", self.credentials)
            self.web_ids[tag] = data["WebId"]
        return self.web_ids[tag], None


def _time(t, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {t!r}")
    return ts.tz_convert("UTC")


def _iso(ts: pd.Timestamp) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _recorded_params(start: pd.Timestamp, end: pd.Timestamp, max_count: int) -> dict:
    return {"startTime": _iso(start), "endTime": _iso(end), "maxCount": max_count,
            "boundaryType": "Inside"}


def fetch_pi_readings(url: str, data_server: str, tags: Sequence[str], start, end, *,
                      credentials: Credentials | None = None, verify: bool | str = True,
                      timeout_s: float = 30.0, batch_tags: int = 50, max_count: int = 10000,
                      retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                      session: requests.Session | None = None, since: dict | None = None) -> ReadResult:
    """Recorded values of ``tags`` in [start, end) from a PI Web API.

    Parameters
    ----------
    url, data_server : str
        PI Web API base URL and the PI Data Archive's name.
    tags : sequence of str
        PI point names; a point that does not exist is named in the notes, not read.
    start, end : datetime or pandas.Timestamp
        Timezone-aware window bounds [UTC instants].
    credentials, verify : Credentials, bool or str
        Basic or bearer credentials; TLS verification (True or a CA bundle path).
    timeout_s : float
        Read timeout of each request [s] (connect: ``min(timeout_s, 10)``).
    batch_tags, max_count : int
        Points per streamset request; values per stream and request.
    since : dict, optional
        Tag -> last timestamp already stored [UTC]: that tag is read after it only (incremental);
        tags with the same ``since`` share streamset requests.

    Returns
    -------
    ReadResult
        Raw readings (``quality`` Good/Questionable, in the configured units), rejects
        (digital states, non-numeric values) and notes (points not found).

    Raises
    ------
    HistorianError
        After retries, on 401/403 or an untrusted certificate, or at once when the circuit is open.
    """
    if batch_tags < 1 or max_count < 1:
        raise ValueError(f"batch_tags and max_count must be >= 1, not {batch_tags}, {max_count}")
    t0, t1 = _time(start, "start"), _time(end, "end")
    api = PiWebApi(url, credentials, verify=verify, timeout_s=timeout_s, retry=retry,
                   breaker=breaker, session=session)
    records, notes = [], []
    try:
        groups: dict = {}      # first timestamp to read -> [(tag, WebId)]
        for tag in dict.fromkeys(tags):
            web_id, why = api.web_id(data_server, tag)
            if web_id is None:
                notes.append(f"{tag}: {why}; not read")
                continue
            last = _time(since[tag], "since") if since and tag in since else None
            groups.setdefault(last if last is not None and last > t0 else None, []).append((tag, web_id))
        for last, found in groups.items():
            for i in range(0, len(found), batch_tags):
                _read_batch(api, found[i:i + batch_tags], t0 if last is None else last, t1,
                            max_count, records, notes, last)
    finally:
        if session is None:
            api.close()
    return readings_from_items(records, "piwebapi:" + api.safe, notes)


def _read_batch(api: PiWebApi, batch, t0, t1, max_count: int, records: list, notes: list,
                after=None) -> None:
    """Read the streams of ``batch`` from ``t0`` (values at or before ``after`` are skipped)."""
    params = [("webId", w) for _, w in batch] + list(_recorded_params(t0, t1, max_count).items())
    code, data = api.get("/streamsets/recorded", params)
    if code != 200:
        raise HistorianError(f"PI Web API {api.safe}: streamsets/recorded answered HTTP {code}: "
                             f"{mask(str(data.get('Errors', ''))[:200], api.credentials)}", permanent=True)
    by_id = {s.get("WebId"): s.get("Items") or [] for s in data.get("Items", []) if isinstance(s, dict)}
    for tag, web_id in batch:
        items = by_id.get(web_id)
        if items is None:
            notes.append(f"{tag}: no stream in the streamset answer; read on its own")
            last = after
        else:
            last = _take(tag, items, t1, after, records)
            if len(items) < max_count:
                continue
        _follow(api, tag, web_id, t0 if last is None else last, t1, max_count, records, last)


def _follow(api: PiWebApi, tag: str, web_id: str, since, t1, max_count: int, records: list,
            last) -> None:
    """Read one stream from ``since`` on until a page holds fewer than ``max_count`` values."""
    while True:
        code, data = api.get(f"/streams/{web_id}/recorded", _recorded_params(since, t1, max_count))
        if code != 200:
            raise HistorianError(f"PI Web API {api.safe}: streams/recorded of {tag} answered HTTP "
                                 f"{code}", permanent=True)
        items = data.get("Items") or []
        new_last = _take(tag, items, t1, last, records)
        if len(items) < max_count or new_last is None or new_last == last:
            return
        since = last = new_last


def _take(tag: str, items: list, t1: pd.Timestamp, last, records: list):
    """Append the items after ``last`` and before ``t1``; return the last timestamp received."""
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            ts = pd.Timestamp(item.get("Timestamp")).tz_convert("UTC")
        except (ValueError, TypeError):
            records.append((tag, None, item))
            continue
        if ts >= t1 or (last is not None and ts <= last):
            continue
        records.append((tag, ts, item))
        last = ts
    return last


def _classify(item: dict) -> tuple[float, str | None, str | None]:
    """(value, quality, reject reason) of one PI value."""
    v = item.get("Value")
    if isinstance(v, dict):   # a digital state (system states: Shutdown, I/O Timeout, Bad Input...)
        return math.nan, None, f"PI digital state {v.get('Name', '?')!s}"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan, None, "non-numeric value"
    x = float(v)
    if not math.isfinite(x):
        return math.nan, None, "non-finite value"
    good = item.get("Good", True) is not False and not item.get("Questionable", False)
    return x, "Good" if good else "Questionable", None


def readings_from_items(records: list, source: str, notes: list[str]) -> ReadResult:
    """Raw readings and rejects from ``(tag, timestamp, PI value object)`` records."""
    if not records:
        return ReadResult(empty_raw_readings(), empty_rejects(), list(notes))
    keep, bad = [], []
    for i, (tag, ts, item) in enumerate(records, start=1):
        x, quality, why = _classify(item) if ts is not None else (math.nan, None, "unparseable timestamp")
        if why:
            bad.append((i, why, {"tag": tag, **item}))
        else:
            keep.append((tag, ts, x, None, quality, i))   # unit: the configured one (PI's
            # UnitsAbbreviation are free text, e.g. "m³/h", not always a unit pint reads)
    rejects = rejects_frame(source, [b[0] for b in bad], [b[1] for b in bad], [b[2] for b in bad])
    readings = pd.DataFrame({
        "tag": pd.Series([k[0] for k in keep], dtype="str"),
        "ts": pd.DatetimeIndex([k[1] for k in keep]).astype("datetime64[ns, UTC]"),
        "value": np.array([k[2] for k in keep], dtype="float64"),
        "unit": pd.Series([k[3] for k in keep], dtype="str"),
        "quality": pd.Series([k[4] for k in keep], dtype="str"),
        "source": pd.Series([source] * len(keep), dtype="str"),
        "row": np.array([k[5] for k in keep], dtype=np.int64)})
    return ReadResult(readings, rejects, list(notes))


__all__ = ["PiWebApi", "fetch_pi_readings", "readings_from_items"]

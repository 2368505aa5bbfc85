"""REST connector to a plant historian (DESIGN §5), returning raw readings.

``fetch_readings`` POSTs ``{url}/api/query`` with a bearer token, batches the tags, follows
``next_page_token`` and turns the answer into the raw-readings shape of docs/ARCHITECTURE.md
(``source = "historian:" + url``; ``row`` = 1-based position of the reading in the answers, in
the order received).

Reliability rules:

* Each request has a (connect, read) timeout: ``(min(timeout_s, 10), timeout_s)`` [s].
* Retried, with exponential backoff and full jitter (``RetryPolicy``): HTTP 5xx, connection
  errors, timeouts, bodies that are not valid JSON (e.g. truncated), and 429 (waiting
  ``Retry-After`` seconds when given, capped by ``RetryPolicy.max_retry_after_s``).
* Never retried: any other 4xx. 401/403/404 raise ``HistorianError`` at once with a hint.
* A page request that still fails after its retries counts as one failed call of the
  historian's ``CircuitBreaker`` (one per URL, module registry). After ``failure_threshold``
  consecutive failed calls the circuit opens: every later call fails fast with
  ``HistorianError("circuit open ...")`` until ``cooldown_s`` has passed (default: forever, i.e.
  for the rest of the run), then one trial call is let through (half-open).
* The token only ever goes into the ``Authorization`` header: it is never logged, never put
  into an exception, and would be masked if a server echoed it into an error text.

Counters for metrics are in :func:`stats` (``connector_timeouts_total``, ``retries``,
``requests``, ``circuit_state`` per URL: 0 closed, 1 open, 2 half-open).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import requests

from thermaliq.errors import HistorianError
from thermaliq.sources.retry import (CIRCUIT_STATE_VALUES, CircuitBreaker, RetryPolicy, breaker_for,
                                     check_deadline, deadline_wait_s, increment_stat, redact_url,
                                     reset_breakers, reset_stats, stats)
from thermaliq.sources.readers import ReadResult, empty_raw_readings, empty_rejects, rejects_frame
from thermaliq.settings import secret

log = logging.getLogger(__name__)

def token_from_env(name: str | None) -> str | None:
    """The bearer token from the environment variable ``name`` (``source.token_env``).

    Returns None when ``name`` is None (no token configured). Raises ``ConfigError`` naming the
    variable when it is configured but unset or empty. The value is never logged.
    """
    if name is None:
        return None
    return secret(name, field="source.token_env")


def _iso_utc(t: datetime | pd.Timestamp, name: str) -> str:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {t!r}")
    return ts.tz_convert("UTC").isoformat().replace("+00:00", "Z")


class _Retryable(Exception):
    def __init__(self, what: str, retry_after_s: float | None = None):
        super().__init__(what)
        self.what, self.retry_after_s = what, retry_after_s


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:  # absent or an HTTP date: fall back to backoff
        return None


_HINTS = {401: "unauthorized: check the token (source.token_env)",
          403: "forbidden: the token may not read this facility or these tags",
          404: "not found: check source.url (the API is POST {url}/api/query)"}


def _page(session, endpoint: str, body: dict, headers: dict, timeouts, url: str, token) -> dict:
    """One request; returns the parsed page or raises _Retryable / HistorianError."""
    increment_stat("requests")
    try:
        resp = session.post(endpoint, json=body, headers=headers, timeout=timeouts)
    except requests.Timeout as exc:
        increment_stat("connector_timeouts_total")
        raise _Retryable(f"timed out ({type(exc).__name__})") from None
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError) as exc:
        raise _Retryable(f"connection error ({type(exc).__name__})") from None
    code = resp.status_code
    if code == 429:
        raise _Retryable("HTTP 429 Too Many Requests", _retry_after(resp))
    if code >= 500:
        raise _Retryable(f"HTTP {code}")
    if code != 200:
        text = resp.text[:200].replace(token, "***") if token else resp.text[:200]
        hint = _HINTS.get(code, "request rejected")
        raise HistorianError(f"historian {url}: HTTP {code} {hint} (not retried); answer: {text!r}",
                             permanent=True)
    try:
        data = resp.json()
    except ValueError:
        raise _Retryable(f"invalid JSON in answer ({len(resp.content)} bytes, truncated?)") from None
    if not isinstance(data, dict) or not isinstance(data.get("readings"), list):
        raise _Retryable("answer without a 'readings' list")
    return data


def _call(session, endpoint, body, headers, timeouts, url, token, retry: RetryPolicy,
          breaker: CircuitBreaker) -> dict:
    breaker.before_call()
    for attempt in range(retry.attempts):
        check_deadline(f"historian {url}")
        try:
            data = _page(session, endpoint, body, headers, timeouts, url, token)
        except _Retryable as exc:
            last = exc
            if attempt + 1 < retry.attempts:
                wait = deadline_wait_s(retry.delay_s(attempt, exc.retry_after_s))
                log.warning("historian %s: %s; retry %d/%d in %.2f s", url, exc.what,
                            attempt + 1, retry.attempts - 1, wait)
                increment_stat("retries")
                retry.sleep(wait)
            continue
        breaker.record_success()
        return data
    breaker.record_failure()
    raise HistorianError(f"historian {url}: {last.what} after {retry.attempts} attempt(s)")


def fetch_readings(url: str, facility_id: str, tags: Sequence[str], start, end, *,
                   token: str | None, timeout_s: float = 30.0, batch_tags: int = 50,
                   session: requests.Session | None = None, retry: RetryPolicy | None = None,
                   breaker: CircuitBreaker | None = None) -> ReadResult:
    """Fetch the readings of ``tags`` in [start, end) from a historian (DESIGN §5).

    Parameters
    ----------
    url : str
        Historian base URL, e.g. ``http://historian.local:8080``.
    facility_id : str
        Facility whose readings are asked for.
    tags : sequence of str
        Tags to fetch; sent in batches of ``batch_tags``.
    start, end : datetime or pandas.Timestamp
        Timezone-aware window bounds [UTC instants]; sent as ISO 8601 with ``Z``.
    token : str or None
        Bearer token (see :func:`token_from_env`); None sends no Authorization header.
    timeout_s : float
        Read timeout of each request [s]; the connect timeout is ``min(timeout_s, 10)`` [s].
    batch_tags : int
        Tags per query.
    session : requests.Session, optional
        Session to reuse (connection pooling); one is made and closed otherwise.
    retry : RetryPolicy, optional
        Retry schedule; default ``RetryPolicy()``.
    breaker : CircuitBreaker, optional
        Default: the registry's breaker of ``url`` (:func:`breaker_for`).

    Returns
    -------
    ReadResult
        Raw readings (``source = "historian:" + url``), rejects (non-numeric or incomplete
        readings, raw = the reading's JSON) and notes.

    Raises
    ------
    HistorianError
        After retries are exhausted, on a non-retryable answer (401, 403, 404, other 4xx), or
        at once when the circuit of ``url`` is open.
    """
    if batch_tags < 1:
        raise ValueError(f"batch_tags must be >= 1, not {batch_tags}")
    base = url.rstrip("/")
    safe = redact_url(base)
    retry = retry or RetryPolicy()
    breaker = breaker or breaker_for(base)
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    timeouts = (min(timeout_s, 10.0), timeout_s)
    body = {"facility_id": facility_id, "start_time": _iso_utc(start, "start"),
            "end_time": _iso_utc(end, "end")}
    tags = list(dict.fromkeys(tags))
    own = session is None
    session = session or requests.Session()
    records: list = []
    try:
        for i in range(0, len(tags), batch_tags):
            page_token, seen = None, set()
            while True:
                q = {**body, "tags": tags[i:i + batch_tags], "page_token": page_token}
                data = _call(session, base + "/api/query", q, headers, timeouts, safe, token,
                             retry, breaker)
                records.extend(data["readings"])
                page_token = data.get("next_page_token")
                if not page_token:
                    break
                if page_token in seen:
                    raise HistorianError(f"historian {safe}: page token {page_token!r} repeated")
                seen.add(page_token)
    finally:
        if own:
            session.close()
    return readings_from_records(records, "historian:" + safe)


def _value_reason(v) -> tuple[float, str | None]:
    """The float value of a JSON value and the reject reason (None when it is usable)."""
    if v is None:
        return math.nan, "missing value"
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return math.nan, "non-numeric value"
    try:
        x = float(v)
    except (ValueError, OverflowError):
        return math.nan, "non-numeric value"
    return (x, None) if math.isfinite(x) else (math.nan, "non-finite value")


def _text(v) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def readings_from_records(records: list, source: str) -> ReadResult:
    """Raw readings and rejects from historian reading objects (``timestamp, tag, value, ...``).

    A timestamp without offset is taken as UTC (the API speaks UTC). Readings that are not
    objects, lack a tag or timestamp, or whose value is not a finite number are rejected;
    ``row`` is the 1-based position of the reading in ``records``.
    """
    if not records:
        return ReadResult(empty_raw_readings(), empty_rejects(), [])
    recs = [r if isinstance(r, dict) else {} for r in records]
    ts = pd.to_datetime(pd.Series([_text(r.get("timestamp")) for r in recs], dtype="str"),
                        utc=True, format="ISO8601", errors="coerce")
    parsed = [_value_reason(r.get("value")) for r in recs]
    reason = []
    for r, t, (_, why) in zip(recs, ts.isna().to_numpy(), parsed):
        tag = r.get("tag")
        reason.append("missing tag" if not (isinstance(tag, str) and tag.strip())
                      else "unparseable timestamp" if t else why)
    bad = np.array([x is not None for x in reason], dtype=bool)
    ok = np.flatnonzero(~bad)
    row = np.arange(1, len(recs) + 1, dtype=np.int64)
    idx = np.flatnonzero(bad)
    rejects = rejects_frame(source, row[idx], [reason[i] for i in idx], [records[i] for i in idx])

    def text(col):
        return pd.Series([_text(recs[i].get(col)) for i in ok], dtype="str")

    readings = pd.DataFrame({"tag": text("tag"),
                             "ts": pd.DatetimeIndex(ts.to_numpy()[ok]).astype("datetime64[ns, UTC]"),
                             "value": np.array([parsed[i][0] for i in ok], dtype="float64"),
                             "unit": text("unit"), "quality": text("quality"),
                             "source": pd.Series([source] * len(ok), dtype="str"),
                             "row": row[ok]})
    return ReadResult(readings, rejects, [])


__all__ = ["fetch_readings", "readings_from_records", "token_from_env", "RetryPolicy",
           "CircuitBreaker", "breaker_for", "reset_breakers", "stats", "reset_stats",
           "CIRCUIT_STATE_VALUES"]

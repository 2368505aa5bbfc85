"""Ingest from an OPC UA or PI Web API historian: a window of readings into the lake.

Same lake, cleaning, quarantine and guarantees as files and the REST historian
(:func:`thermaliq.pipeline.ingest.store_raw`): readings are merged per local day with what is
stored, so a window read twice (a retry, an overlapping backfill) stores every reading once.

Incremental: unless ``incremental=False``, each tag is read only after the last reading the
lake holds for it in the window, provided the tag has readings on every local day from the
window's first day up to that reading (a tag with a missing day in between is read over the
whole window, so a backfill fills holes). Values at or before that reading are never asked for.
"""
from __future__ import annotations


import pandas as pd

from thermaliq import periods
from thermaliq.config import Facility
from thermaliq.home import Home
from thermaliq.pipeline.ingest import IngestSummary, store_raw
from thermaliq.sources.credentials import Credentials
from thermaliq.store import lake

REMOTE_KINDS = ("opcua", "piwebapi")


def last_stored(home: Home, facility: Facility, start: pd.Timestamp, end: pd.Timestamp
                ) -> dict[str, pd.Timestamp]:
    """Tag -> its last stored reading in [start, end) when the tag has readings on every local
    day from ``start``'s day to that reading's day (else the tag is left out)."""
    tz = facility.timezone
    first = periods.local_dates(pd.Series([start]), tz).iloc[0]
    last_day = periods.local_dates(pd.Series([end - pd.Timedelta(1, "ns")]), tz).iloc[0]
    stored = lake.read_readings_days(home.lake, facility.facility_id, periods.days_in(first, last_day))
    if stored.empty:
        return {}
    ts = pd.to_datetime(stored["ts"], utc=True)
    inside = stored.loc[(ts >= start) & (ts < end), ["tag"]].assign(ts=ts[(ts >= start) & (ts < end)])
    inside["day"] = periods.local_dates(inside["ts"], tz)
    out = {}
    for tag, part in inside.groupby("tag", sort=True):
        newest = part["ts"].max()
        days = set(part["day"])
        need = periods.days_in(first, periods.local_dates(pd.Series([newest]), tz).iloc[0])
        if all(d in days for d in need):
            out[str(tag)] = newest
    return out


def _path(home: Home, rel: str | None) -> str | None:
    return None if rel is None else str(home.inside(rel))


def fetch_remote(home: Home, facility: Facility, start: pd.Timestamp, end: pd.Timestamp,
                 credentials: Credentials, since: dict | None = None, **options):
    """The readings of the facility's tags in [start, end) from its ``opcua`` or ``piwebapi``
    source (``options``: connector keywords such as ``retry``); a ``ReadResult``."""
    src = facility.source
    tags = list(facility.tag_specs())
    if src.kind == "opcua":
        from thermaliq.sources.opcua import OpcUaSecurity, fetch_opcua_readings

        security = OpcUaSecurity(src.security_mode, _path(home, src.certificate),
                                 _path(home, src.private_key))
        return fetch_opcua_readings(src.endpoint, tags, start, end, nodes=dict(src.nodes),
                                    namespace=src.namespace, credentials=credentials,
                                    security=security, timeout_s=src.timeout_s,
                                    batch_tags=src.batch_tags, since=since, **options)
    if src.kind == "piwebapi":
        from thermaliq.sources.piwebapi import fetch_pi_readings

        verify = _path(home, src.ca_bundle) or True
        return fetch_pi_readings(src.url, src.data_server, tags, start, end,
                                 credentials=credentials, verify=verify, timeout_s=src.timeout_s,
                                 batch_tags=src.batch_tags, max_count=src.max_count, since=since,
                                 **options)
    raise ValueError(f"facility {facility.facility_id}: source kind {src.kind!r} is not one of "
                     f"{REMOTE_KINDS}")


def ingest_remote(home: Home, facility: Facility, start: pd.Timestamp, end: pd.Timestamp, *,
                  credentials: Credentials, incremental: bool = True,
                  now: pd.Timestamp | None = None, **options) -> IngestSummary:
    """Fetch ``[start, end)`` from the facility's OPC UA or PI Web API source into the lake.

    Parameters
    ----------
    credentials : Credentials
        From :func:`thermaliq.sources.credentials.source_credentials`.
    incremental : bool
        Read each tag only after its last stored reading (see the module docstring).
    options
        Passed to the connector (``retry``, ``breaker``; ``page_values`` for OPC UA).
    """
    now = now or pd.Timestamp.now(tz="UTC")
    since = last_stored(home, facility, start, end) if incremental else None
    result = fetch_remote(home, facility, start, end, credentials, since=since, **options)
    summary = IngestSummary(facility.facility_id, sources_read=1)
    if since:
        summary.notes.append(f"incremental: {len(since)} tag(s) read after their last stored reading")
    store_raw(home, facility, result, now, summary)
    return summary


__all__ = ["REMOTE_KINDS", "fetch_remote", "ingest_remote", "last_stored"]

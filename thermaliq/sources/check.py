"""Check a facility's historian before any run: connect, resolve every configured tag, say what is missing.

``check_source`` returns a :class:`SourceCheck` (what ``thermaliq check-source -f ID`` prints):
for ``opcua`` each tag's node (node id or browse path) must exist; for ``piwebapi`` each tag must
resolve to a PI point (``GET points?path=``); for the REST ``historian``, whose API has no tag
lookup, a tag counts as found when it has readings in the last 24 hours. It reads no history
(apart from that REST query) and writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from thermaliq.errors import HistorianError
from thermaliq.home import Home
from thermaliq.sources.credentials import Credentials
from thermaliq.sources.retry import RetryPolicy, breaker_for, redact_url


@dataclass(frozen=True)
class SourceCheck:
    """The outcome of a source check.

    ``found``: (tag, node id / WebId / "readings") pairs; ``missing``: (tag, why) pairs;
    ``error``: why the source could not be reached at all (None when it answered).
    """

    facility_id: str
    kind: str
    target: str
    found: tuple[tuple[str, str], ...] = ()
    missing: tuple[tuple[str, str], ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing


def _check_opcua(home: Home, src, tags, credentials, retry) -> tuple[list, list]:
    from thermaliq.sources.opcua import OpcUaSecurity, OpcUaSession, resolve_tags

    security = OpcUaSecurity(src.security_mode,
                             str(home.inside(src.certificate)) if src.certificate else None,
                             str(home.inside(src.private_key)) if src.private_key else None)
    session = OpcUaSession(src.endpoint, credentials, security, src.timeout_s)
    try:
        rows = resolve_tags(session, tags, dict(src.nodes), src.namespace, retry,
                            breaker_for(src.endpoint))
    finally:
        session.close()
    found = [(t, node.to_string()) for t, node, _ in rows if node is not None]
    missing = [(t, why or "") for t, node, why in rows if node is None]
    return found, missing


def _check_pi(home: Home, src, tags, credentials, retry) -> tuple[list, list]:
    from thermaliq.sources.piwebapi import PiWebApi

    verify = str(home.inside(src.ca_bundle)) if src.ca_bundle else True
    api = PiWebApi(src.url, credentials, verify=verify, timeout_s=src.timeout_s, retry=retry)
    found, missing = [], []
    try:
        for tag in tags:
            web_id, why = api.web_id(src.data_server, tag)
            (found if web_id else missing).append((tag, web_id or why))
    finally:
        api.close()
    return found, missing


def _check_rest(facility, tags, credentials, retry) -> tuple[list, list]:
    from thermaliq.sources.historian import fetch_readings

    end = pd.Timestamp.now(tz="UTC").floor("min")
    result = fetch_readings(facility.source.url, facility.facility_id, tags,
                            end - pd.Timedelta(days=1), end, token=credentials.token,
                            timeout_s=facility.source.timeout_s,
                            batch_tags=facility.source.batch_tags, retry=retry)
    counts = result.readings["tag"].value_counts()
    found = [(t, f"{int(counts[t])} readings in the last 24 h") for t in tags if t in counts]
    missing = [(t, "no readings in the last 24 h") for t in tags if t not in counts]
    return found, missing


def check_source(home: Home, facility, credentials: Credentials, *,
                 retry: RetryPolicy | None = None) -> SourceCheck:
    """Connect to the facility's historian and resolve every configured tag.

    Parameters
    ----------
    home : Home
        The home (certificate and CA bundle paths are relative to it).
    facility : thermaliq.config.Facility
        A facility with an ``opcua``, ``piwebapi`` or ``historian`` source.
    credentials : Credentials
        From :func:`thermaliq.sources.credentials.source_credentials`.
    retry : RetryPolicy, optional
        Default: two attempts (a check should answer quickly).

    Returns
    -------
    SourceCheck
        ``error`` set (and nothing resolved) when the source cannot be reached after retries.
    """
    src = facility.source
    tags = list(facility.tag_specs())
    retry = retry or RetryPolicy(attempts=2, base_s=0.5)
    target = redact_url(src.endpoint or src.url or "")
    check = {"opcua": lambda: _check_opcua(home, src, tags, credentials, retry),
             "piwebapi": lambda: _check_pi(home, src, tags, credentials, retry),
             "historian": lambda: _check_rest(facility, tags, credentials, retry)}.get(src.kind)
    if check is None:
        raise ValueError(f"facility {facility.facility_id}: check_source handles historian, opcua "
                         f"and piwebapi sources, not {src.kind!r}")
    try:
        found, missing = check()
    except HistorianError as exc:
        return SourceCheck(facility.facility_id, src.kind, target, error=str(exc))
    return SourceCheck(facility.facility_id, src.kind, target, tuple(found), tuple(missing))


__all__ = ["SourceCheck", "check_source"]

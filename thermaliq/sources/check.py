"""Check a facility's historian before any run: connect, resolve every configured tag, say what is missing.

``check_source`` returns a :class:`SourceCheck` (what ``thermaliq check-source -f ID`` prints):
for ``opcua`` each tag's node (node id or browse path) must exist; for ``piwebapi`` each tag must
resolve to a PI point (``GET points?path=``); for the REST ``historian``, whose API has no tag
lookup, a tag counts as found when it has readings in the last 24 hours. It reads no history
(apart from that REST query) and writes nothing.

It also lists the source's tags that no stream uses (``unused``: the likely typos, beside the
configured tags it cannot find): for ``opcua`` the variables of the configured namespace below
the Objects folder, for ``piwebapi`` the points of the data server (``GET dataservers?path=``, then
``GET dataservers/{webId}/points``, page by page). The REST historian API has no tag list:
``listing`` then says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from thermaliq.errors import HistorianError
from thermaliq.home import Home
from thermaliq.sources.credentials import Credentials
from thermaliq.sources.retry import RetryPolicy, breaker_for, call_with_retry, redact_url


@dataclass(frozen=True)
class SourceCheck:
    """The outcome of a source check.

    ``found``: (tag, node id / WebId / "readings") pairs; ``missing``: (tag, why) pairs;
    ``error``: why the source could not be reached at all (None when it answered); ``unused``:
    tags of the source that no stream uses; ``listing``: why those could not be listed.
    """

    facility_id: str
    kind: str
    target: str
    found: tuple[tuple[str, str], ...] = ()
    missing: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    unused: tuple[str, ...] = ()
    listing: str | None = None      # why the source's tags could not be listed (None: listed)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing


#: Most variables or points listed from a source (a check, not an inventory of the plant).
LIST_LIMIT = 10_000


async def _opcua_variables(client, namespace: int, limit: int = LIST_LIMIT, depth: int = 8) -> list[str]:
    """Node ids of the variables of ``namespace`` below the Objects folder (objects of namespace
    0, the server's own, are not descended into), at most ``limit``."""
    from asyncua import ua

    out: list[str] = []
    todo, seen = [(client.nodes.objects, 0)], set()
    while todo and len(out) < limit:
        node, level = todo.pop()
        for child in await node.get_children(nodeclassmask=ua.NodeClass.Variable):
            if child.nodeid.NamespaceIndex == namespace and child.nodeid not in seen:
                seen.add(child.nodeid)
                out.append(child.nodeid.to_string())
        if level < depth:
            todo += [(c, level + 1) for c in await node.get_children(nodeclassmask=ua.NodeClass.Object)
                     if c.nodeid.NamespaceIndex != 0 and c.nodeid not in seen]
    return sorted(out[:limit])


def _tag_of_node(node_id: str, namespace: int) -> str:
    """``FT-101`` for ``ns=<namespace>;s=FT-101`` (the default mapping of a tag), else the node id."""
    prefix = f"ns={namespace};s="
    return node_id[len(prefix):] if node_id.startswith(prefix) else node_id


def _check_opcua(home: Home, src, tags, credentials, retry) -> tuple[list, list, list]:
    from thermaliq.sources.opcua import OpcUaSecurity, OpcUaSession, resolve_tags

    security = OpcUaSecurity(src.security_mode,
                             str(home.inside(src.certificate)) if src.certificate else None,
                             str(home.inside(src.private_key)) if src.private_key else None)
    session = OpcUaSession(src.endpoint, credentials, security, src.timeout_s)
    breaker = breaker_for(src.endpoint)
    try:
        rows = resolve_tags(session, tags, dict(src.nodes), src.namespace, retry, breaker)

        def listed():
            session.ensure()
            return session.run(_opcua_variables(session.client, src.namespace))

        variables = call_with_retry(listed, retry, breaker, f"OPC UA {session.endpoint}")
    finally:
        session.close()
    found = [(t, node.to_string()) for t, node, _ in rows if node is not None]
    missing = [(t, why or "") for t, node, why in rows if node is None]
    used = {node for _, node in found}
    unused = [_tag_of_node(v, src.namespace) for v in variables if v not in used]
    return found, missing, unused


def pi_point_names(api, data_server: str, limit: int = LIST_LIMIT, page: int = 1000) -> list[str]:
    r"""Names of the points of a PI Data Archive (``GET dataservers?path=\\SERVER`` for its
    WebId, then ``GET dataservers/{webId}/points`` page by page), at most ``limit``.

    Raises
    ------
    HistorianError
        When the data server is unknown.
    """
    code, server = api.get("/dataservers", {"path": f"\\\\{data_server}", "selectedFields": "WebId;Name"})
    if code != 200 or not server.get("WebId"):
        errors = "; ".join(map(str, server.get("Errors", []))) or f"HTTP {code}"
        raise HistorianError(f"PI data server {data_server!r} not found ({errors})", permanent=True)
    names: list[str] = []
    while len(names) < limit:
        code, data = api.get(f"/dataservers/{server['WebId']}/points",
                             {"startIndex": len(names), "maxCount": page, "selectedFields": "Items.Name"})
        items = data.get("Items") or [] if code == 200 else []
        names += [str(i["Name"]) for i in items if i.get("Name")]
        if len(items) < page:
            break
    return names[:limit]


def _check_pi(home: Home, src, tags, credentials, retry) -> tuple[list, list, list]:
    from thermaliq.sources.piwebapi import PiWebApi

    verify = str(home.inside(src.ca_bundle)) if src.ca_bundle else True
    api = PiWebApi(src.url, credentials, verify=verify, timeout_s=src.timeout_s, retry=retry)
    found, missing = [], []
    try:
        for tag in tags:
            web_id, why = api.web_id(src.data_server, tag)
            (found if web_id else missing).append((tag, web_id or why))
        points = pi_point_names(api, src.data_server)
    finally:
        api.close()
    configured = set(tags)
    return found, missing, sorted(p for p in points if p not in configured)


def _check_rest(facility, tags, credentials, retry) -> tuple[list, list, None]:
    from thermaliq.sources.historian import fetch_readings

    end = pd.Timestamp.now(tz="UTC").floor("min")
    result = fetch_readings(facility.source.url, facility.facility_id, tags,
                            end - pd.Timedelta(days=1), end, token=credentials.token,
                            timeout_s=facility.source.timeout_s,
                            batch_tags=facility.source.batch_tags, retry=retry)
    counts = result.readings["tag"].value_counts()
    found = [(t, f"{int(counts[t])} readings in the last 24 h") for t in tags if t in counts]
    missing = [(t, "no readings in the last 24 h") for t in tags if t not in counts]
    return found, missing, None


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
        found, missing, unused = check()
    except HistorianError as exc:
        return SourceCheck(facility.facility_id, src.kind, target, error=str(exc))
    listing = ("the REST historian API has no tag list: tags no stream uses cannot be listed"
               if unused is None else None)
    return SourceCheck(facility.facility_id, src.kind, target, tuple(found), tuple(missing),
                       unused=tuple(unused or ()), listing=listing)


__all__ = ["LIST_LIMIT", "SourceCheck", "check_source", "pi_point_names"]

"""OPC UA Historical Access connector (IEC 62541 part 11), returning raw readings.

``fetch_opcua_readings`` connects to ``opc.tcp://host:port`` (asyncua client), and reads the raw
history (HistoryRead with ReadRawModifiedDetails) of ``batch_tags`` nodes per request and
``page_values`` values per node, following continuation points. Tags map to nodes through
``source.nodes`` (a node id such as ``ns=2;s=Boiler1.FT101`` or a browse path such as
``0:Objects/2:Boiler1/2:FT101``); a tag not listed is read from ``ns=<namespace>;s=<tag>``.

Every value keeps its StatusCode: ``quality`` is ``Good`` or ``Uncertain``; a Bad value becomes a
rejected row whose reason names the code (``OPC UA status BadSensorFailure (0x808B0000)``).
``source`` is ``"opcua:" + endpoint``; ``row`` is the value's 1-based position in the order
received.

asyncua's own DEBUG logging (which would show the password) is capped at INFO.

Reliability: each request has a timeout (``timeout_s``); a failed request (timeout, dropped
connection, service fault) is retried under the REST historian's policy
(:func:`thermaliq.sources.retry.call_with_retry`: backoff with jitter, one circuit breaker per
endpoint). Before a retry the client reconnects and reads each node again from the last
timestamp it received (continuation points die with their session), skipping values already
received, so every value arrives once. Passwords go to the server only; they are never logged.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from thermaliq.errors import HistorianError
from thermaliq.sources.credentials import Credentials
from thermaliq.sources.readers import ReadResult, empty_raw_readings, empty_rejects, rejects_frame
from thermaliq.sources.retry import (CircuitBreaker, RetryPolicy, Retryable, breaker_for,
                                     call_with_retry, increment_stat)

log = logging.getLogger(__name__)
#: asyncua logs whole requests at DEBUG, the ActivateSession request with its password among
#: them: its loggers are capped at INFO while a session exists, so no secret reaches a log.
_ASYNCUA_LOG_FLOOR = logging.INFO

_NODE_ID_RE = re.compile(r"^(ns=\d+;)?[isgb]=")
#: Result codes that say the node itself is wrong: the tag is reported, not retried.
_NODE_CODES = ("BadNodeIdUnknown", "BadNodeIdInvalid", "BadHistoryOperationUnsupported",
               "BadNotReadable", "BadUserAccessDenied", "BadNoMatch", "BadBrowseNameInvalid")


def node_for(tag: str, nodes: dict[str, str] | None = None, namespace: int = 2) -> str:
    """The node id or browse path of ``tag`` (``ns=<namespace>;s=<tag>`` unless listed in ``nodes``).

    Examples
    --------
    >>> node_for("FT-101", {}, 3)
    'ns=3;s=FT-101'
    """
    return (nodes or {}).get(tag) or f"ns={namespace};s={tag}"


def quality_of(status_code: int) -> str:
    """``Good``, ``Uncertain`` or ``Bad`` from the severity bits (31..30) of an OPC UA StatusCode.

    Notes
    -----
    IEC 62541-4 §7.39: severity 00 Good, 01 Uncertain, 10 and 11 Bad.
    """
    severity = (int(status_code) >> 30) & 0b11
    return ("Good", "Uncertain", "Bad", "Bad")[severity]


@dataclass(frozen=True)
class OpcUaSecurity:
    """Message security: ``mode`` None or SignAndEncrypt with Basic256Sha256 and a client
    certificate and private key (paths of PEM or DER files)."""

    mode: str = "None"
    certificate: str | None = None
    private_key: str | None = None


@dataclass
class _Node:
    tag: str
    node: object                 # ua.NodeId once resolved
    start: datetime
    cp: bytes | None = None
    last_ts: datetime | None = None
    done: bool = False


@dataclass
class _Received:
    records: list = field(default_factory=list)   # (tag, node, ts, value, status code)
    notes: list = field(default_factory=list)
    missing: dict = field(default_factory=dict)   # tag -> why


class OpcUaSession:
    """One client connection on a private event loop, reconnected on demand (sync interface).

    The loop runs only inside :meth:`run`, so a retry's wait never holds a running loop.
    """

    def __init__(self, endpoint: str, credentials: Credentials | None = None,
                 security: OpcUaSecurity | None = None, timeout_s: float = 30.0):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, not {timeout_s}")
        self.endpoint, self.timeout_s = endpoint, timeout_s
        self.credentials, self.security = credentials or Credentials(), security or OpcUaSecurity()
        lib = logging.getLogger("asyncua")
        if lib.getEffectiveLevel() < _ASYNCUA_LOG_FLOOR:
            lib.setLevel(_ASYNCUA_LOG_FLOOR)
        self.loop = asyncio.new_event_loop()
        self.client = None
        self._resolved: dict[str, object] = {}

    def run(self, coro):
        """Run ``coro`` on the session's loop; transient failures become ``Retryable``."""
        from asyncua import ua

        try:
            return self.loop.run_until_complete(asyncio.wait_for(coro, self.timeout_s * 2))
        except (TimeoutError, asyncio.TimeoutError) as exc:
            increment_stat("connector_timeouts_total")
            self.drop()
            raise Retryable(f"timed out ({type(exc).__name__})") from None
        except (ConnectionError, OSError, EOFError) as exc:
            self.drop()
            raise Retryable(f"connection error ({type(exc).__name__})") from None
        except ua.UaStatusCodeError as exc:
            name = type(exc).__name__
            if name in ("BadUserAccessDenied", "BadIdentityTokenRejected",
                                      "BadIdentityTokenInvalid", "BadSecurityChecksFailed"):
                self.drop()
                raise HistorianError(f"OPC UA {self.endpoint}: {type(exc).__name__}: check the "
                                     "username/password variables and the client certificate "
                                     "(not retried)", permanent=True) from None
            self.drop()
            raise Retryable(f"service fault {name}") from None
        except ua.UaError as exc:
            self.drop()
            raise Retryable(f"OPC UA error ({type(exc).__name__})") from None

    async def _connect(self):
        from asyncua import Client
        from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
        from asyncua import ua

        # no background watchdog or auto-reconnect: the loop runs only inside run(), and this
        # session reconnects itself (drop + ensure) under the retry policy
        client = Client(self.endpoint, timeout=self.timeout_s, watchdog_intervall=3600.0)
        if self.credentials.username:
            client.set_user(self.credentials.username)
        if self.credentials.password:
            client.set_password(self.credentials.password)
        if self.security.mode == "SignAndEncrypt":
            await client.set_security(SecurityPolicyBasic256Sha256, self.security.certificate,
                                      self.security.private_key,
                                      mode=ua.MessageSecurityMode.SignAndEncrypt)
        await client.connect(auto_reconnect=False)
        return client

    def ensure(self) -> None:
        """Connect unless connected."""
        if self.client is None:
            increment_stat("requests")
            self.client = self.run(self._connect())

    def drop(self) -> None:
        """Forget the connection (closing it if it still answers); the next call reconnects."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            self.loop.run_until_complete(asyncio.wait_for(client.disconnect(), 2.0))
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - already broken: only log
            log.debug("OPC UA %s: disconnect after a failure: %s", self.endpoint, type(exc).__name__)

    def close(self) -> None:
        """Disconnect and close the loop."""
        self.drop()
        self.loop.close()

    async def _resolve(self, spec: str):
        from asyncua import ua

        try:
            if _NODE_ID_RE.match(spec):
                node_id = ua.NodeId.from_string(spec)
            else:
                node = await self.client.nodes.root.get_child(spec.strip("/").split("/"))
                node_id = node.nodeid
            await self.client.get_node(node_id).read_browse_name()   # raises if it does not exist
        except ua.UaStatusCodeError as exc:
            return None, f"node {spec!r} not found ({type(exc).__name__})"
        except ValueError as exc:
            return None, f"node {spec!r} is not a node id or browse path ({exc})"
        return node_id, None

    def resolve(self, tag: str, spec: str) -> tuple[object | None, str | None]:
        """(node id, None) or (None, why) for one tag; resolved node ids are cached."""
        if tag not in self._resolved:
            self.ensure()
            increment_stat("requests")
            node_id, why = self.run(self._resolve(spec))
            if node_id is None:
                return None, why
            self._resolved[tag] = node_id
        return self._resolved[tag], None

    async def _history_page(self, pending: list[_Node], end: datetime, page_values: int):
        from asyncua import ua

        fresh = [n.start if n.last_ts is None else n.last_ts for n in pending if n.cp is None]
        details = ua.ReadRawModifiedDetails(IsReadModified=False,
                                            StartTime=min(fresh) if fresh else pending[0].start,
                                            EndTime=end, NumValuesPerNode=page_values,
                                            ReturnBounds=False)
        params = ua.HistoryReadParameters(HistoryReadDetails=details,
                                          TimestampsToReturn=ua.TimestampsToReturn.Source,
                                          ReleaseContinuationPoints=False)
        for n in pending:     # values before a node's last one are skipped by _take
            params.NodesToRead.append(ua.HistoryReadValueId(NodeId=n.node, ContinuationPoint=n.cp))
        return await self.client.uaclient.history_read(params)

    def history_page(self, pending: list[_Node], end: datetime, page_values: int):
        """One HistoryRead of ``pending`` nodes (fresh reads start at the earliest node start)."""
        self.ensure()
        increment_stat("requests")
        return self.run(self._history_page(pending, end, page_values))


def _status_name(code: int) -> str:
    from asyncua.ua.status_codes import get_name_and_doc

    return get_name_and_doc(code)[0]


def _read_batch(session: OpcUaSession, batch: list[_Node], end: datetime, page_values: int,
                retry: RetryPolicy, breaker: CircuitBreaker, got: _Received) -> None:
    """Read every node of ``batch`` to ``end``, page after page, each page under the policy."""
    def reset_after_failure():
        for n in batch:
            n.cp = None            # continuation points belong to the lost session

    while True:
        pending = [n for n in batch if not n.done]
        if not pending:
            return
        results = call_with_retry(lambda: session.history_page(pending, end, page_values), retry,
                                  breaker, f"OPC UA {session.endpoint}", on_retry=reset_after_failure)
        for n, res in zip(pending, results):
            _take(n, res, end, got)


def _take(n: _Node, res, end: datetime, got: _Received) -> None:
    """Keep one node's page: values after the last received and before ``end``."""
    code = res.StatusCode.value
    if quality_of(code) == "Bad":
        name = _status_name(code)
        if name in _NODE_CODES:
            got.missing[n.tag] = f"node {n.node.to_string()} answered {name}"
            n.done = True
            return
        n.cp = None            # e.g. BadContinuationPointInvalid: read again from the last value
        got.notes.append(f"{n.tag}: history read answered {name}; read again from the last value")
        return
    for dv in (res.HistoryData.DataValues or []) if res.HistoryData else []:
        ts = dv.SourceTimestamp
        if ts is None or ts >= end or (n.last_ts is not None and ts <= n.last_ts):
            continue
        got.records.append((n.tag, n.node.to_string(), ts, dv.Value.Value if dv.Value else None,
                            dv.StatusCode.value if dv.StatusCode else 0))
        n.last_ts = ts
    n.cp = res.ContinuationPoint or None
    n.done = n.cp is None


def fetch_opcua_readings(endpoint: str, tags, start, end, *, nodes: dict[str, str] | None = None,
                         namespace: int = 2, credentials: Credentials | None = None,
                         security: OpcUaSecurity | None = None, timeout_s: float = 30.0,
                         batch_tags: int = 50, page_values: int = 1000,
                         retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                         since: dict | None = None) -> ReadResult:
    """Raw history of ``tags`` in [start, end) from an OPC UA server.

    Parameters
    ----------
    endpoint : str
        ``opc.tcp://host:port[/path]``.
    tags : sequence of str
        Tags to read; a tag whose node does not exist is named in the notes, not read.
    start, end : datetime or pandas.Timestamp
        Timezone-aware window bounds [UTC instants].
    nodes, namespace : dict, int
        Tag -> node id or browse path; other tags are ``ns=<namespace>;s=<tag>``.
    credentials, security : Credentials, OpcUaSecurity, optional
        Username/password and message security; anonymous and None by default.
    timeout_s : float
        Timeout of each request [s].
    batch_tags, page_values : int
        Nodes per HistoryRead; values per node and page (NumValuesPerNode).
    retry, breaker : RetryPolicy, CircuitBreaker, optional
        The policy (default ``RetryPolicy()``) and the endpoint's breaker (default: registry).
    since : dict, optional
        Tag -> last timestamp already stored [UTC]: that tag is read after it only (incremental).

    Returns
    -------
    ReadResult
        Raw readings (``quality`` Good/Uncertain), rejects (Bad values, non-numeric values) and notes.

    Raises
    ------
    HistorianError
        When a request still fails after its retries, on rejected credentials, or at once when
        the endpoint's circuit is open.
    """
    if batch_tags < 1 or page_values < 1:
        raise ValueError(f"batch_tags and page_values must be >= 1, not {batch_tags}, {page_values}")
    t0, t1 = _utc(start, "start"), _utc(end, "end")
    retry, breaker = retry or RetryPolicy(), breaker or breaker_for(endpoint)
    session = OpcUaSession(endpoint, credentials, security, timeout_s)
    got = _Received()
    try:
        todo = []
        for tag, node_id, why in resolve_tags(session, tags, nodes, namespace, retry, breaker):
            if node_id is None:
                got.missing[tag] = why
            else:
                last = _utc(since[tag], "since") if since and tag in since else None
                todo.append(_Node(tag, node_id, max(t0, last) if last else t0, last_ts=last))
        for i in range(0, len(todo), batch_tags):
            _read_batch(session, todo[i:i + batch_tags], t1, page_values, retry, breaker, got)
    finally:
        session.close()
    got.notes.extend(f"{tag}: {why}; not read" for tag, why in got.missing.items())
    return readings_from_values(got.records, "opcua:" + endpoint, got.notes)


def resolve_tags(session: OpcUaSession, tags, nodes: dict[str, str] | None, namespace: int,
                 retry: RetryPolicy, breaker: CircuitBreaker) -> list[tuple[str, object, str | None]]:
    """``(tag, node id or None, why not found or None)`` for every tag, in order."""
    out = []
    for tag in dict.fromkeys(tags):
        spec = node_for(tag, nodes, namespace)
        node_id, why = call_with_retry(lambda: session.resolve(tag, spec), retry, breaker,
                                       f"OPC UA {session.endpoint}")
        out.append((tag, node_id, why))
    return out


def _utc(t, name: str) -> datetime:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware, got {t!r}")
    return ts.tz_convert("UTC").to_pydatetime()


def _number(v) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
        return None
    x = float(v)
    return x if math.isfinite(x) else None


def readings_from_values(records: list, source: str, notes: list[str]) -> ReadResult:
    """Raw readings and rejects from ``(tag, node, ts, value, status code)`` records."""
    if not records:
        return ReadResult(empty_raw_readings(), empty_rejects(), list(notes))
    keep, bad = [], []
    for i, (tag, node, ts, value, code) in enumerate(records, start=1):
        x = _number(value)
        if quality_of(code) == "Bad":
            bad.append((i, f"OPC UA status {_status_name(code)} (0x{code:08X})", records[i - 1]))
        elif x is None:
            bad.append((i, "non-numeric value", records[i - 1]))
        else:
            keep.append((tag, ts, x, quality_of(code), i))
    rejects = rejects_frame(source, [b[0] for b in bad], [b[1] for b in bad],
                            [{"tag": r[0], "node": r[1], "ts": r[2].isoformat(), "value": r[3],
                              "status": r[4]} for _, _, r in bad])
    readings = pd.DataFrame({
        "tag": pd.Series([k[0] for k in keep], dtype="str"),
        "ts": pd.to_datetime([k[1] for k in keep], utc=True).astype("datetime64[ns, UTC]"),
        "value": np.array([k[2] for k in keep], dtype="float64"),
        "unit": pd.Series([None] * len(keep), dtype="str"),
        "quality": pd.Series([k[3] for k in keep], dtype="str"),
        "source": pd.Series([source] * len(keep), dtype="str"),
        "row": np.array([k[4] for k in keep], dtype=np.int64)})
    return ReadResult(readings, rejects, list(notes))


__all__ = ["fetch_opcua_readings", "readings_from_values", "resolve_tags", "node_for", "quality_of",
           "OpcUaSecurity", "OpcUaSession"]

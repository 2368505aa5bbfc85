"""A local OPC UA server with Historical Access and switchable faults (demo and tests).

A real asyncua server on 127.0.0.1, in a thread of its own, whose variables (one per tag, node
``ns=2;s=<tag>``, browse path ``0:Objects/2:Plant/2:<tag>``) are historized from a DataFrame
(``tag``, ``ts``, ``value`` and optional ``status``: an OPC UA StatusCode, default 0 = Good).
The history backend answers HistoryRead ReadRaw as IEC 62541-11 asks: values in time order,
``NumValuesPerNode`` per node and page, a continuation point while more remain. Faults, drawn
per node read from a seeded generator so a test run is reproducible:

* ``error_rate``: the request fails with a service fault (BadInternalError);
* ``disconnect_rate``: the server drops every client connection;
* ``slow_rate`` with ``delay_s``: the answer comes ``delay_s`` seconds late (a client timeout).

Use::

    with OpcUaTestServer(df, username="op", password="pw") as srv:
        srv.set_faults(error_rate=0.05, seed=1)
        fetch_opcua_readings(srv.endpoint, ["FT-101"], start, end, credentials=...)

or ``python -m thermaliq.sources.opcua_server --data DIR --port 4840`` (long CSV files, as the
REST simulator) or without ``--data`` for a day of demo readings of four tags.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import random
import threading
import time


import numpy as np
import pandas as pd

log = logging.getLogger(__name__)
_FAULTS = ("error", "disconnect", "slow")
NAMESPACE_URI = "urn:thermaliq:opcua-test-server"


def _history_storage_class():
    from asyncua import ua
    from asyncua.server.history import HistoryStorageInterface

    class FrameHistory(HistoryStorageInterface):
        """History of each node from arrays (times [ns since epoch, UTC], values, status codes)."""

        def __init__(self, server: "OpcUaTestServer", max_values: int = 10000):
            super().__init__(max_values)
            self.server, self.series = server, {}

        async def init(self):
            return None

        async def new_historized_node(self, node_id, period, count=0):
            return None

        async def save_node_value(self, node_id, datavalue):
            return None   # the history is the data given; live writes are not recorded

        async def stop(self):
            return None

        async def read_node_history(self, node_id, start, end, nb_values):
            await self.server.fault_point()
            found = self.series.get(node_id)
            if found is None:
                return [], None
            ts_ns, values, codes = found
            epoch = ua.get_win_epoch()
            lo = 0 if start in (None, epoch) else int(np.searchsorted(ts_ns, _ns(start), "left"))
            hi = len(ts_ns) if end in (None, epoch) else int(np.searchsorted(ts_ns, _ns(end), "right"))
            limit = min(nb_values or self.max_history_data_response_size,
                        self.max_history_data_response_size)
            stop = min(hi, lo + limit)
            out = [ua.DataValue(Value=ua.Variant(float(values[i]), ua.VariantType.Double),
                                StatusCode=ua.StatusCode(int(codes[i])),
                                SourceTimestamp=pd.Timestamp(int(ts_ns[i]), tz="UTC").to_pydatetime(),
                                ServerTimestamp=None)
                   for i in range(lo, stop)]
            cont = pd.Timestamp(int(ts_ns[stop]), tz="UTC").to_pydatetime() if stop < hi else None
            return out, cont

    return FrameHistory


def _ns(t) -> int:
    ts = pd.Timestamp(t)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.value


class OpcUaTestServer:
    """Local OPC UA HA server; see the module docstring.

    Parameters
    ----------
    data : pandas.DataFrame
        ``tag``, ``ts`` (tz-aware), ``value`` and optional ``status`` (OPC UA StatusCode).
    username, password : str, optional
        When given, only this user may connect (anonymous sessions are refused).
    max_values : int
        Most values the server returns per node and request, whatever the client asks.
    certificate, private_key : str, optional
        The server's certificate (DER) and key (PEM): when given, the only endpoint is
        Basic256Sha256 SignAndEncrypt (else: security None).
    """

    def __init__(self, data: pd.DataFrame, *, username: str | None = None,
                 password: str | None = None, max_values: int = 10000,
                 certificate: str | None = None, private_key: str | None = None):
        missing = {"tag", "ts", "value"} - set(data.columns)
        if missing:
            raise ValueError(f"data lacks columns {sorted(missing)}")
        df = data.assign(ts=pd.to_datetime(data["ts"], utc=True))
        if "status" not in df:
            df = df.assign(status=0)
        self._data = df.sort_values(["tag", "ts"], kind="stable", ignore_index=True)
        self._user = (username, password) if username else None
        self._cert = (certificate, private_key) if certificate else None
        self.max_values = max_values
        self._lock = threading.Lock()
        self.set_faults()
        self.counters = {"reads": 0, **{f: 0 for f in _FAULTS}}
        self.endpoint: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server = None

    def set_faults(self, *, error_rate: float = 0.0, disconnect_rate: float = 0.0,
                   slow_rate: float = 0.0, delay_s: float = 0.0, seed: int | None = None) -> None:
        """Switch faults on (rates are probabilities per node read) or off (no arguments)."""
        for name, rate in (("error_rate", error_rate), ("disconnect_rate", disconnect_rate),
                           ("slow_rate", slow_rate)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], not {rate}")
        with self._lock:
            self._rates = {"error": error_rate, "disconnect": disconnect_rate, "slow": slow_rate}
            self._delay_s, self._rng = delay_s, random.Random(seed)

    async def fault_point(self) -> None:
        """Called before each node read: count it and maybe fail (server thread)."""
        from asyncua import ua

        with self._lock:
            self.counters["reads"] += 1
            draw = self._rng.random()
            fault, edge = None, 0.0
            for name in _FAULTS:
                edge += self._rates[name]
                if draw < edge:
                    fault = name
                    break
            if fault:
                self.counters[fault] += 1
            delay_s = self._delay_s
        if fault == "error":
            raise ua.uaerrors.BadInternalError()
        if fault == "disconnect":
            for proto in list(self._server.bserver.clients):
                proto.transport.close()
            raise ua.uaerrors.BadConnectionClosed()
        if fault == "slow":
            await asyncio.sleep(delay_s)

    async def _start(self, host: str, port: int) -> None:
        from asyncua import Server, ua

        server = Server(user_manager=_UserCheck(self._user) if self._user else None)
        await server.init()
        server.set_endpoint(f"opc.tcp://{host}:{port}/thermaliq")
        server.set_server_name("thermaliq OPC UA test server")
        if self._cert:
            await server.load_certificate(self._cert[0])
            await server.load_private_key(self._cert[1])
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self._user:
            server.set_security_IDs(["Username"])
        idx = await server.register_namespace(NAMESPACE_URI)
        storage = _history_storage_class()(self, self.max_values)
        server.iserver.history_manager.set_storage(storage)
        plant = await server.nodes.objects.add_folder(ua.NodeId("Plant", idx), f"{idx}:Plant")
        for tag, part in self._data.groupby("tag", sort=True):
            node = await plant.add_variable(ua.NodeId(str(tag), idx), f"{idx}:{tag}", 0.0)
            await node.write_attribute(ua.AttributeIds.Historizing,
                                       ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            storage.series[node.nodeid] = (part["ts"].astype("datetime64[ns, UTC]").array.asi8,
                                           part["value"].to_numpy(dtype="float64"),
                                           part["status"].to_numpy(dtype="int64"))
        await server.start()
        self._server = server
        self.endpoint = f"opc.tcp://{host}:{server.bserver.port}/thermaliq"

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving in a background thread; returns the endpoint URL."""
        ready = threading.Event()
        failed: list[BaseException] = []

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._start(host, port))
            except BaseException as exc:  # noqa: BLE001 - handed to the starting thread
                failed.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="opcua-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(120):
            raise TimeoutError("the OPC UA test server did not start within 120 s")
        if failed:
            raise failed[0]
        return self.endpoint

    def stop(self) -> None:
        """Stop the server and its thread."""
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "OpcUaTestServer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _UserCheck:
    """Accept only one username/password (asyncua user manager)."""

    def __init__(self, user: tuple[str, str | None]):
        self._user = user

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        if (username, password) == self._user:
            return User(role=UserRole.User)
        return None


def demo_data(day: str = "2024-05-30", tags=("FT-101", "FT-201", "PT-201", "TT-202")) -> pd.DataFrame:
    """A day of 1-minute readings of ``tags`` (a boiler's gas and steam) for a try-out."""
    ts = pd.date_range(day, periods=24 * 60, freq="1min", tz="UTC")
    base = {"FT-101": 750.0, "FT-201": 10_000.0, "PT-201": 1.0, "TT-202": 105.0}
    rng = np.random.default_rng(1)
    return pd.concat([pd.DataFrame({"tag": t, "ts": ts, "value": base.get(t, 1.0)
                                    * (1 + 0.001 * rng.standard_normal(len(ts)))}) for t in tags],
                     ignore_index=True)


def run_opcua_server(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m thermaliq.sources.opcua_server",
                                     description="Local OPC UA server with Historical Access.")
    parser.add_argument("--data", help="directory of long CSV readings files (default: demo day)")
    parser.add_argument("--tz", default="UTC", help="time zone of naive timestamps in --data")
    parser.add_argument("--port", type=int, default=4840)
    parser.add_argument("--username", help="require this user (password from --password)")
    parser.add_argument("--password")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--disconnect-rate", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.data:
        from pathlib import Path
        from thermaliq.sources.readers import read_readings_file
        frames = [read_readings_file(p, tz=args.tz, format="long").readings
                  for p in sorted(Path(args.data).glob("*.csv"))]
        data = pd.concat(frames, ignore_index=True)
    else:
        data = demo_data()
    srv = OpcUaTestServer(data, username=args.username, password=args.password)
    srv.set_faults(error_rate=args.error_rate, disconnect_rate=args.disconnect_rate)
    print(f"OPC UA test server at {srv.start(port=args.port)} "
          f"({data['tag'].nunique()} historized tags, ns=2;s=<tag>); Ctrl-C stops it", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        srv.stop()


if __name__ == "__main__":
    run_opcua_server()


__all__ = ["OpcUaTestServer", "demo_data", "NAMESPACE_URI"]

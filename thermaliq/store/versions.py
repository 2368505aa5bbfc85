"""Stored result rows as the storing code needs them: read once per write, keyed by integer codes.

:mod:`thermaliq.pipeline.results` reads the rows of a window's months once (only the columns that
versions, current rows and month rows need), adds the rows it writes, and looks rows up by
their key (granularity, period start, stream) through integer codes instead of pandas
groupings of text and timestamps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from thermaliq import periods
from thermaliq.store import lake
from thermaliq.home import Home

#: Columns of the stored calculations that versions, current rows and month rows need.
CALC_READ = ["granularity", "period_start", "version", "content_hash", "period_end", "basis",
             "energy_input_kwh", "useful_output_kwh", "losses_kwh", "unaccounted_kwh",
             "efficiency_percent", "indirect_efficiency_percent", "balance_error_percent",
             "exergy_efficiency_percent", "data_quality_score", "status",
             # issue 17: which uncertainty_budget rows are current, and the month columns it added
             "write_seq", "efficiency_uncertainty_points", "indirect_efficiency_uncertainty_points",
             "balance_error_uncertainty_points", "electrical_efficiency_percent",
             "thermal_efficiency_percent", "purpa_efficiency_percent",
             "effective_electrical_efficiency_percent", "primary_energy_savings_percent"]
CALC_READ += ["co2e_kg", "co2e_intensity_kg_per_mwh"]     # issue #18: month rows compare them too
#: Columns of the stored stream energies they need.
ENERGY_READ = ["granularity", "period_start", "stream_id", "version", "energy_kwh", "exergy_kwh"]
#: Columns of the stored uncertainty budgets a month row's uncertainty needs.
BUDGET_READ = ["day_start", "write_seq", "quantity", "source", "input_effect_kwh",
               "output_effect_kwh", "losses_effect_kwh"]


@dataclass
class StoredMonth:
    """Every stored version of one month's calculations, stream energies and uncertainty budgets
    (the columns of ``CALC_READ``, ``ENERGY_READ`` and ``BUDGET_READ``), kept up to date with the
    rows written since."""

    calc: pd.DataFrame
    energies: pd.DataFrame
    budgets: pd.DataFrame

    @classmethod
    def read(cls, home: Home, facility_id: str, month: str) -> StoredMonth:
        return cls(read_month(home, "calculations", facility_id, month, CALC_READ),
                   read_month(home, "stream_energies", facility_id, month, ENERGY_READ),
                   read_month(home, "uncertainty_budget", facility_id, month, BUDGET_READ))

    def add_calc(self, written: pa.Table) -> None:
        self.calc = concat([self.calc, as_read(written, CALC_READ)])

    def add_energies(self, written: pa.Table) -> None:
        self.energies = concat([self.energies, as_read(written, ENERGY_READ)])

    def add_budgets(self, written: pa.Table) -> None:
        self.budgets = concat([self.budgets, as_read(written, BUDGET_READ)])


def read_month(home: Home, dataset: str, facility_id: str, month: str,
               columns: list[str]) -> pd.DataFrame:
    """The given columns (those the files have) of every result file of one month in file
    order, as :func:`thermaliq.store.lake.read_results` reads them, ``period_start`` as UTC [ns]."""
    folder = lake.result_dir(home.lake, dataset, facility_id, month)
    paths = [str(p) for p in sorted(folder.glob("*.parquet"))] if folder.exists() else []
    if not paths:
        return pd.DataFrame()
    try:    # one scan of all files (missing columns of a file read as null)
        files = ds.dataset(paths, format="parquet")
        table = files.to_table(columns=[c for c in columns if c in files.schema.names])
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # files whose types differ (written by an older release): one file at a time
        return concat([_read_file(p, columns) for p in paths])
    if table.num_rows == 0:
        return pd.DataFrame()
    return _period_start_utc(lake.utc_ns_columns(table.to_pandas()))


def _read_file(path: str, columns: list[str]) -> pd.DataFrame:
    parquet = pq.ParquetFile(path)
    names = set(parquet.schema_arrow.names)
    table = parquet.read(columns=[c for c in columns if c in names])
    return _period_start_utc(lake.utc_ns_columns(table.to_pandas()))


def as_read(written: pa.Table, columns: list[str]) -> pd.DataFrame:
    """Rows just written (the Arrow table of their file) as :func:`read_month` reads them back."""
    table = written.select([c for c in columns if c in written.column_names])
    return _period_start_utc(lake.utc_ns_columns(table.to_pandas()))


def _period_start_utc(frame: pd.DataFrame) -> pd.DataFrame:
    if "period_start" in frame and not isinstance(frame["period_start"].dtype, pd.DatetimeTZDtype):
        frame["period_start"] = pd.to_datetime(frame["period_start"], utc=True)
    return frame


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The non-empty frames one after the other (an empty frame when there are none)."""
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def key_codes(frames: list[pd.DataFrame], keys: list[str]) -> list[np.ndarray]:
    """One int64 code per row of each frame: equal codes for equal ``keys`` across the frames
    (``period_start`` compared as an instant, text as text)."""
    sizes = [len(f) for f in frames]
    code = np.zeros(sum(sizes), dtype="int64")
    for key in keys:
        if key == "period_start":
            values = np.concatenate([periods.utc_instants_ns(f[key]) for f in frames])
            codes, uniques = pd.factorize(values)
            distinct = len(uniques)
        else:
            codes, distinct = text_codes([f[key] for f in frames])
        code = code * (distinct + 1) + codes + 1
    return np.split(code, np.cumsum(sizes)[:-1])


def text_codes(columns: list[pd.Series]) -> tuple[np.ndarray, int]:
    """Codes of the values of ``columns`` one after the other, equal for equal values and -1 for
    a missing one, and the number of distinct values.

    Text held by Arrow is dictionary-encoded by Arrow (~0.4 ms less per key than pandas'
    factorize of the concatenated columns, for a month's 30 000 stream rows); anything else goes
    through ``pandas.factorize``."""
    if columns and all(isinstance(c.dtype, pd.StringDtype) and c.dtype.storage == "pyarrow"
                       for c in columns):
        chunks = []
        for c in columns:
            held = c.array.__arrow_array__()
            chunks += [chunk.cast(pa.large_string())
                       for chunk in (held.chunks if isinstance(held, pa.ChunkedArray) else [held])]
        encoded = pa.chunked_array(chunks, type=pa.large_string()).dictionary_encode()
        if encoded.num_chunks == 0:
            return np.empty(0, dtype="int64"), 0
        codes = np.concatenate([chunk.indices.fill_null(-1).to_numpy().astype("int64")
                                for chunk in encoded.chunks])
        return codes, len(encoded.chunks[-1].dictionary)
    values = pd.concat([c.reset_index(drop=True) for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(values)
    return codes, len(uniques)


def previous_versions(stored: pd.DataFrame, rows: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Highest stored version per row of ``rows`` (matched on ``keys``; 0 when none)."""
    if stored.empty:
        return np.zeros(len(rows), dtype="int64")
    stored_code, rows_code = key_codes([stored, rows], keys)
    order = np.argsort(stored_code, kind="stable")
    sorted_code = stored_code[order]
    version = stored["version"].to_numpy(dtype="int64")[order]
    starts = np.flatnonzero(np.r_[True, sorted_code[1:] != sorted_code[:-1]])
    best = np.maximum.reduceat(version, starts) if len(starts) else version
    pos = np.searchsorted(sorted_code[starts], rows_code)
    pos = np.minimum(pos, max(len(starts) - 1, 0))
    found = sorted_code[starts][pos] == rows_code
    return np.where(found, best[pos], 0).astype("int64")


def current_rows(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The current rows: the highest ``version`` of each key (the later row among equal versions),
    in an order of their own."""
    if df.empty:
        return df
    (code,) = key_codes([df], keys)
    order = np.lexsort((df["version"].to_numpy(), code))      # stable: later rows last
    last = np.r_[code[order][1:] != code[order][:-1], True]
    return df.iloc[order[last]].reset_index(drop=True)

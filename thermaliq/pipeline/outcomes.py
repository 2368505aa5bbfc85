"""What the pipeline's stages hand each other: frozen dataclasses, returned by the jobs.

A calculation job returns a :class:`ComputedWindow` (the window waits on disk), the store job of
that window a :class:`StoreOutcome` (or the task records a :class:`WindowFailure`), an ingest an
:class:`IngestOutcome`. All are small and picklable (they cross the worker-process boundary);
counts are numbers, days are dates.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd


@dataclass(frozen=True)
class ComputedWindow:
    """One facility's window computed by ``jobs.compute_window_job`` and waiting to be stored."""

    facility_id: str
    first: date
    last: date
    stash: str                      # the computed window's file (``thermaliq.store.stash``)
    profile: pd.DataFrame | None    # tag profile for Great Expectations (``window_profile``)
    compute_s: float                # [s]
    issues: tuple[str, ...] = ()    # calculation warnings, at most 20


@dataclass(frozen=True)
class DaySummary:
    """One calculated local day of a stored window."""

    period_start: pd.Timestamp
    efficiency_percent: float | None
    data_quality_score: float | None
    status: str
    balance_error_percent: float | None
    basis: str


@dataclass(frozen=True)
class AlertSummary:
    """One alert raised for a stored window."""

    kind: str
    severity: str
    message: str


@dataclass(frozen=True)
class StoreOutcome:
    """A window stored by ``jobs.store_window_job`` (``changed``: a new version was written)."""

    facility_id: str
    first: date
    last: date
    changed: bool
    duration_s: float               # compute and store [s]
    days: tuple[DaySummary, ...] = ()
    alerts: tuple[AlertSummary, ...] = ()
    gx_success: bool = False
    data_docs: str | None = None


@dataclass(frozen=True)
class WindowFailure:
    """A facility window that could not be computed, validated or stored, with the reason."""

    facility_id: str
    first: date
    last: date
    reason: str                     # "<exception type>: <message>"


@dataclass(frozen=True)
class IngestOutcome:
    """What one facility's ingest stored (counts are rows or files)."""

    facility_id: str
    sources_read: int = 0
    sources_skipped: int = 0
    readings_read: int = 0
    readings_stored: int = 0
    rejected: int = 0
    days: tuple[date, ...] = ()     # local days written, in order of first storage
    notes: tuple[str, ...] = ()
    file_errors: tuple[str, ...] = ()   # files that could not be read at all

    @classmethod
    def of(cls, summary) -> "IngestOutcome":
        """The outcome of an ``ingest.IngestSummary`` (the ingest's running tally)."""
        return cls(summary.facility_id, summary.sources_read, summary.sources_skipped,
                   summary.readings_read, summary.readings_stored, summary.rejected,
                   tuple(summary.days), tuple(summary.notes), tuple(summary.file_errors))

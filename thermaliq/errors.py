"""Exception classes of thermaliq.

Every error is both a thermaliq error and the builtin type it resembles, and carries structured
fields so that messages are built in one place (the pint habit).
"""
from __future__ import annotations


class ThermaliqError(Exception):
    """Base class of every error thermaliq raises on purpose.

    Pickles with its fields (file, field, fix, source, row, errors, ...): jobs run in worker
    processes (``tasks/pool/workers.py``) and their errors must reach the task unchanged.
    """

    def __reduce__(self):
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls, args: tuple, state: dict):
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(ValueError, ThermaliqError):
    """A facility configuration problem.

    Parameters
    ----------
    message : str
        What is wrong.
    file : str, optional
        The configuration file.
    field : str, optional
        Dotted path of the field, e.g. ``streams[2].flow.unit``.
    fix : str, optional
        What to do about it.
    """

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 fix: str | None = None):
        self.message = message
        self.file = file
        self.field = field
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} (fix: {self.fix})" if self.fix else text


class ConfigErrors(ValueError, ThermaliqError):
    """Several configuration problems found in one pass; ``errors`` lists them."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class UnitError(ConfigError):
    """A unit that is unknown or of the wrong dimension for its field."""


class DataError(ValueError, ThermaliqError):
    """Readings that cannot be used; names the source and row where known."""

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 fix: str | None = None):
        self.message = message
        self.source = source
        self.row = row
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or ""
        if self.row is not None:
            where = f"{where}, row {self.row}" if where else f"row {self.row}"
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} (fix: {self.fix})" if getattr(self, "fix", None) else text


class HistorianError(ConnectionError, ThermaliqError):
    """The historian could not deliver readings (after retries, or the circuit is open).

    ``permanent`` is True when trying again cannot help (401/403/404 and other 4xx, an open
    circuit): task retries (``tasks.ingest.retry_io_only``) skip such errors.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent

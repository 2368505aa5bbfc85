"""The home directory of an installation and the paths inside it (DESIGN §2).

The home is ``--home DIR``, else ``$THERMALIQ_HOME``, else ``./thermaliq-home``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from thermaliq.errors import ConfigError
from thermaliq.settings import load_settings


@dataclass(frozen=True)
class Home:
    """Paths of one thermaliq home. Every path that comes from input is checked to stay inside."""

    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> "Home":
        """Return the home from the argument, ``$THERMALIQ_HOME`` or ``./thermaliq-home``."""
        chosen = home or load_settings().home or "thermaliq-home"
        return cls(Path(chosen).expanduser().resolve())

    @property
    def facilities(self) -> Path:
        return self.root / "facilities"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def catalog(self) -> Path:
        return self.root / "thermaliq.duckdb"

    @property
    def gx(self) -> Path:
        return self.root / "gx"

    @property
    def data_docs(self) -> Path:
        """The Great Expectations Data Docs site (``tasks.gx.validate.site_dir`` of :attr:`gx`)."""
        return self.gx / "uncommitted" / "data_docs" / "local_site"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics" / "thermaliq.prom"

    @property
    def locks(self) -> Path:
        return self.root / "lake" / "_locks"

    def inside(self, relative: str | os.PathLike) -> Path:
        """Resolve a path given relative to the home; refuse one that escapes it."""
        candidate = (self.root / relative).resolve()
        if candidate != self.root and self.root not in candidate.parents:
            raise ConfigError(f"path {str(relative)!r} leaves the home directory {self.root}",
                              fix="give a path relative to the home, without '..'")
        return candidate

    def facility_file(self, facility_id: str) -> Path:
        """``facilities/<id>.yaml``; an id that is not 1..64 of [A-Za-z0-9_-] (``../../etc``) is refused."""
        from thermaliq.config import FACILITY_ID_RE

        if not FACILITY_ID_RE.match(str(facility_id)):
            raise ConfigError(f"{facility_id!r} is not a valid facility_id", field="facility_id",
                              fix="use 1..64 of the characters A-Z a-z 0-9 _ -")
        return self.facilities / f"{facility_id}.yaml"

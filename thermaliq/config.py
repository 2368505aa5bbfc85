"""Facility configuration: the YAML of DESIGN §3 as a validated model.

``load_facility(path)`` parses one file and raises :class:`ConfigErrors` listing every problem
with the file, the field and the fix. ``load_facilities(home)`` loads all files of a home and keeps
going past broken ones, so one bad file never hides the others.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from thermaliq import units
from thermaliq.errors import ConfigError, ConfigErrors

FACILITY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FACILITY_TYPES = ("steam_boiler", "hot_water_boiler", "chp", "process_heater", "furnace", "dryer")
NON_FUEL_CARRIERS = ("electricity", "steam", "hot_water", "heat", "flue_gas")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Measurement(_Strict):
    """A tag ``{tag, unit, range?}`` or a constant ``{value, unit}``."""

    tag: str | None = None
    value: float | None = None
    unit: str
    range: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _tag_or_value(self):
        if (self.tag is None) == (self.value is None):
            raise ValueError("give exactly one of 'tag' or 'value'")
        if self.tag is not None and not self.tag.strip():
            raise ValueError("'tag' is empty")
        if self.range is not None:
            if self.value is not None:
                raise ValueError("'range' applies to tags only, not to constants")
            if not self.range[0] < self.range[1]:
                raise ValueError(f"'range' must be [low, high] with low < high, got {list(self.range)}")
        units.parse_unit(self.unit)
        return self

    @property
    def is_tag(self) -> bool:
        return self.tag is not None


class HeatingValue(_Strict):
    """A heating value given in the configuration; overrides the fuel table."""

    value: float = Field(gt=0)
    unit: str
    basis: Literal["HHV", "LHV"] | None = None


class Estimate(_Strict):
    percent_of_input: float = Field(ge=0, le=100)


class Stream(_Strict):
    """One energy stream of a facility (input, useful output or loss)."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    role: Literal["input", "output", "loss"]
    carrier: str | None = None
    flow: Measurement | None = None
    counter: Measurement | None = None
    heating_value: HeatingValue | None = None
    pressure: Measurement | None = None
    temperature: Measurement | None = None
    feedwater_temperature: Measurement | None = None
    supply_temperature: Measurement | None = None
    return_temperature: Measurement | None = None
    meter_on: Literal["supply", "return"] | None = None
    fuel: str | None = None
    method: Literal["siegert", "stoichiometric"] | None = None
    o2: Measurement | None = None
    air_temperature: Measurement | None = None
    estimate: Estimate | None = None

    def measurements(self) -> dict[str, Measurement]:
        """Every measurement of this stream by field name."""
        names = ("flow", "counter", "pressure", "temperature", "feedwater_temperature",
                 "supply_temperature", "return_temperature", "o2", "air_temperature")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def required_tags(self) -> list[str]:
        """Tags this stream needs for an interval to be valid."""
        return [m.tag for m in self.measurements().values() if m.is_tag]

    @property
    def quantity(self) -> Measurement | None:
        """The flow or counter measurement (rate or totalizer)."""
        return self.flow or self.counter


class Thresholds(_Strict):
    balance_tolerance_percent: float = Field(5.0, gt=0)
    data_quality_min: float = Field(0.90, ge=0, le=1)
    max_interpolation_gap: str = "15min"
    anomaly_points: float = Field(10.0, gt=0)
    offline_after: str = "1h"
    outlier_method: Literal["hampel", "zscore", "none"] = "hampel"
    outlier_threshold: float = Field(6.0, gt=0)
    frozen_after: str = "2h"
    estimate_long_gaps: bool = False

    @field_validator("max_interpolation_gap", "offline_after", "frozen_after")
    @classmethod
    def _duration(cls, v: str) -> str:
        try:
            td = pd.Timedelta(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{v!r} is not a duration such as '15min' or '2h'") from exc
        if td < pd.Timedelta(0):
            raise ValueError(f"{v!r} is negative")
        return v


class Source(_Strict):
    kind: Literal["files", "historian"]
    path: str | None = None
    format: Literal["long", "wide"] | None = None
    url: str | None = None
    token_env: str | None = None
    token_block: str | None = None     # name of a Prefect Secret block (loaded by tasks/ingest.py)
    timeout_s: float = Field(30.0, gt=0)
    batch_tags: int = Field(50, ge=1, le=10000)

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind == "files":
            if not self.path:
                raise ValueError("a files source needs 'path' (a glob relative to home)")
            p = Path(self.path)
            if p.is_absolute() or ".." in p.parts:
                raise ValueError(f"path {self.path!r} must stay inside the home: relative, no '..'")
        if self.kind == "historian":
            if not self.url:
                raise ValueError("a historian source needs 'url'")
            if not re.match(r"^https?://", self.url):
                raise ValueError(f"url {self.url!r} must start with http:// or https://")
            if self.token_env is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.token_env):
                raise ValueError("token_env must be the NAME of an environment variable, "
                                 "not the token itself")
            if self.token_block is not None:
                if self.token_env is not None:
                    raise ValueError("give either token_env or token_block, not both")
                if not re.match(r"^[a-z0-9][a-z0-9-]*$", self.token_block):
                    raise ValueError("token_block must be the NAME of a Prefect Secret block "
                                     "(lower-case letters, digits, '-'), not the token itself")
        return self


class Facility(_Strict):
    """A facility configuration (DESIGN §3)."""

    facility_id: str
    name: str = Field(min_length=1, max_length=200)
    type: Literal[FACILITY_TYPES]  # type: ignore[valid-type]
    region: str | None = None
    industry: str | None = None
    timezone: str = "UTC"
    interval: str = "15min"
    basis: Literal["HHV", "LHV"] = "HHV"
    source: Source
    thresholds: Thresholds = Thresholds()
    streams: list[Stream] = Field(min_length=1)

    @field_validator("facility_id")
    @classmethod
    def _facility_id(cls, v: str) -> str:
        if not FACILITY_ID_RE.match(v):
            raise ValueError(f"{v!r} is not a valid facility_id: use 1..64 of [A-Za-z0-9_-]")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{v!r} is not an IANA time zone such as 'Europe/Berlin'") from exc
        return v

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        try:
            td = pd.Timedelta(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{v!r} is not a duration such as '15min'") from exc
        if td <= pd.Timedelta(0) or pd.Timedelta("1h") % td != pd.Timedelta(0):
            raise ValueError(f"interval {v!r} must divide an hour (1min, 5min, 15min, 30min, 1h)")
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def interval_td(self) -> pd.Timedelta:
        return pd.Timedelta(self.interval)

    def tag_specs(self) -> dict[str, "TagSpec"]:
        """Every tag of the facility with its unit, range and aggregation kind."""
        specs: dict[str, TagSpec] = {}
        for stream in self.streams:
            for field, m in stream.measurements().items():
                if m.is_tag and m.tag not in specs:
                    specs[m.tag] = TagSpec(m.tag, m.unit, m.range,
                                           "counter" if field == "counter" else "rate",
                                           stream.id, field)
        return specs

    def required_tags(self) -> list[str]:
        return list(self.tag_specs())


@dataclass(frozen=True)
class TagSpec:
    """One configured tag: ``kind`` is ``counter`` (summed increments) or ``rate`` (time-averaged)."""

    tag: str
    unit: str
    range: tuple[float, float] | None
    kind: str
    stream_id: str
    field: str


def is_fuel(carrier: str | None) -> bool:
    """True when the carrier is a fuel (anything not electricity, steam, water, heat or flue gas)."""
    return carrier is not None and carrier not in NON_FUEL_CARRIERS


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union")) or part in ("tuple",):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _pydantic_errors(exc: ValidationError) -> list[ConfigError]:
    out = []
    for e in exc.errors():
        field = _loc(e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        fix = None
        if e["type"] == "extra_forbidden":
            msg, fix = "unknown key", "remove it or check its spelling against the README"
        elif e["type"] == "missing":
            msg, fix = "required field is missing", "add it"
        cause = e.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            msg, fix = cause.message, cause.fix
        out.append(ConfigError(msg, field=field, fix=fix))
    return out


def _yaml_load(text: str):
    """Parse plain YAML, refusing aliases; libyaml's C parser when available (~2x faster)."""
    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - safe loader without aliases
    for event in yaml.parse(text, Loader=c_loader):
        if isinstance(event, yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed",
                                              event.start_mark)
    return yaml.load(text, Loader=c_loader)  # noqa: S506 - safe loader, aliases refused above


class _SafeLoader(yaml.SafeLoader):
    """SafeLoader without aliases: anchors/aliases are refused (no billion-laughs expansion)."""

    def compose_node(self, parent, index):  # noqa: D401
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)


MAX_CONFIG_BYTES = 1_000_000


def parse_facility(data: dict, *, file: str | None = None) -> Facility:
    """Validate a parsed configuration mapping; raises :class:`ConfigErrors`."""
    if not isinstance(data, dict):
        raise ConfigErrors([ConfigError("the file must hold a mapping of keys (facility_id, name, ...)",
                                        file=file)])
    try:
        facility = Facility.model_validate(data)
    except ValidationError as exc:
        errs = _pydantic_errors(exc)
    else:
        from thermaliq.config_checks import check_facility  # models first, then their checks

        errs = check_facility(facility)
    if errs:
        for e in errs:
            e.file = file
        raise ConfigErrors(errs)
    return facility


_LOADED: dict[tuple, Facility] = {}
_LOADED_LOCK = threading.Lock()


def load_facility(path: str | Path) -> Facility:
    """Load and validate one facility file; the file name must be ``<facility_id>.yaml``.

    A file already loaded and unchanged since (same path, inode, size and modification time in
    ns) gives the same validated :class:`Facility` again (it is frozen): every task of a run loads
    its facility, and parsing + validating costs ~20 ms a time.

    Raises
    ------
    ConfigErrors
        With every problem found, each naming the file, the field and the fix.
    """
    path = Path(path)
    name = str(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read: {exc}", file=name)]) from exc
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    with _LOADED_LOCK:
        cached = _LOADED.get(key)
    if cached is not None:
        return cached
    facility = _load_facility_file(path, name, st.st_size)
    with _LOADED_LOCK:
        if len(_LOADED) > 4096:     # edited files leave stale keys: keep the cache bounded
            _LOADED.clear()
        _LOADED[key] = facility
    return facility


def _load_facility_file(path: Path, name: str, size: int) -> Facility:
    try:
        if size > MAX_CONFIG_BYTES:
            raise ConfigErrors([ConfigError("file is larger than 1 MB", file=name)])
        text = path.read_text(encoding="utf-8")
        data = _yaml_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigErrors([ConfigError(f"cannot read: {exc}", file=name)]) from exc
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError(f"not valid YAML: {exc}", file=name,
                                        fix="correct the YAML at the line shown; plain YAML only: "
                                            "no anchors, aliases or !tags")]) from exc
    facility = parse_facility(data, file=name)
    if path.stem != facility.facility_id:
        raise ConfigErrors([ConfigError(
            f"file name {path.name!r} does not match facility_id {facility.facility_id!r}",
            file=name, field="facility_id", fix=f"rename the file to {facility.facility_id}.yaml")])
    return facility


def load_facilities(facilities_dir: str | Path) -> tuple[dict[str, Facility], list[ConfigError]]:
    """Load every ``*.yaml``/``*.yml`` of a directory; return (facilities by id, errors)."""
    facilities: dict[str, Facility] = {}
    errors: list[ConfigError] = []
    for path in sorted(Path(facilities_dir).glob("*.y*ml")):
        try:
            facility = load_facility(path)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        facilities[facility.facility_id] = facility
    return facilities, errors

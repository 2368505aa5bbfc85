"""Facility configuration model: the YAML of DESIGN §3 as pydantic models.

Loading and validating files is :mod:`thermaliq.config.load`; carrier-specific checks are
:mod:`thermaliq.config.checks`. A quantity (tag or constant, accuracy) is
:mod:`thermaliq.config.measurement`; emission factors, prices and the baseline are
:mod:`thermaliq.config.energy_management`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from pydantic import Field, field_validator, model_validator

from thermaliq.config.energy_management import Baseline, EmissionFactors, Price, Target
from thermaliq.config.measurement import Accuracy, Measurement, StrictModel
from thermaliq.config.vocabulary import OTHER_CARRIERS

FACILITY_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FACILITY_TYPES = ("steam_boiler", "hot_water_boiler", "chp", "process_heater", "furnace", "dryer")
NON_FUEL_CARRIERS = OTHER_CARRIERS   # one list of the carriers that are not fuels


class HeatingValue(StrictModel):
    """A heating value given in the configuration; overrides the fuel table."""

    value: float = Field(gt=0)
    unit: str
    basis: Literal["HHV", "LHV"] | None = None
    accuracy: Accuracy | None = None


class Estimate(StrictModel):
    """A loss as a constant share of input, or radiation at ``percent_of_rated`` (ABMA curve)."""

    percent_of_input: float | None = Field(None, ge=0, le=100)
    percent_of_rated: float | None = Field(None, ge=0, le=100)
    rated_output: Measurement | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.percent_of_input is None) == (self.percent_of_rated is None):
            raise ValueError("give exactly one of 'percent_of_input' or 'percent_of_rated'")
        if self.percent_of_rated is not None:
            if self.rated_output is None or self.rated_output.is_tag:
                raise ValueError("percent_of_rated needs rated_output: {value: ..., unit: kW}")
        return self


class Conductivity(StrictModel):
    """Conductivities (or TDS) of feedwater and boiler water; only their ratio counts [µS/cm]."""

    feedwater: float = Field(ge=0)
    blowdown: float = Field(gt=0)

    @model_validator(mode="after")
    def _below(self):
        if self.feedwater >= self.blowdown:
            raise ValueError("the feedwater conductivity must be below the blowdown's")
        return self


class ChpReference(StrictModel):
    """Reference efficiencies of the primary energy savings (Reg. (EU) 2015/2402) [%]."""

    electrical_reference_percent: float | None = Field(None, gt=0, le=100)
    heat_reference_percent: float | None = Field(None, gt=0, le=100)


class Stream(StrictModel):
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
    energy_basis: Literal["HHV", "LHV"] | None = None      # fuels metered in energy units
    phase: Literal["liquid", "gas"] | None = None          # liquefiable fuels metered by volume
    line_pressure: Measurement | None = None               # gas volume at line conditions
    line_temperature: Measurement | None = None
    compressibility: float = Field(1.0, gt=0)
    saturation_tolerance: float = Field(2.0, ge=0)         # steam: K below saturation taken as saturated
    dryness: Measurement | None = None                     # steam: quality of saturated steam
    of: str | None = None                       # blowdown: the steam stream it belongs to
    percent_of_feedwater: float | None = Field(None, ge=0, lt=100)
    conductivity: Conductivity | None = None

    def measurements(self) -> dict[str, Measurement]:
        """Every measurement of this stream by field name."""
        names = ("flow", "counter", "pressure", "temperature", "feedwater_temperature",
                 "supply_temperature", "return_temperature", "o2", "air_temperature",
                 "line_pressure", "line_temperature", "dryness")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def required_tags(self) -> list[str]:
        """Tags this stream needs for an interval to be valid."""
        return [m.tag for m in self.measurements().values() if m.is_tag]

    @property
    def quantity(self) -> Measurement | None:
        """The flow or counter measurement (rate or totalizer)."""
        return self.flow or self.counter


class Thresholds(StrictModel):
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


class Source(StrictModel):
    kind: Literal["files", "historian", "opcua", "piwebapi"]
    path: str | None = None
    format: Literal["long", "wide"] | None = None
    url: str | None = None
    token_env: str | None = None
    token_block: str | None = None     # name of a Prefect Secret block (loaded by tasks/ingest.py)
    timeout_s: float = Field(30.0, gt=0)
    batch_tags: int = Field(50, ge=1, le=10000)
    decimal: Literal[".", ","] | None = None   # files: detected when omitted (sources/regional.py)
    timestamp_format: str | None = None        # files: strftime format, e.g. "%d.%m.%Y %H:%M"
    # opcua and piwebapi (README "OPC UA Historical Access source", "PI Web API source")
    endpoint: str | None = None                 # opcua: opc.tcp://host:4840
    nodes: dict[str, str] = Field(default_factory=dict)   # opcua: tag -> node id or browse path
    namespace: int = Field(2, ge=0)             # opcua: ns of tags not in nodes (ns=<n>;s=<tag>)
    security_mode: Literal["None", "SignAndEncrypt"] = "None"
    security_policy: Literal["Basic256Sha256"] = "Basic256Sha256"
    certificate: str | None = None              # opcua client certificate (PEM/DER), home-relative
    private_key: str | None = None              # opcua client private key (PEM), home-relative
    data_server: str | None = None              # piwebapi: the PI Data Archive's name
    auth: Literal["none", "basic", "bearer"] = "none"   # piwebapi
    username_env: str | None = None             # opcua/piwebapi basic: NAME of a variable
    password_env: str | None = None             # NAME of a variable holding the password
    password_block: str | None = None           # NAME of a Prefect Secret block with the password
    ca_bundle: str | None = None                # piwebapi: CA bundle (PEM), home-relative
    max_count: int = Field(10000, ge=1, le=1_000_000)    # piwebapi: values per request

    @model_validator(mode="after")
    def _kind_fields(self):
        if self.kind in ("opcua", "piwebapi"):
            check_remote_source(self)
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


_VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BLOCK_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def check_remote_source(src: "Source") -> None:
    """The field rules of an ``opcua`` or ``piwebapi`` source (raises ValueError naming the field)."""
    for name in ("token_env", "username_env", "password_env"):
        value = getattr(src, name)
        if value is not None and not _VAR_NAME_RE.match(value):
            raise ValueError(f"{name} must be the NAME of an environment variable, not the secret")
    for name in ("token_block", "password_block"):
        value = getattr(src, name)
        if value is not None and not _BLOCK_NAME_RE.match(value):
            raise ValueError(f"{name} must be the NAME of a Prefect Secret block "
                             "(lower-case letters, digits, '-'), not the secret")
    if src.password_env and src.password_block:
        raise ValueError("give either password_env or password_block, not both")
    if src.token_env and src.token_block:
        raise ValueError("give either token_env or token_block, not both")
    for name in ("certificate", "private_key", "ca_bundle"):
        value = getattr(src, name)
        if value is not None and (Path(value).is_absolute() or ".." in Path(value).parts):
            raise ValueError(f"{name} {value!r} must stay inside the home: relative, no '..'")
    if src.kind == "opcua":
        if not src.endpoint or not src.endpoint.startswith("opc.tcp://"):
            raise ValueError("an opcua source needs 'endpoint' starting with opc.tcp://")
        if src.security_mode == "SignAndEncrypt" and not (src.certificate and src.private_key):
            raise ValueError("security_mode SignAndEncrypt needs 'certificate' and 'private_key'")
        if (src.password_env or src.password_block) and not src.username_env:
            raise ValueError("a password needs 'username_env' too")
        return
    if not src.url or not re.match(r"^https?://", src.url):
        raise ValueError("a piwebapi source needs 'url' starting with http:// or https://")
    if not src.data_server:
        raise ValueError("a piwebapi source needs 'data_server' (the PI Data Archive's name)")
    if src.auth == "basic" and not (src.username_env and (src.password_env or src.password_block)):
        raise ValueError("auth basic needs 'username_env' and 'password_env' or 'password_block'")
    if src.auth == "bearer" and not (src.token_env or src.token_block):
        raise ValueError("auth bearer needs 'token_env' or 'token_block'")


class Facility(StrictModel):
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
    chp: ChpReference | None = None
    emission_factors: EmissionFactors = EmissionFactors()
    prices: dict[str, Price] = Field(default_factory=dict)     # per carrier or stream id
    baseline: Baseline | None = None
    target: Target | None = None

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

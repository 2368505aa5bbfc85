"""The energy-management parts of the YAML (issue #18): emission factors, prices, baseline, target."""
from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator, model_validator

from thermaliq import units
from thermaliq.config.measurement import Measurement, StrictModel


class GridFactor(StrictModel):
    """Emission factor of grid electricity ``{value, unit: kg/MWh}`` (kg CO2e per MWh)."""

    value: float = Field(ge=0)
    unit: Literal["kg/MWh", "kg/kWh", "t/MWh", "g/kWh", "lb/MWh"] = "kg/MWh"
    method: Literal["location", "market"] = "location"
    source: str | None = None

    @property
    def kg_per_mwh(self) -> float:
        """The factor in kg CO2e per MWh."""
        scale = {"kg/MWh": 1.0, "kg/kWh": 1000.0, "t/MWh": 1000.0, "g/kWh": 1.0,
                 "lb/MWh": 0.45359237}
        return self.value * scale[self.unit]


class FuelFactorOverride(StrictModel):
    """A facility's own emission factors of a fuel (kg per MMBtu HHV), e.g. from a certificate."""

    co2_kg_per_mmbtu: float = Field(ge=0)
    ch4_kg_per_mmbtu: float = Field(0.0, ge=0)
    n2o_kg_per_mmbtu: float = Field(0.0, ge=0)
    source: str = Field(min_length=1)


class EmissionFactors(StrictModel):
    """``emission_factors``: GWP set, grid factor, per-fuel (or per-stream) overrides."""

    gwp: Literal["AR4", "AR5", "AR6"] = "AR5"
    electricity: GridFactor | None = None
    fuels: dict[str, FuelFactorOverride] = Field(default_factory=dict)


class Price(StrictModel):
    """A price ``{value, unit: USD/MMBtu}``: currency per energy or (fuels) volume or mass unit."""

    value: float = Field(ge=0)
    unit: str

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        currency, _, per = v.partition("/")
        if not re.match(r"^[A-Z]{3}$", currency) or not per:
            raise ValueError(f"{v!r} is not a price unit such as 'USD/MMBtu', 'EUR/MWh' or 'USD/m3'")
        units.parse_unit(per)
        return v

    @property
    def currency(self) -> str:
        return self.unit.partition("/")[0]

    @property
    def per_unit(self) -> str:
        return self.unit.partition("/")[2]


class Regressor(StrictModel):
    """One relevant variable of a baseline: ``useful_output``, ``hdd`` or a ``tag``'s mean."""

    kind: Literal["useful_output", "hdd", "tag"]
    temperature: Measurement | None = None          # hdd: the air temperature (tag or constant)
    base_temperature: Measurement | None = None     # hdd: default 15.5 degC
    tag: str | None = None                          # tag: its period mean is the regressor
    unit: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, v):
        return {"kind": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _fields(self):
        if self.kind == "hdd" and self.temperature is None:
            raise ValueError("an hdd regressor needs 'temperature' (an air-temperature tag or constant)")
        if self.kind == "tag" and (not self.tag or not self.unit):
            raise ValueError("a tag regressor needs 'tag' and 'unit'")
        for m in (self.temperature, self.base_temperature):
            if m is not None:
                units.check_kind(m.unit, ("temperature",))
        return self

    @property
    def name(self) -> str:
        """Column name of the regressor (``useful_output_kwh``, ``hdd_k_day``, ``tag:<tag>``)."""
        return {"useful_output": "useful_output_kwh", "hdd": "hdd_k_day"}.get(self.kind,
                                                                              f"tag:{self.tag}")


class Baseline(StrictModel):
    """``baseline``: an ISO 50006 energy baseline over ``start`` .. ``end`` (local days, inclusive)."""

    start: date
    end: date
    granularity: Literal["day", "month"] = "day"
    regressors: list[Regressor] = Field(min_length=1)

    @model_validator(mode="after")
    def _period(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        names = [r.name for r in self.regressors]
        if len(set(names)) != len(names):
            raise ValueError(f"regressors repeat: {names}")
        return self


class Target(StrictModel):
    """``target``: the efficiency to compute savings to (default: the benchmark's typical)."""

    efficiency_percent: float = Field(gt=0, le=100)

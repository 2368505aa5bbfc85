"""What a stream's quantity is in the YAML: a tag or a constant, its unit, range and accuracy."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thermaliq import units


class StrictModel(BaseModel):
    """A part of the YAML: unknown keys refused, frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Accuracy(StrictModel):
    """An instrument's accuracy (GUM): parts in quadrature, k = ``coverage`` or a rectangular MPE.

    See :mod:`thermaliq.physics.uncertainty` for how it becomes a standard uncertainty.
    """

    percent_of_reading: float = Field(0.0, ge=0, le=100)
    absolute: float = Field(0.0, ge=0)
    unit: str | None = None
    percent_of_span: float = Field(0.0, ge=0, le=100)
    span: tuple[float, float] | None = None
    coverage: float = Field(1.0, gt=0, le=10)
    distribution: Literal["normal", "rectangular"] = "normal"

    @model_validator(mode="after")
    def _parts(self):
        if not (self.percent_of_reading or self.absolute or self.percent_of_span):
            raise ValueError("give percent_of_reading, absolute (with unit) or percent_of_span")
        if self.percent_of_span and (self.span is None or not self.span[0] < self.span[1]):
            raise ValueError("percent_of_span needs span: [low, high] with low < high")
        if self.unit is not None:
            units.parse_unit(self.unit)
        return self


class Measurement(StrictModel):
    """A tag ``{tag, unit, range?}`` or a constant ``{value, unit}``."""

    tag: str | None = None
    value: float | None = None
    unit: str
    range: tuple[float, float] | None = None
    low_flow_cutoff: float | None = Field(None, ge=0)   # flow only: below it counts as zero
    basis: Literal["dry", "wet"] | None = None          # o2 only: default dry
    accuracy: Accuracy | None = None

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

"""Carrier-specific checks of a facility configuration, with messages naming stream and field.

Pydantic validates the shape of the YAML (``thermaliq.config``); these checks add what depends on
the carrier: which fields a stream needs, which unit kinds each field accepts, tags used twice with
different units, and at least one input and one output.
"""
from __future__ import annotations

from thermaliq import units
from thermaliq.config.model import Facility, Stream, is_fuel
from thermaliq.config.vocabulary import (FUEL_ALIASES, FUEL_NAMES, OTHER_CARRIERS, did_you_mean,
                                         known_fuel)
from thermaliq.errors import ConfigError, UnitError

# Which unit kinds each field accepts; used for dimension checks with stream-level messages.
_FIELD_KINDS = {
    "pressure": ("pressure",),
    "temperature": ("temperature",),
    "feedwater_temperature": ("temperature",),
    "supply_temperature": ("temperature",),
    "return_temperature": ("temperature",),
    "air_temperature": ("temperature",),
    "o2": ("fraction",),
    "line_pressure": ("pressure",),
    "line_temperature": ("temperature",),
    "dryness": ("fraction",),
}
# Fuels the table meters as a liquid by volume: a volume needs ``phase``.
LIQUEFIABLE = ("propane", "lpg", "butane")
_ONLY_ON = {"line_pressure": "gas", "line_temperature": "gas", "dryness": "steam"}
_FLOW_KINDS = {
    "fuel": ("volume_flow", "mass_flow", "amount_flow", "power"),
    "electricity": ("power",),
    "steam": ("mass_flow",),
    "hot_water": ("mass_flow", "volume_flow"),
    "heat": ("power",),
}
_COUNTER_KINDS = {
    "fuel": ("volume", "mass", "amount", "energy"),
    "electricity": ("energy",),
    "steam": ("mass",),
    "hot_water": ("mass", "volume"),
    "heat": ("energy",),
}
_REQUIRED_FIELDS = {
    "steam": ("pressure", "feedwater_temperature"),
    "hot_water": ("supply_temperature", "return_temperature"),
    "flue_gas": ("temperature", "o2"),
}


def _check_stream(i: int, s: Stream) -> list[ConfigError]:
    """Carrier-specific checks of one stream, with messages naming the stream and field."""
    errs: list[ConfigError] = []
    where = f"streams[{i}]"
    if s.estimate is not None:
        if s.role != "loss":
            errs.append(ConfigError("an estimate stream must have role 'loss'", field=f"{where}.role"))
        return errs
    if s.carrier is None:
        return [ConfigError(f"stream {s.id!r} needs a 'carrier' (or an 'estimate' for a loss)",
                            field=f"{where}.carrier")]
    errs.extend(_check_vocabulary(where, s))
    family = "fuel" if is_fuel(s.carrier) else s.carrier
    if s.carrier == "blowdown":
        return errs + _check_blowdown(where, s)
    if s.carrier == "flue_gas":
        if s.role != "loss":
            errs.append(ConfigError("a flue_gas stream is a loss", field=f"{where}.role",
                                    fix="set role: loss"))
        if not s.fuel:
            errs.append(ConfigError(f"flue_gas stream {s.id!r} needs 'fuel' for its combustion "
                                    "coefficients", field=f"{where}.fuel", fix="e.g. fuel: natural_gas"))
    else:
        if (s.flow is None) == (s.counter is None):
            errs.append(ConfigError(f"stream {s.id!r} needs exactly one of 'flow' or 'counter'",
                                    field=f"{where}.flow"))
    for field in _REQUIRED_FIELDS.get(s.carrier, ()):
        if getattr(s, field) is None:
            errs.append(ConfigError(f"{s.carrier} stream {s.id!r} needs '{field}'",
                                    field=f"{where}.{field}",
                                    fix=f"add {field}: {{tag: ..., unit: ...}} or {{value: ..., unit: ...}}"))
    if s.carrier == "hot_water" and s.flow is not None and s.meter_on is None:
        try:
            if units.kind_of(s.flow.unit) == "volume_flow":
                errs.append(ConfigError(f"hot_water stream {s.id!r} measures volume: say where the "
                                        "meter sits", field=f"{where}.meter_on",
                                        fix="add meter_on: supply or meter_on: return"))
        except UnitError:
            pass
    errs.extend(_metering_checks(where, s, family))
    checks = dict(_FIELD_KINDS)
    checks["flow"] = _FLOW_KINDS.get(family, ())
    checks["counter"] = _COUNTER_KINDS.get(family, ())
    for field, m in s.measurements().items():
        try:
            units.check_kind(m.unit, checks[field])
        except UnitError as exc:
            errs.append(ConfigError(f"stream {s.id!r}: {exc.message}", field=f"{where}.{field}.unit",
                                    fix=exc.fix))
    if s.heating_value is not None:
        try:
            units.check_kind(s.heating_value.unit, ("energy_per_mass", "energy_per_volume",
                                                    "energy_per_amount"))
        except UnitError as exc:
            errs.append(ConfigError(f"stream {s.id!r}: {exc.message}",
                                    field=f"{where}.heating_value.unit", fix=exc.fix))
    return errs


def _unit_kind(m) -> str | None:
    try:
        return units.kind_of(m.unit)
    except UnitError:
        return None


def _metering_checks(where: str, s: Stream, family: str) -> list[ConfigError]:
    """Operating-state and metering-convention fields: where each may appear and what it needs."""
    errs: list[ConfigError] = []
    for name, m in s.measurements().items():
        if m.low_flow_cutoff is not None and name != "flow":
            errs.append(ConfigError(f"stream {s.id!r}: low_flow_cutoff belongs on 'flow'",
                                    field=f"{where}.{name}.low_flow_cutoff"))
        if m.basis is not None and name != "o2":
            errs.append(ConfigError(f"stream {s.id!r}: basis dry|wet belongs on 'o2'",
                                    field=f"{where}.{name}.basis"))
    if s.dryness is not None and s.carrier != "steam":
        errs.append(ConfigError(f"stream {s.id!r}: dryness applies to steam only",
                                field=f"{where}.dryness"))
    q = s.quantity
    kind = _unit_kind(q) if q is not None else None
    if family != "fuel":
        for name in ("energy_basis", "phase", "line_pressure", "line_temperature"):
            if getattr(s, name) is not None:
                errs.append(ConfigError(f"stream {s.id!r}: {name} applies to fuels only",
                                        field=f"{where}.{name}"))
        return errs
    if kind in ("energy", "power") and s.energy_basis is None:
        errs.append(ConfigError(f"fuel stream {s.id!r} is metered in energy ({q.unit}): say on "
                                "which heating value", field=f"{where}.energy_basis",
                                fix="add energy_basis: HHV (gas is usually billed on HHV) or LHV"))
    if s.carrier in LIQUEFIABLE and kind in ("volume", "volume_flow") and s.phase is None:
        errs.append(ConfigError(f"{s.carrier} stream {s.id!r} is metered by volume ({q.unit}): say "
                                "whether the meter sees liquid or vapour", field=f"{where}.phase",
                                fix="add phase: liquid (tank, vaporiser inlet) or phase: gas"))
    line = (s.line_pressure, s.line_temperature)
    if any(m is not None for m in line):
        if None in line:
            errs.append(ConfigError(f"stream {s.id!r}: give both line_pressure and "
                                    "line_temperature", field=f"{where}.line_pressure"))
        gas = s.phase == "gas" or (s.carrier not in LIQUEFIABLE and s.phase is None)
        if kind not in ("volume", "volume_flow") or not gas:
            errs.append(ConfigError(f"stream {s.id!r}: line conditions apply to a gas metered in "
                                    "a plain volume unit (m3, L, ft3)", field=f"{where}.line_pressure",
                                    fix="remove line_pressure/line_temperature, or meter in m3"))
    return errs


def _check_vocabulary(where: str, s: Stream) -> list[ConfigError]:
    """Unknown carriers and fuels, with a "did you mean" (a typo must not pass as a new fuel).

    A carrier outside the vocabulary is accepted only as a fuel of its own, with its own
    ``heating_value``; a flue-gas ``fuel`` must be in the fuel table (its combustion coefficients).
    """
    errs: list[ConfigError] = []
    words = FUEL_NAMES + FUEL_ALIASES + OTHER_CARRIERS
    if s.carrier not in OTHER_CARRIERS and not known_fuel(s.carrier) and s.heating_value is None:
        errs.append(ConfigError(f"stream {s.id!r}: unknown carrier {s.carrier!r}",
                                field=f"{where}.carrier",
                                fix=f"{did_you_mean(s.carrier, words)} (a fuel of your own needs "
                                    "heating_value: {value: ..., unit: ...})"))
    if s.fuel is not None and not known_fuel(s.fuel):
        errs.append(ConfigError(f"stream {s.id!r}: unknown fuel {s.fuel!r}", field=f"{where}.fuel",
                                fix=did_you_mean(s.fuel, FUEL_NAMES + FUEL_ALIASES)))
    return errs


def _check_blowdown(where: str, s: Stream) -> list[ConfigError]:
    """A blowdown loss: role loss, ``of`` a steam stream, one of flow, percent_of_feedwater and
    conductivity (the steam stream's existence is checked in :func:`check_facility`)."""
    errs = []
    if s.role != "loss":
        errs.append(ConfigError("a blowdown stream is a loss", field=f"{where}.role",
                                fix="set role: loss"))
    if not s.of:
        errs.append(ConfigError(f"blowdown stream {s.id!r} needs 'of': the id of its steam stream",
                                field=f"{where}.of"))
    given = [n for n in ("flow", "percent_of_feedwater", "conductivity") if getattr(s, n) is not None]
    if len(given) != 1:
        errs.append(ConfigError(f"blowdown stream {s.id!r} needs exactly one of flow, "
                                f"percent_of_feedwater, conductivity (got {given or 'none'})",
                                field=f"{where}.percent_of_feedwater"))
    if s.flow is not None:
        try:
            units.check_kind(s.flow.unit, ("mass_flow",))
        except UnitError as exc:
            errs.append(ConfigError(f"stream {s.id!r}: {exc.message}", field=f"{where}.flow.unit",
                                    fix=exc.fix))
    return errs


def check_facility(f: Facility) -> list[ConfigError]:
    errs: list[ConfigError] = []
    seen_ids: set[str] = set()
    tag_units: dict[str, tuple[str, str]] = {}
    for i, s in enumerate(f.streams):
        if s.id in seen_ids:
            errs.append(ConfigError(f"stream id {s.id!r} is used twice", field=f"streams[{i}].id"))
        seen_ids.add(s.id)
        errs.extend(_check_stream(i, s))
        for field, m in s.measurements().items():
            if not m.is_tag:
                continue
            if m.tag in tag_units and tag_units[m.tag][0] != m.unit:
                errs.append(ConfigError(
                    f"tag {m.tag!r} has unit {m.unit!r} here but {tag_units[m.tag][0]!r} in "
                    f"{tag_units[m.tag][1]}", field=f"streams[{i}].{field}.unit",
                    fix="a tag has one unit: use the same unit everywhere"))
            tag_units.setdefault(m.tag, (m.unit, f"streams[{i}].{field}"))
    steam_ids = {s.id for s in f.streams if s.carrier == "steam"}
    for i, s in enumerate(f.streams):
        if s.carrier == "blowdown" and s.of and s.of not in steam_ids:
            errs.append(ConfigError(f"blowdown stream {s.id!r}: 'of' names {s.of!r}, which is not "
                                    "a steam stream", field=f"streams[{i}].of",
                                    fix=f"use one of {sorted(steam_ids)}"))
        if s.estimate is not None and s.estimate.rated_output is not None:
            try:
                units.check_kind(s.estimate.rated_output.unit, ("power",))
            except UnitError as exc:
                errs.append(ConfigError(f"stream {s.id!r}: {exc.message}",
                                        field=f"streams[{i}].estimate.rated_output.unit", fix=exc.fix))
    if not any(s.role == "input" for s in f.streams):
        errs.append(ConfigError("a facility needs at least one input stream", field="streams"))
    if not any(s.role == "output" for s in f.streams):
        errs.append(ConfigError("a facility needs at least one useful output stream", field="streams"))
    return errs

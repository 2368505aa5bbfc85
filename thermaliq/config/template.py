"""The commented facility file ``thermaliq init`` writes, and streams proposed from a file's tags.

:data:`TEMPLATE` is the README's complete example (a gas-fired steam boiler); it loads as it is
(``tests/test_first_contact.py``). :func:`propose_yaml` fills it with the tags and units of a
readings file where their unit or ISA letter code (FT flow, PT pressure, TT temperature, AT
analyser, JT power) says what they measure, and lists the tags it could not place.
"""
from __future__ import annotations

from thermaliq import units
from thermaliq.errors import UnitError

TEMPLATE = """\
# thermaliq facility file: <home>/facilities/{facility_id}.yaml (the file name is the id).
# Check it with: thermaliq check-config --home <home>; look at your files with: thermaliq check-source -f {facility_id}
facility_id: {facility_id}
name: Boiler house 1                # shown in reports
type: steam_boiler                  # steam_boiler | hot_water_boiler | chp | process_heater | furnace | dryer
timezone: Europe/Berlin             # IANA name: days and reports are local calendar days
interval: 15min                     # calculation grid (divides an hour)
basis: HHV                          # HHV | LHV: heating-value basis of every efficiency
source:
  kind: files
  path: inbox/{facility_id}/*.csv   # glob relative to the home; CSV or Parquet, long or wide
  # decimal: ","                    # numbers written 1234,5 (detected when omitted)
  # timestamp_format: "%d.%m.%Y %H:%M"   # dates that are not ISO 8601 (day-first detected when clear)
thresholds:                         # all optional; defaults shown
  balance_tolerance_percent: 5.0
  data_quality_min: 0.90
  offline_after: 1h
streams:
  - id: gas
    role: input
    carrier: natural_gas            # natural_gas biogas hydrogen propane fuel_oil_no2 diesel fuel_oil_no6 coal biomass
    flow: {{tag: {gas_tag}, unit: {gas_unit}, range: [0, 2500]}}
    heating_value: {{value: 10.55, unit: kWh/m3}}   # optional: default from the fuel table
  - id: steam
    role: output
    carrier: steam
    flow: {{tag: {steam_tag}, unit: {steam_unit}}}
    pressure: {{tag: {pressure_tag}, unit: {pressure_unit}}}
    # temperature: {{tag: TT-201, unit: degC}}      # superheated steam; omitted: saturated
    feedwater_temperature: {{tag: {feedwater_tag}, unit: degC}}
  - id: flue
    role: loss
    carrier: flue_gas
    fuel: natural_gas
    temperature: {{tag: {flue_tag}, unit: degC}}
    o2: {{tag: {o2_tag}, unit: percent}}
    air_temperature: {{value: 20, unit: degC}}
"""

_DEFAULTS = {"gas_tag": "FT-101", "gas_unit": "m3/h", "steam_tag": "FT-201", "steam_unit": "t/h",
             "pressure_tag": "PT-201", "pressure_unit": "barg", "feedwater_tag": "TT-202",
             "flue_tag": "TT-501", "o2_tag": "AT-501"}


def template_yaml(facility_id: str) -> str:
    """The commented template for ``facility_id`` with example tags."""
    return TEMPLATE.format(facility_id=facility_id, **_DEFAULTS)


def _kind(tag: str, unit: str | None) -> str | None:
    """What a tag measures, from its unit if given, else from its ISA letters."""
    if unit:
        try:
            return units.kind_of(unit)
        except UnitError:
            return None
    letters = tag.upper().lstrip("_- ")[:2]
    return {"FT": "flow", "FQ": "flow", "PT": "pressure", "TT": "temperature", "AT": "fraction",
            "JT": "power"}.get(letters)


def propose_yaml(facility_id: str, tags: dict[str, str | None]) -> tuple[str, list[str]]:
    """A template filled with ``tags`` (tag -> unit or None) it can place; (yaml, tags not placed).

    Volume flows become the gas meter, mass flows the steam meter, the first pressure the steam
    pressure, temperatures the feedwater then the flue gas, a percentage the O2; everything else
    is listed for the user to place.
    """
    values = dict(_DEFAULTS)
    left = []
    temps = []
    for tag, unit in tags.items():
        kind = _kind(tag, unit)
        if kind in ("volume_flow", "amount_flow") and values["gas_tag"] == _DEFAULTS["gas_tag"]:
            values.update(gas_tag=tag, gas_unit=unit)
        elif kind == "mass_flow" and values["steam_tag"] == _DEFAULTS["steam_tag"]:
            values.update(steam_tag=tag, steam_unit=unit)
        elif kind == "pressure" and values["pressure_tag"] == _DEFAULTS["pressure_tag"]:
            values.update(pressure_tag=tag, pressure_unit=unit or "barg")
        elif kind == "flow" and values["gas_tag"] == _DEFAULTS["gas_tag"]:
            values["gas_tag"] = tag               # no unit in the file: the unit stays to be checked
        elif kind == "flow" and values["steam_tag"] == _DEFAULTS["steam_tag"]:
            values["steam_tag"] = tag
        elif kind == "temperature":
            temps.append(tag)
        elif kind == "fraction" and values["o2_tag"] == _DEFAULTS["o2_tag"]:
            values["o2_tag"] = tag
        else:
            left.append(tag)
    for key, tag in zip(("feedwater_tag", "flue_tag"), temps):
        values[key] = tag
    left += temps[2:]
    text = TEMPLATE.format(facility_id=facility_id, **values)
    if left:
        text += "# tags in the file not placed above (add them to a stream or ignore them):\n"
        text += "".join(f"#   {t}\n" for t in left)
    return text, left

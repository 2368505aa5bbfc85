"""Unit spellings of plants (DESIGN §3) and dimension errors naming stream and field."""
import pytest

from thermaliq import config, units
from thermaliq.errors import ConfigErrors


@pytest.mark.parametrize("value, unit, kind, si", [
    (1.0, "m3", "volume", 1.0),
    (1.0, "L", "volume", 1e-3),
    (1.0, "gal", "volume", 3.785411784e-3),                       # US gallon, exact (NIST HB 44)
    (1.0, "Nm3", "amount", 101325 / (8.314462618 * 273.15)),       # ideal gas, 0 degC
    (1.0, "Sm3", "amount", 101325 / (8.314462618 * 288.15)),       # ideal gas, 15 degC
    (1.0, "scf", "amount", 101325 * 0.3048 ** 3 / (8.314462618 * 288.7055556)),  # 60 degF
    (3.6, "t/h", "mass_flow", 1.0),
    (3600.0, "kg/h", "mass_flow", 1.0),
    (3600.0, "lb/h", "mass_flow", 0.45359237),                     # lb exact
    (3.6, "klb/h", "mass_flow", 0.45359237),
    (0.0, "barg", "pressure", 101325.0),                           # gauge = absolute - 1.01325 bar
    (10.0, "barg", "pressure", 1101325.0),
    (0.0, "psig", "pressure", 101325.0),
    (100.0, "kPag", "pressure", 201325.0),
    (25.0, "degC", "temperature", 298.15),
    (212.0, "degF", "temperature", 373.15),
    (300.0, "K", "temperature", 300.0),
    (1.0, "kW", "power", 1e3),
    (1.0, "MW", "power", 1e6),
    (1.0, "kWh", "energy", 3.6e6),
    (1.0, "MWh", "energy", 3.6e9),
    (1.0, "GJ", "energy", 1e9),
    (1.0, "Btu", "energy", 1055.05585262),                         # International Table Btu
    (1.0, "MMBtu", "energy", 1055.05585262e6),
    (1.0, "therm", "energy", 105.505585262e6),                     # 100 000 Btu (EC therm)
    (3.0, "percent", "fraction", 0.03),
    (3.0, "%", "fraction", 0.03),
])
def test_every_plant_spelling_converts(value, unit, kind, si):
    """Definitions: NIST SP 811 (Btu_IT, lb, gal), DIN 1343 (Nm3), ISO 13443 (Sm3)."""
    assert units.to_si(value, unit, kind) == pytest.approx(si, rel=1e-6)  # Btu_IT rounding 1e-7


def _facility(flow_unit):
    return {"facility_id": "U1", "name": "u", "type": "steam_boiler",
            "source": {"kind": "files", "path": "inbox/*.csv"},
            "streams": [
                {"id": "gas", "role": "input", "carrier": "natural_gas",
                 "flow": {"tag": "F1", "unit": "Nm3/h"}},
                {"id": "steam", "role": "output", "carrier": "steam",
                 "flow": {"tag": "F2", "unit": flow_unit},
                 "pressure": {"value": 10, "unit": "barg"},
                 "feedwater_temperature": {"value": 105, "unit": "degC"}}]}


def test_volume_flow_given_as_steam_mass_flow_names_stream_and_field():
    with pytest.raises(ConfigErrors) as err:
        config.parse_facility(_facility("m3/h"))
    text = str(err.value)
    assert "steam" in text and "streams[1].flow.unit" in text and "mass flow" in text


def test_unknown_unit_is_a_config_error():
    with pytest.raises(ConfigErrors, match="unknown unit"):
        config.parse_facility(_facility("blorps/h"))


def test_odd_dimension_message_is_readable():
    with pytest.raises(ConfigErrors, match=r"is of dimension \[length\] / \[time\], expected a mass"):
        config.parse_facility(_facility("furlong/fortnight"))

"""Facility configuration: validation messages name the file, the field and the fix (DESIGN §3)."""
from __future__ import annotations

import copy

import pytest
import yaml

from thermaliq.config import load_facilities, load_facility, parse_facility
from thermaliq.errors import ConfigErrors

BASE = {
    "facility_id": "FAC-001",
    "name": "Riverside steam plant",
    "type": "steam_boiler",
    "timezone": "America/Chicago",
    "interval": "15min",
    "basis": "HHV",
    "source": {"kind": "files", "path": "inbox/FAC-001/*.csv"},
    "streams": [
        {"id": "gas", "role": "input", "carrier": "natural_gas",
         "flow": {"tag": "FT-101", "unit": "m3/h", "range": [0, 2500]},
         "heating_value": {"value": 10.55, "unit": "kWh/m3"}},
        {"id": "steam", "role": "output", "carrier": "steam",
         "flow": {"tag": "FT-201", "unit": "t/h"}, "pressure": {"tag": "PT-201", "unit": "barg"},
         "feedwater_temperature": {"value": 105, "unit": "degC"}},
        {"id": "flue", "role": "loss", "carrier": "flue_gas", "fuel": "natural_gas",
         "temperature": {"tag": "TT-501", "unit": "degC"}, "o2": {"tag": "AT-501", "unit": "percent"},
         "air_temperature": {"value": 20, "unit": "degC"}},
        {"id": "shell", "role": "loss", "estimate": {"percent_of_input": 1.0}},
    ],
}


def errors_of(data) -> list[str]:
    with pytest.raises(ConfigErrors) as exc:
        parse_facility(data, file="FAC-001.yaml")
    return [str(e) for e in exc.value.errors]


def test_valid_config_loads_with_defaults():
    f = parse_facility(copy.deepcopy(BASE))
    assert f.thresholds.balance_tolerance_percent == 5.0
    assert f.thresholds.data_quality_min == 0.90
    specs = f.tag_specs()
    assert specs["FT-101"].kind == "rate" and specs["FT-101"].range == (0, 2500)
    assert set(specs) == {"FT-101", "FT-201", "PT-201", "TT-501", "AT-501"}


def test_unknown_key_names_field_and_fix():
    data = copy.deepcopy(BASE)
    data["streams"][1]["flw"] = {"tag": "X", "unit": "t/h"}
    [msg] = errors_of(data)
    assert "FAC-001.yaml: streams[1].flw: unknown key" in msg and "fix:" in msg


def test_wrong_dimension_names_stream_and_field():
    data = copy.deepcopy(BASE)
    data["streams"][1]["flow"]["unit"] = "m3/h"      # a volume given as steam mass flow
    [msg] = errors_of(data)
    assert "streams[1].flow.unit" in msg and "'steam'" in msg and "mass flow" in msg


def test_unknown_unit():
    data = copy.deepcopy(BASE)
    data["streams"][0]["flow"]["unit"] = "furlongs/fortnight-ish"
    msgs = errors_of(data)
    assert any("streams[0].flow" in m and "unknown unit" in m for m in msgs)


def test_missing_feedwater_temperature():
    data = copy.deepcopy(BASE)
    del data["streams"][1]["feedwater_temperature"]
    [msg] = errors_of(data)
    assert "streams[1].feedwater_temperature" in msg and "needs 'feedwater_temperature'" in msg


def test_tag_used_twice_with_different_units():
    data = copy.deepcopy(BASE)
    data["streams"][2]["temperature"] = {"tag": "PT-201", "unit": "degC"}
    msgs = errors_of(data)
    assert any("tag 'PT-201' has unit 'degC' here but 'barg'" in m for m in msgs)


@pytest.mark.parametrize("field,value,text", [
    ("timezone", "Mars/Olympus", "not an IANA time zone"),
    ("facility_id", "../../etc", "not a valid facility_id"),
    ("interval", "7min", "must divide an hour"),
    ("type", "nuclear", "Input should be"),
])
def test_bad_top_level_fields(field, value, text):
    data = copy.deepcopy(BASE)
    data[field] = value
    msgs = errors_of(data)
    assert any(m.startswith(f"FAC-001.yaml: {field}:") and text in m for m in msgs), msgs


def test_source_path_must_stay_inside_home():
    data = copy.deepcopy(BASE)
    data["source"]["path"] = "../../etc/*.csv"
    msgs = errors_of(data)
    assert any("source" in m and "inside the home" in m for m in msgs)


def test_hot_water_volume_needs_meter_position():
    data = copy.deepcopy(BASE)
    data["streams"].append({"id": "dh", "role": "output", "carrier": "hot_water",
                            "flow": {"tag": "FT-420", "unit": "m3/h"},
                            "supply_temperature": {"tag": "TT-421", "unit": "degC"},
                            "return_temperature": {"tag": "TT-422", "unit": "degC"}})
    msgs = errors_of(data)
    assert any("streams[4].meter_on" in m for m in msgs)


def test_file_name_must_match_facility_id(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(BASE))
    with pytest.raises(ConfigErrors, match="rename the file to FAC-001.yaml"):
        load_facility(path)


def test_yaml_aliases_and_python_tags_are_refused(tmp_path):
    (tmp_path / "FAC-001.yaml").write_text("a: &x [1, 2]\nb: *x\n")
    (tmp_path / "FAC-002.yaml").write_text("facility_id: !!python/object/apply:os.system ['echo hi']\n")
    good = copy.deepcopy(BASE)
    good["facility_id"] = "FAC-003"
    (tmp_path / "FAC-003.yaml").write_text(yaml.safe_dump(good))
    facilities, errors = load_facilities(tmp_path)
    assert list(facilities) == ["FAC-003"]          # one bad file never hides the others
    text = "\n".join(str(e) for e in errors)
    assert "FAC-001.yaml" in text and "aliases" in text
    assert "FAC-002.yaml" in text and "not valid YAML" in text


def test_an_edited_file_is_loaded_again_an_unchanged_one_is_not_parsed_twice(tmp_path):
    """Tasks load their facility each time; the cache must never serve an edited file."""
    import os

    path = tmp_path / "FAC-001.yaml"
    path.write_text(yaml.safe_dump(BASE))
    first = load_facility(path)
    assert load_facility(path) is first                    # unchanged: the same validated object
    edited = copy.deepcopy(BASE)
    edited["name"] = "Riverside"                           # same file, new content
    path.write_text(yaml.safe_dump(edited))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # even within one mtime tick
    assert load_facility(path).name == "Riverside"
    path.write_text("a: &x [1]\nb: *x\n")                  # and a broken edit is reported
    with pytest.raises(ConfigErrors, match="aliases"):
        load_facility(path)

"""Sankey data of a period's flows: hand-worked balances, grouping, limits and empty periods."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from thermaliq.report.sankey import PLANT, UNACCOUNTED, sankey_data


def frame(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["stream_id", "role", "carrier", "energy_kwh"])


def flows(d) -> dict[tuple[str, str], float]:
    """{(source label, target label): kWh}."""
    return {(d.nodes[lk.source], d.nodes[lk.target]): lk.value_kwh for lk in d.links}


def conserved(d) -> None:
    """Every node except sources and sinks passes on what it receives: the plant node balances."""
    into = sum(lk.value_kwh for lk in d.links if lk.target == 0)
    out = sum(lk.value_kwh for lk in d.links if lk.source == 0)
    assert into == pytest.approx(out, rel=1e-12)  # float sums only
    assert all(lk.value_kwh > 0 for lk in d.links)


def test_unaccounted_node_when_input_exceeds_outputs_and_losses():
    """Hand-worked: 1000 in; 850 steam + 100 flue → 50 kWh unaccounted."""
    d = sankey_data(frame(("gas", "input", "natural_gas", 1000.0), ("steam", "output", "steam", 850.0),
                          ("flue", "loss", "flue_gas", 100.0)))
    assert d.empty_reason is None
    assert flows(d) == {("gas", PLANT): 1000.0, (PLANT, "steam"): 850.0, (PLANT, "flue"): 100.0,
                        (PLANT, UNACCOUNTED): 50.0}
    assert d.node_roles == ["plant", "input", "output", "loss", "unaccounted"]
    assert d.totals == {"input_kwh": 1000.0, "output_kwh": 850.0, "loss_kwh": 100.0, "unaccounted_kwh": 50.0}
    conserved(d)


def test_outputs_exceeding_input_become_a_labelled_extra_input():
    """Hand-worked: 1000 in; 980 steam + 70 flue = 1050 → 50 kWh excess, no negative link."""
    d = sankey_data(frame(("gas", "input", "natural_gas", 1000.0), ("steam", "output", "steam", 980.0),
                          ("flue", "loss", "flue_gas", 70.0)))
    label = "Measured outputs exceed inputs by 50 kWh (balance error)"
    assert flows(d)[(label, PLANT)] == pytest.approx(50.0, abs=1e-9)  # 1000-980-70 in floats
    assert UNACCOUNTED not in d.nodes and "imbalance" in d.node_roles
    assert d.totals["unaccounted_kwh"] == pytest.approx(-50.0, abs=1e-9)
    conserved(d)


def test_exact_balance_has_neither_extra_node():
    d = sankey_data(frame(("gas", "input", "natural_gas", 1000.0), ("steam", "output", "steam", 900.0),
                          ("flue", "loss", "flue_gas", 100.0)))
    assert set(d.node_roles) == {"plant", "input", "output", "loss"}


def test_small_flows_grouped_per_role_only_when_two_or_more():
    """Threshold 1 % of 10 000 kWh input = 100 kWh: two small losses group, one small input stays."""
    d = sankey_data(frame(("gas", "input", "natural_gas", 9950.0), ("pilot", "input", "propane", 50.0),
                          ("steam", "output", "steam", 8500.0), ("flue", "loss", "flue_gas", 1200.0),
                          ("shell", "loss", None, 60.0), ("blowdown", "loss", "hot_water", 40.0),
                          ("vent", "loss", "steam", 30.0)), other_share=0.01)
    f = flows(d)
    assert f[(PLANT, "Other losses")] == pytest.approx(130.0)  # 60 + 40 + 30
    assert ("pilot", PLANT) in f  # a single small input keeps its name
    assert f[(PLANT, UNACCOUNTED)] == pytest.approx(10000 - 8500 - 1200 - 130)
    assert any("Other losses groups 3 flows" in n for n in d.notes)
    conserved(d)


def test_rows_of_one_stream_are_summed():
    """Several interval rows of a stream add up (the caller may pass un-aggregated rows)."""
    d = sankey_data(frame(("gas", "input", "natural_gas", 400.0), ("gas", "input", "natural_gas", 600.0),
                          ("steam", "output", "steam", 500.0), ("steam", "output", "steam", 300.0)))
    assert flows(d)[("gas", PLANT)] == 1000.0 and flows(d)[(PLANT, "steam")] == 800.0


def test_node_limit_falls_back_to_carriers_then_roles():
    """40 fuel meters of 2 carriers exceed 30 nodes → per role and carrier; a limit of 5 → per role."""
    rows = [(f"burner{i:02d}", "input", "natural_gas" if i % 2 else "biomass", 100.0) for i in range(40)]
    rows += [("steam", "output", "steam", 3200.0), ("flue", "loss", "flue_gas", 500.0)]
    d = sankey_data(frame(*rows), other_share=0.0)
    assert d.nodes == [PLANT, "Inputs: biomass", "Inputs: natural_gas", "Useful outputs: steam",
                       "Known losses: flue_gas", UNACCOUNTED]
    assert flows(d)[("Inputs: biomass", PLANT)] == pytest.approx(2000.0)
    assert any("grouped per role and carrier" in n for n in d.notes)
    conserved(d)
    rows += [(f"loss{i}", "loss", f"c{i}", 1.0) for i in range(3)]
    small = sankey_data(frame(*rows), other_share=0.0, max_nodes=5, max_links=4)
    assert small.nodes == [PLANT, "Inputs", "Useful outputs", "Known losses", UNACCOUNTED]
    assert any("grouped per role." in n for n in small.notes)
    assert len(small.nodes) <= 5 and len(small.links) <= 4


def test_empty_and_invalid_periods_explain_themselves():
    assert sankey_data(frame()).empty_reason.startswith("No stream energies")
    no_input = sankey_data(frame(("steam", "output", "steam", 10.0)))
    assert "No input energy" in no_input.empty_reason and no_input.nodes == []
    bad = sankey_data(frame(("gas", "input", "natural_gas", math.nan), ("steam", "output", "steam", 5.0),
                            ("x", "weird", "y", 1.0), ("flue", "loss", "flue_gas", -3.0)))
    assert bad.empty_reason is not None
    text = " ".join(bad.notes)
    assert "No valid energy for: gas" in text and "unknown role: x" in text and "Left out flue" in text


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="lacks column"):
        sankey_data(pd.DataFrame({"stream_id": ["a"], "energy_kwh": [1.0]}))
    with pytest.raises(ValueError, match="other_share"):
        sankey_data(frame(), other_share=1.5)

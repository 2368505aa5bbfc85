"""Operating states of a plant per interval: firing, standby or unknown.

A boiler that is off is not bad data. Per interval:

* ``firing``: some input stream has energy (after each flow's ``low_flow_cutoff``);
* ``standby``: every input stream's energy is known and zero, and every tag of the input
  quantities (flow or counter) is measured or interpolated;
* ``unknown``: neither (an input quantity is missing or only estimated).

A standby interval is valid whatever the other tags do: a flue-gas analyser that holds its last
value, a temperature that drifts or a meter that stops reporting while the plant is off say
nothing about a plant whose inputs are zero. Its energies that could not be computed count as
zero (no fuel, no flue-gas loss); energies that are known (heat drawn from the stored water of a
hot-water boiler) are kept. A firing interval is valid when every tag is.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from thermaliq.config import Facility
from thermaliq.physics.energy import StreamEnergies

FIRING = "firing"
STANDBY = "standby"
UNKNOWN = "unknown"


def input_quantity_tags(facility: Facility) -> list[str]:
    """Tags of the flow or counter of every input stream: what says whether the plant fires."""
    return [s.quantity.tag for s in facility.streams
            if s.role == "input" and s.quantity is not None and s.quantity.is_tag]


def operating_states(facility: Facility, energy_kwh: pd.DataFrame,
                     tag_valid: pd.DataFrame | None = None) -> pd.Series:
    """State of every interval from the input streams' energies.

    Parameters
    ----------
    facility : Facility
        Which streams are inputs.
    energy_kwh : pandas.DataFrame
        Energies per interval (rows) and stream id (columns) [kWh].
    tag_valid : pandas.DataFrame of bool, optional
        Per interval and tag: measured or interpolated. Without it, an input energy that is
        known counts as valid data (stored interval energies, already screened).

    Returns
    -------
    pandas.Series of str
        ``firing``, ``standby`` or ``unknown``, indexed like ``energy_kwh``.

    Examples
    --------
    Inputs gas 0 kWh and power 0 kWh: standby; gas 12 kWh: firing; gas NaN: unknown.
    """
    inputs = [s.id for s in facility.streams if s.role == "input" and s.id in energy_kwh.columns]
    e = energy_kwh[inputs].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        firing = (e > 0).any(axis=1) if inputs else np.zeros(len(e), dtype=bool)
        standby = (e == 0).all(axis=1) if inputs else np.zeros(len(e), dtype=bool)
    if tag_valid is not None:
        tags = input_quantity_tags(facility)
        known = tag_valid.reindex(index=energy_kwh.index, columns=tags, fill_value=False)
        standby &= known.to_numpy(dtype=bool).all(axis=1)
    states = np.where(firing, FIRING, np.where(standby, STANDBY, UNKNOWN))
    return pd.Series(states, index=energy_kwh.index, dtype=object)


def with_standby(energies: StreamEnergies, valid: pd.Series, states: pd.Series
                 ) -> tuple[StreamEnergies, pd.Series]:
    """Energies with NaN as zero in standby intervals, and the validity of every interval.

    Parameters
    ----------
    energies : StreamEnergies
        Output of :func:`thermaliq.physics.energy.stream_energies` [kWh].
    valid : pandas.Series of bool
        Per interval: every tag measured or interpolated.
    states : pandas.Series of str
        Output of :func:`operating_states`.

    Returns
    -------
    (StreamEnergies, pandas.Series of bool)
        Energies [kWh] and ``valid | standby``.
    """
    standby = (states == STANDBY).reindex(energies.energy_kwh.index, fill_value=False)
    mask = standby.to_numpy(dtype=bool)[:, None]
    e = energies.energy_kwh.mask(mask & energies.energy_kwh.isna().to_numpy(), 0.0)
    x = energies.exergy_kwh.reindex_like(e)
    if not x.empty:
        x = x.mask(mask & x.isna().to_numpy() & (e.to_numpy() == 0), 0.0)
    ok = valid.reindex(e.index).fillna(False).astype(bool) | standby
    return StreamEnergies(e, x, list(energies.issues)), ok

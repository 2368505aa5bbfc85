"""Sankey diagram data of a period's energy flows: inputs → plant → useful outputs and losses.

Pure data, no plotting: :func:`sankey_data` turns the per-stream energies of one period (rows of the
``stream_energies`` relation summed over the period) into nodes and links that any Sankey renderer
can draw. The balance of the plant node is closed explicitly:

* unaccounted = input − useful outputs − known losses. When positive it flows to an
  ``Unaccounted`` node; when negative (measured outputs and losses exceed the inputs, which is a
  metering or balance error) no negative link is drawn, instead an extra, explicitly labelled input
  node carries the excess so the diagram stays truthful.
* flows smaller than ``other_share`` of the total input are grouped per role into
  ``Other inputs`` / ``Other outputs`` / ``Other losses`` (only when at least two flows would be
  grouped: grouping a single flow would only hide its name).
* when the diagram has more than ``max_nodes`` nodes or ``max_links`` links it is simplified, first
  by grouping streams per role and carrier, then per role, with a note saying so.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import pandas as pd

ROLES = ("input", "output", "loss")
PLANT = "Plant"
UNACCOUNTED = "Unaccounted"
_OTHER = {"input": "Other inputs", "output": "Other outputs", "loss": "Other losses"}
_ROLE_GROUP = {"input": "Inputs", "output": "Useful outputs", "loss": "Known losses"}
_REQUIRED = ("stream_id", "role", "carrier", "energy_kwh")


class Link(NamedTuple):
    """One Sankey link: node indices, energy [kWh] and a plain-text label."""

    source: int
    target: int
    value_kwh: float
    label: str


@dataclass
class SankeyData:
    """Nodes and links of a Sankey diagram, as plain data.

    Attributes
    ----------
    nodes : list of str
        Node labels (plain text, not escaped).
    links : list of Link
        ``(source_idx, target_idx, value_kwh, label)``; every value is > 0 [kWh].
    notes : list of str
        What was grouped, simplified or left out, for the reader.
    empty_reason : str or None
        Why there is nothing to draw; ``None`` when the diagram has data.
    node_roles : list of str
        Per node: ``input``, ``plant``, ``output``, ``loss``, ``unaccounted`` or ``imbalance``.
    totals : dict
        ``input_kwh``, ``output_kwh``, ``loss_kwh``, ``unaccounted_kwh`` (negative when outputs and
        losses exceed the input) [kWh].
    """

    nodes: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    empty_reason: str | None = None
    node_roles: list[str] = field(default_factory=list)
    totals: dict[str, float] = field(default_factory=dict)


def fmt_kwh(kwh: float | None) -> str:
    """Energy as short text [kWh or MWh], e.g. ``850 kWh`` or ``12.3 MWh``; ``–`` when unknown."""
    if kwh is None or not math.isfinite(kwh):
        return "–"
    if abs(kwh) >= 1e4:
        return f"{kwh / 1000:,.1f} MWh"
    return f"{kwh:,.0f} kWh" if abs(kwh) >= 10 else f"{kwh:,.2f} kWh"


class Flow(NamedTuple):
    """One stream's energy in the period [kWh]."""

    stream_id: str
    role: str
    carrier: str
    energy_kwh: float


def _clean(stream_energies: pd.DataFrame | Mapping[str, Sequence], notes: list[str]) -> list[Flow]:
    """Sum per stream and leave out what cannot be drawn, with a note for each."""
    missing = [c for c in _REQUIRED if c not in stream_energies]
    if missing:
        raise ValueError(f"stream_energies lacks column(s) {missing}; needs {list(_REQUIRED)}")
    totals: dict[tuple[str, str, str], float] = {}
    bad_roles: set[str] = set()
    columns = [stream_energies[c] for c in _REQUIRED]
    for sid, role, carrier, energy in zip(*(c.tolist() if hasattr(c, "tolist") else list(c) for c in columns)):
        if role not in ROLES:
            bad_roles.add(str(sid))
            continue
        key = (str(sid), role, "" if carrier is None or carrier != carrier else str(carrier))
        value = float(energy) if isinstance(energy, (int, float)) else math.nan
        totals[key] = totals.get(key, 0.0) + value  # NaN in any row makes the stream invalid
    if bad_roles:
        notes.append("Left out streams with an unknown role: " + ", ".join(sorted(bad_roles)))
    flows, invalid, zero = [], [], []
    for (sid, role, carrier), energy in totals.items():
        if not math.isfinite(energy):
            invalid.append(sid)
        elif energy < 0:
            notes.append(f"Left out {sid}: negative energy {fmt_kwh(energy)} is not a flow")
        elif energy == 0:
            zero.append(sid)
        else:
            flows.append(Flow(sid, role, carrier, energy))
    if invalid:
        notes.append("No valid energy for: " + ", ".join(invalid))
    if zero:
        notes.append("Zero energy in this period: " + ", ".join(zero))
    return flows


def _group_small(flows: list[Flow], threshold_kwh: float, notes: list[str]) -> list[Flow]:
    """Replace, per role, two or more flows below the threshold by one ``Other ...`` flow."""
    out: list[Flow] = []
    for role in ROLES:
        sub = [f for f in flows if f.role == role]
        small = [f for f in sub if f.energy_kwh < threshold_kwh]
        if len(small) >= 2:
            notes.append(f"{_OTHER[role]} groups {len(small)} flows each under {fmt_kwh(threshold_kwh)}: "
                         + ", ".join(f.stream_id for f in small))
            sub = [f for f in sub if f.energy_kwh >= threshold_kwh]
            sub.append(Flow(_OTHER[role], role, "mixed", sum(f.energy_kwh for f in small)))
        out.extend(sub)
    return out


def _group_by(flows: list[Flow], how: str) -> list[Flow]:
    """Group flows per role and carrier (``how='carrier'``) or per role (``how='role'``)."""
    groups: dict[tuple[str, str], float] = {}
    for f in flows:
        key = (f.role, f.carrier if how == "carrier" else "mixed")
        groups[key] = groups.get(key, 0.0) + f.energy_kwh
    return [Flow(f"{_ROLE_GROUP[role]}: {carrier or 'unknown'}" if how == "carrier" else _ROLE_GROUP[role],
                 role, carrier, energy) for (role, carrier), energy in groups.items()]


def _build(flows: list[Flow], unaccounted_kwh: float, tol_kwh: float) -> SankeyData:
    """Nodes and links of a star through the plant node."""
    data = SankeyData(nodes=[PLANT], node_roles=["plant"])

    def add(label: str, role: str) -> int:
        data.nodes.append(label)
        data.node_roles.append(role)
        return len(data.nodes) - 1

    for f in (f for f in flows if f.role == "input"):
        data.links.append(Link(add(f.stream_id, "input"), 0, f.energy_kwh,
                               f"{f.stream_id} ({f.carrier}) → {PLANT}"))
    if unaccounted_kwh < -tol_kwh:
        label = f"Measured outputs exceed inputs by {fmt_kwh(-unaccounted_kwh)} (balance error)"
        data.links.append(Link(add(label, "imbalance"), 0, -unaccounted_kwh, label))
    for role in ("output", "loss"):
        for f in (f for f in flows if f.role == role):
            data.links.append(Link(0, add(f.stream_id, role), f.energy_kwh,
                                   f"{PLANT} → {f.stream_id} ({f.carrier})"))
    if unaccounted_kwh > tol_kwh:
        data.links.append(Link(0, add(UNACCOUNTED, "unaccounted"), unaccounted_kwh,
                               f"{PLANT} → {UNACCOUNTED} (input − outputs − known losses)"))
    return data


def sankey_data(stream_energies: pd.DataFrame | Mapping[str, Sequence], *, other_share: float = 0.01,
                max_nodes: int = 30, max_links: int = 60) -> SankeyData:
    """Sankey nodes and links of one period's energy flows.

    Parameters
    ----------
    stream_energies : pandas.DataFrame or mapping of str to sequence
        Columns ``stream_id, role, carrier, energy_kwh`` (a frame, or equal-length sequences by
        column name); one row per stream (several rows of a stream are summed) [kWh]. ``role`` is
        ``input``, ``output`` or ``loss``.
    other_share : float, default 0.01
        Flows below this share of the total input are grouped per role [fraction 0..1].
    max_nodes, max_links : int
        Above these the diagram is simplified (per role and carrier, then per role).

    Returns
    -------
    SankeyData
        ``empty_reason`` is set (and nodes/links empty) when the period has no usable input energy.

    Notes
    -----
    unaccounted = Σ input − Σ useful output − Σ known losses [kWh]. A negative value is drawn as an
    extra input node ``Measured outputs exceed inputs by X (balance error)``.

    Examples
    --------
    >>> df = pd.DataFrame({"stream_id": ["gas", "steam", "flue"], "role": ["input", "output", "loss"],
    ...                    "carrier": ["natural_gas", "steam", "flue_gas"],
    ...                    "energy_kwh": [1000.0, 850.0, 100.0]})
    >>> d = sankey_data(df)
    >>> d.nodes, d.links[-1].value_kwh
    (['Plant', 'gas', 'steam', 'flue', 'Unaccounted'], 50.0)
    """
    if not 0 <= other_share < 1:
        raise ValueError(f"other_share must be in [0, 1), got {other_share}")
    if max_nodes < 5 or max_links < 4:
        raise ValueError(f"max_nodes must be >= 5 and max_links >= 4, got {max_nodes}, {max_links}")
    notes: list[str] = []
    flows = _clean(stream_energies, notes)
    total_in = sum(f.energy_kwh for f in flows if f.role == "input")
    if not flows or total_in <= 0:
        reason = ("No stream energies for this period (no valid intervals)." if not flows else
                  "No input energy was measured in this period, so flows cannot be drawn.")
        return SankeyData(notes=notes, empty_reason=reason)
    out = sum(f.energy_kwh for f in flows if f.role == "output")
    loss = sum(f.energy_kwh for f in flows if f.role == "loss")
    unaccounted = total_in - out - loss
    tol = 1e-9 * total_in  # float round-off of the sums, not a physical tolerance
    flows = _group_small(flows, other_share * total_in, notes)
    data = _build(flows, unaccounted, tol)
    for how in ("carrier", "role"):
        if len(data.nodes) <= max_nodes and len(data.links) <= max_links:
            break
        before = len(data.nodes)
        data = _build(_group_by(flows, how), unaccounted, tol)
        notes.append(f"Simplified: {before} nodes exceed the limit of {max_nodes} nodes / "
                     f"{max_links} links, so streams are grouped per "
                     + ("role and carrier." if how == "carrier" else "role."))
    data.notes = notes
    data.totals = {"input_kwh": total_in, "output_kwh": out, "loss_kwh": loss,
                   "unaccounted_kwh": unaccounted}
    return data

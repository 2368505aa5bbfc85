"""Uncertainty of every period figure from the instruments' accuracies (GUM, ASME PTC 19.1).

Numerical first-order propagation through the real calculation: each uncertain input
(:func:`uncertainty_sources`: a tag, a constant with an accuracy, a heating value) is moved by its
standard uncertainty in every interval at once, :func:`thermaliq.physics.energy.stream_energies`
is run again, and the change of each stream's energy is that input's effect (the sensitivity
coefficient times u, GUM 5.1.3 note 2). Moving it in every interval at once treats the error as
*systematic* over the period: period sums add the effects of the intervals, they do not average
out. The analytic sensitivities of ratios (:func:`thermaliq.physics.uncertainty.ratio_contribution`)
turn the energy effects into points of efficiency, indirect efficiency and balance error, and the
inputs combine in quadrature (uncorrelated instruments). tests/test_uncertainty.py checks the
result against closed-form sensitivities of a steam boiler.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from thermaliq import units
from thermaliq.config import Facility, Stream, is_fuel
from thermaliq.physics import energy as energy_mod
from thermaliq.physics.uncertainty import (COVERAGE_EXPANDED, InstrumentAccuracy, default_accuracy,
                                           ratio_contribution, standard_uncertainty)

BUDGET_COLUMNS = ["period_start", "period_end", "quantity", "source", "stream_id",
                  "standard_uncertainty", "unit", "sensitivity", "contribution_points",
                  "input_effect_kwh", "output_effect_kwh", "losses_effect_kwh"]
QUANTITIES = {"efficiency": "efficiency_uncertainty_points",
              "indirect_efficiency": "indirect_efficiency_uncertainty_points",
              "balance_error": "balance_error_uncertainty_points"}


@dataclass(frozen=True)
class UncertainInput:
    """One uncertain input: ``name`` is the tag, or ``<stream>.<field>`` for a constant or a
    heating value; ``unit`` is the unit of u (``percent`` for a heating value)."""

    name: str
    stream_id: str
    field: str
    accuracy: InstrumentAccuracy
    unit: str


def _accuracy(configured, family: str, field: str) -> InstrumentAccuracy | None:
    if configured is not None:
        return InstrumentAccuracy(**configured.model_dump())
    return default_accuracy(family, field)


def uncertainty_sources(facility: Facility) -> list[UncertainInput]:
    """The uncertain inputs of a facility, each once (a tag used twice is one instrument).

    Tags without an accuracy take :data:`thermaliq.physics.uncertainty.DEFAULT_ACCURACY`;
    constants count only with a configured accuracy; a fuel's heating value counts unless the
    fuel is metered as energy.
    """
    out: dict[str, UncertainInput] = {}
    for s in facility.streams:
        family = "fuel" if is_fuel(s.carrier) else (s.carrier or "estimate")
        for field, m in s.measurements().items():
            name = m.tag if m.is_tag else f"{s.id}.{field}"
            acc = _accuracy(m.accuracy, family, field) if m.is_tag else \
                (InstrumentAccuracy(**m.accuracy.model_dump()) if m.accuracy else None)
            if acc is not None and name not in out:
                out[name] = UncertainInput(name, s.id, field, acc, m.unit)
        if is_fuel(s.carrier) and s.role == "input" and s.quantity is not None and \
                units.kind_of(s.quantity.unit) not in ("energy", "power"):
            hv = s.heating_value
            acc = _accuracy(hv.accuracy if hv else None, "fuel", "heating_value")
            if acc is not None:
                out[f"{s.id}.heating_value"] = UncertainInput(f"{s.id}.heating_value", s.id,
                                                      "heating_value", acc, "percent")
    return list(out.values())


def _replace_value(facility: Facility, stream_id: str, field: str, new_value: float) -> Facility:
    streams = []
    for s in facility.streams:
        if s.id == stream_id:
            m = getattr(s, field)
            s = s.model_copy(update={field: m.model_copy(update={"value": new_value})})
        streams.append(s)
    return facility.model_copy(update={"streams": streams})


def _stream(facility: Facility, stream_id: str) -> Stream:
    return next(s for s in facility.streams if s.id == stream_id)


def moved_by_u(facility: Facility, values: pd.DataFrame, src: UncertainInput):
    """(facility, values, u per interval in the source's unit) with the source moved by u."""
    move = _move(facility, values, src)
    if move is None:
        return None
    fac, tag, column, u = move
    if tag is None:
        return fac, values, u
    moved = values.copy(deep=False)     # copy-on-write: the column is replaced
    moved[tag] = column
    return fac, moved, u


def _move(facility: Facility, values: pd.DataFrame, src: UncertainInput):
    """(facility, tag, moved column, u) of :func:`moved_by_u` without building the moved values:
    a moved tag gives its column of ``values`` moved by u [config unit] (and the facility as
    it is), a moved constant gives its own configuration (``tag`` and ``column`` None); None
    when the tag has no column."""
    s = _stream(facility, src.stream_id)
    if src.field == "heating_value":
        # E = quantity x heating value: a relative change of the heating value is the same
        # relative change of the quantity (for the fuel and the flue loss computed from it)
        hv = s.heating_value
        ref = hv.value if hv is not None else 100.0
        rel = standard_uncertainty(ref, src.accuracy, hv.unit if hv is not None else "percent") / ref
        q = s.quantity
        field = "flow" if s.flow is not None else "counter"
        u_out = np.full(len(values.index), rel * 100.0)
        if q.is_tag:
            column = energy_mod.tag_values(values, q.tag) * (1.0 + rel)
            return facility, q.tag, column, u_out
        return _replace_value(facility, s.id, field, q.value * (1.0 + rel)), None, None, u_out
    m = getattr(s, src.field)
    if m.is_tag:
        if m.tag not in values.columns:
            return None
        reading = energy_mod.tag_values(values, m.tag)
        u = np.asarray(standard_uncertainty(reading, src.accuracy, m.unit), dtype="float64")
        return facility, m.tag, reading + u, u
    u = float(standard_uncertainty(m.value, src.accuracy, m.unit))
    return (_replace_value(facility, s.id, src.field, m.value + u), None, None,
            np.full(len(values.index), u))


#: Rows [count] of the stacked inputs in one energy run of :func:`stream_effects`.
STACK_ROWS = 2048


@dataclass(frozen=True)
class Effects:
    """Per source, the change of every stream's energy when it moves by u [kWh] (intervals x
    streams, as numpy arrays over ``index`` x ``columns``), and u per interval [the source's unit]."""

    sources: tuple[UncertainInput, ...]
    deltas: tuple[np.ndarray, ...]
    u: tuple[np.ndarray, ...]
    index: pd.Index
    columns: tuple[str, ...]

    @property
    def energy_kwh(self) -> tuple[pd.DataFrame, ...]:
        """The effects as frames (index = intervals, columns = stream ids) [kWh]."""
        return tuple(pd.DataFrame(d, index=self.index, columns=list(self.columns)) for d in self.deltas)


def stream_effects(facility: Facility, values: pd.DataFrame, interval: pd.Timedelta,
                   base: energy_mod.StreamEnergies) -> Effects:
    """Effect of each uncertain input on each stream's energy, per interval [kWh].

    Parameters
    ----------
    facility : Facility
    values : pandas.DataFrame
        Aligned tag values (as for :func:`thermaliq.physics.energy.stream_energies`) [config units].
    interval : pandas.Timedelta
    base : StreamEnergies
        The unperturbed energies of ``values``.
    """
    base_e = base.energy_kwh
    columns = [str(c) for c in base_e.columns]
    position = {c: i for i, c in enumerate(base_e.columns)}
    base_arr = _columns_array(base_e)
    roles = _roles(facility, base_e.columns)
    interval_s = pd.Timedelta(interval).total_seconds()
    tags_read = _tags_read(facility)
    moves = []                  # (source, moved tag, moved column, u, ids of the streams it can change)
    alone = {}                  # position in moves -> energies of a source run on its own
    for src in uncertainty_sources(facility):
        move = _move(facility, values, src)
        if move is None:
            continue
        fac, tag, column, u = move
        if tag is None:          # a constant moved: its own configuration, its own run
            alone[len(moves)] = _by_column(energy_mod.stream_energies(
                _affected(fac, src, values), values, interval).energy_kwh)
        keep = _affected_ids(fac, src, tags_read)
        moves.append((src, tag, column, u, [s.id for s in fac.streams if s.id in keep]))
    # moved tags of a short window in one run, their inputs stacked one under the other: each
    # interval's energies depend on that interval's values only, so each block is its source's
    # run (a run's fixed cost dominates a short window; a long window runs source by source)
    n = len(values.index)
    stacked = [k for k in range(len(moves)) if k not in alone]
    per_run = max(1, STACK_ROWS // max(n, 1))
    for first in range(0, len(stacked), per_run):
        group = stacked[first:first + per_run]
        if len(group) == 1:
            src, tag, column, _, ids = moves[group[0]]
            moved = values.copy(deep=False)
            moved[tag] = column
            alone[group[0]] = _by_column(energy_mod.stream_energies(
                _affected(facility, src, values), moved, interval).energy_kwh)
            continue
        tall = _stacked(values, [(moves[k][1], moves[k][2]) for k in group])
        energies, at = _by_column(energy_mod.stream_energies(facility, tall, interval).energy_kwh)
        for block, k in enumerate(group):
            alone[k] = energies[block * n:(block + 1) * n], at
    sources, effects, us = [], [], []
    for k, (src, _, _, u, ids) in enumerate(moves):
        e, at = alone[k]
        delta = np.zeros(base_arr.shape, dtype="float64", order="F")
        for c in ids:
            i = position[c]
            delta[:, i] = e[:, at[c]] - base_arr[:, i]
        _estimate_effects(facility, base_arr, delta, roles, columns, interval_s)
        sources.append(src)
        effects.append(delta)
        us.append(u)
    return Effects(tuple(sources), tuple(effects), tuple(us), base_e.index, tuple(columns))


def _by_column(frame: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """A frame's values as floats and the position of each column [the frame's unit]."""
    return frame.to_numpy(dtype="float64"), {c: j for j, c in enumerate(frame.columns)}


def _stacked(values: pd.DataFrame, moved: list[tuple[str, np.ndarray]]) -> pd.DataFrame:
    """``values`` once per (tag, moved column), one under the other, each copy with its tag's
    column replaced (index 0 .. n-1): ``pd.concat`` of the moved copies, built column by column
    when every column is float (concatenating 20 frames cost more than the rows' energies)."""
    if not values.columns.is_unique or any(d != np.dtype("float64") for d in values.dtypes):
        copies = []
        for tag, column in moved:
            copy = values.copy(deep=False)
            copy[tag] = column
            copies.append(copy)
        return pd.concat(copies, ignore_index=True)
    own = {c: values[c].to_numpy() for c in values.columns}
    return pd.DataFrame({c: np.concatenate([column if tag == c else own[c] for tag, column in moved])
                         for c in values.columns})


def _columns_array(frame: pd.DataFrame) -> np.ndarray:
    """A frame's float values as a Fortran-ordered array (column after column, as pandas gives
    them), so that row sums add the columns in the same order and give the same floats."""
    return np.asfortranarray(frame.to_numpy(dtype="float64"))


def _roles(facility: Facility, columns) -> dict[str, np.ndarray]:
    """Per role, the positions of ``columns`` (stream ids) with that role, in column order."""
    roles = {s.id: s.role for s in facility.streams}
    return {role: np.array([i for i, c in enumerate(columns) if roles.get(c) == role], dtype=np.intp)
            for role in ("input", "output", "loss")}


def _row_sum(arr: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sum of the columns ``cols`` of ``arr`` per row, added as ``frame[cols].sum(axis=1)`` of
    pandas adds them (a Fortran-ordered copy: column after column); zeros without columns."""
    if not len(cols):
        return np.zeros(arr.shape[0])
    return np.asfortranarray(arr[:, cols]).sum(axis=1)


def _affected(facility: Facility, src: UncertainInput, values: pd.DataFrame) -> Facility:
    """The facility reduced to the streams an input can change and those they need: the streams
    that read it, blowdowns of a steam stream among them (and that steam stream), flue-gas losses
    when a fuel input moves (and the fuel inputs a flue-gas loss needs). Estimates are left out:
    :func:`_estimate_effects` moves them from the totals. Only the cost changes, not the result
    (tests/test_uncertainty.py compares with moving the whole facility)."""
    keep = _affected_ids(facility, src, _tags_read(facility))
    return facility.model_copy(update={"streams": [s for s in facility.streams if s.id in keep]})


def _tags_read(facility: Facility) -> dict[str, set[str]]:
    """The tags each stream reads, by stream id."""
    return {s.id: {m.tag for m in s.measurements().values() if m.is_tag} for s in facility.streams}


def _affected_ids(facility: Facility, src: UncertainInput, tags_read: dict[str, set[str]]) -> set[str]:
    """The ids of the streams of :func:`_affected` (``tags_read``: :func:`_tags_read`)."""
    streams = facility.streams
    if src.field == "heating_value" or not _stream(facility, src.stream_id).measurements()[src.field].is_tag:
        touched = {src.stream_id}
    else:
        touched = {s.id for s in streams if src.name in tags_read[s.id]}
    keep = set(touched)
    for s in streams:
        if s.carrier == "blowdown" and (s.of in touched or s.id in touched):
            keep |= {s.id, s.of}
        if s.carrier == "flue_gas" and (s.id in touched or any(
                is_fuel(x.carrier) and x.role == "input" and x.id in touched for x in streams)):
            keep.add(s.id)
    if any(s.carrier == "flue_gas" and s.id in keep for s in streams):
        keep |= {s.id for s in streams if is_fuel(s.carrier) and s.role == "input"}
    return {s.id for s in streams if s.id in keep and s.estimate is None}


def _estimate_effects(facility: Facility, base_arr: np.ndarray, delta: np.ndarray,
                      roles: dict[str, np.ndarray], columns: list[str], interval_s: float) -> None:
    """Set the effects on estimated losses (in ``delta``, intervals x ``columns``) from the moved
    input and output totals."""
    estimates = [s for s in facility.streams if s.estimate is not None]
    if not estimates:
        return
    inp, out = _row_sum(base_arr, roles["input"]), _row_sum(base_arr, roles["output"])
    d_inp, d_out = _row_sum(delta, roles["input"]), _row_sum(delta, roles["output"])
    for s in estimates:
        delta[:, columns.index(s.id)] = (
            energy_mod.estimated_loss_kwh(s, inp + d_inp, out + d_out, interval_s)
            - energy_mod.estimated_loss_kwh(s, inp, out, interval_s))


def _role_sums(arr: np.ndarray, roles: dict[str, np.ndarray], ok: np.ndarray, which: np.ndarray,
               n_periods: int) -> dict[str, np.ndarray]:
    out = {}
    for role in ("input", "output", "loss"):
        per_interval = np.where(ok, np.nan_to_num(_row_sum(arr, roles[role])), 0.0)
        out[role] = np.bincount(which, weights=per_interval, minlength=n_periods)
    return out


def _effect_arrays(effects: Effects, e: pd.DataFrame) -> np.ndarray:
    """The effects of every source on the intervals and streams of ``e`` (sources x intervals x
    streams) [kWh]; effects of other energies are put onto them (NaN where they have none)."""
    same_frame = list(effects.columns) == [str(c) for c in e.columns] and effects.index.equals(e.index)
    if not effects.deltas:
        return np.zeros((0,) + e.shape)
    if same_frame:
        return np.stack(effects.deltas)
    return np.stack([_columns_array(pd.DataFrame(d, index=effects.index,
                                                 columns=list(effects.columns)).reindex_like(e))
                     for d in effects.deltas])


def _stacked_row_sum(deltas: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """:func:`_row_sum` of every source (``deltas``: sources x intervals x streams), the columns
    added one after the other as :func:`_row_sum` adds them (sources x intervals)."""
    if not len(cols):
        return np.zeros(deltas.shape[:2])
    if deltas.shape[1] < 2 or len(cols) >= 8:
        # numpy may add a single row's columns pairwise: take the very same sums
        return np.stack([_row_sum(d, cols) for d in deltas])
    total = deltas[:, :, cols[0]].copy()
    for c in cols[1:]:
        total += deltas[:, :, c]
    return total


def _stacked_bincount(which: np.ndarray, weights: np.ndarray, n_periods: int) -> np.ndarray:
    """``np.bincount(which, weights=w, minlength=n_periods)`` of every row ``w`` of ``weights``
    (sources x intervals) in one call: each source's periods are bins of their own, and each bin
    adds its intervals in the same order (sources x periods)."""
    n_src = weights.shape[0]
    if not n_periods or not weights.shape[1]:
        return np.stack([np.bincount(which, weights=w, minlength=n_periods) for w in weights])
    bins = (np.arange(n_src)[:, None] * n_periods + which[None, :]).ravel()
    return np.bincount(bins, weights=weights.ravel(),
                       minlength=n_src * n_periods).reshape(n_src, n_periods)


def _stacked_role_sums(deltas: np.ndarray, roles: dict[str, np.ndarray], ok: np.ndarray,
                       which: np.ndarray, n_periods: int) -> dict[str, np.ndarray]:
    """:func:`_role_sums` of every source at once (sources x periods), the same floats."""
    out = {}
    for role in ("input", "output", "loss"):
        per_interval = np.where(ok, np.nan_to_num(_stacked_row_sum(deltas, roles[role])), 0.0)
        out[role] = _stacked_bincount(which, per_interval, n_periods)
    return out


def contributions(inp, out, loss, d_inp, d_out, d_loss, has_losses: bool) -> dict[str, np.ndarray]:
    """Effect of one input on each figure [points] from its effects on the period's input,
    useful output and losses [kWh] (first order: :func:`ratio_contribution`)."""
    out_ = {"efficiency": ratio_contribution(d_out, d_inp, out, inp)}
    if has_losses:
        out_["indirect_efficiency"] = -ratio_contribution(d_loss, d_inp, loss, inp)
        out_["balance_error"] = ratio_contribution(np.asarray(d_inp) - d_out - d_loss, d_inp,
                                                   np.asarray(inp) - out - loss, inp)
    return out_


def uncertainty_from_effects(facility: Facility, inp: float, out: float, loss: float,
                             effects: pd.DataFrame) -> dict[str, float]:
    """Expanded uncertainties (k = 2) of a period [points] from the energy effects of each input
    summed over its days (``effects``: one row per source with ``input_effect_kwh``,
    ``output_effect_kwh``, ``losses_effect_kwh`` [kWh]). Systematic errors: the effects of the
    days add up before the ratio is taken (used for months, whose days carry the budget)."""
    has_losses = any(s.role == "loss" for s in facility.streams)
    squares = {q: 0.0 for q in QUANTITIES}
    by_source = contributions(inp, out, loss, *(effects[c].to_numpy(dtype="float64") for c in
                                                 ("input_effect_kwh", "output_effect_kwh",
                                                  "losses_effect_kwh")), has_losses)
    for q, c in by_source.items():
        for square in (np.nan_to_num(c) ** 2).tolist():   # added source by source, in row order
            squares[q] += square
    return {column: (COVERAGE_EXPANDED * float(np.sqrt(squares[q]))
                     if inp > 0 and len(effects) and (q == "efficiency" or has_losses) else np.nan)
            for q, column in QUANTITIES.items()}


def period_uncertainty(facility: Facility, base: energy_mod.StreamEnergies, effects: Effects,
                       valid: pd.Series, period_starts, *,
                       with_budget: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expanded uncertainties (k = 2) of the period figures and the budget of each input.

    Parameters
    ----------
    facility : Facility
    base : StreamEnergies
        Unperturbed energies per interval [kWh].
    effects : Effects
        From :func:`stream_effects`.
    valid : pandas.Series of bool
        Valid intervals (as for :func:`thermaliq.physics.balance.period_results`).
    period_starts : sequence of pandas.Timestamp
        Period starts (intervals, or local days as in the ``days`` rows); each interval belongs
        to the last start at or before it.
    with_budget : bool
        False: the budget frame is left empty (its rows are not needed for the intervals).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        One row per period with the columns of :data:`QUANTITIES` [points, k = 2]; and the budget
        (:data:`BUDGET_COLUMNS` without the period_end, filled by the caller): contribution
        [points, k = 1] = sensitivity [points per unit] x standard_uncertainty [unit, the mean
        over the period's valid intervals].
    """
    e = base.energy_kwh
    shown = pd.DatetimeIndex(period_starts)
    starts = shown.tz_convert("UTC") if shown.tz is not None else shown
    n = len(starts)
    ok = (valid.reindex(e.index).fillna(False).to_numpy(dtype=bool)
          & e.notna().all(axis=1).to_numpy())
    which = np.clip(starts.searchsorted(e.index, side="right") - 1, 0, max(n - 1, 0))
    ok &= starts.searchsorted(e.index, side="right") > 0
    roles = _roles(facility, e.columns)
    b = _role_sums(_columns_array(e), roles, ok, which, n)
    inp, out, loss = b["input"], b["output"], b["loss"]
    has_losses = any(s.role == "loss" for s in facility.streams)
    squares = {q: np.zeros(n) for q in QUANTITIES}
    parts: dict[str, list] = {c: [] for c in _BUDGET_PARTS}
    counts = np.bincount(which, weights=ok.astype(float), minlength=n)
    deltas = _effect_arrays(effects, e)
    if len(deltas):
        db = _stacked_role_sums(deltas, roles, ok, which, n)
        contrib = contributions(inp, out, loss, db["input"], db["output"], db["loss"], has_losses)
        u = np.stack([np.asarray(x, dtype="float64") for x in effects.u])
        with np.errstate(invalid="ignore", divide="ignore"):
            u_mean = _stacked_bincount(which, np.where(ok, np.nan_to_num(u), 0.0), n) / counts
            sens = {q: np.where(u_mean > 0, c / u_mean, np.nan) for q, c in contrib.items()}
        for q, c in contrib.items():
            for square in np.nan_to_num(c) ** 2:       # source after source, as they are listed
                squares[q] += square
        if with_budget:
            for k, src in enumerate(effects.sources):
                for q, c in contrib.items():
                    for name, part in (("quantity", q), ("source", src.name),
                                       ("stream_id", src.stream_id), ("unit", src.unit),
                                       ("standard_uncertainty", u_mean[k]), ("sensitivity", sens[q][k]),
                                       ("contribution_points", c[k]), ("input_effect_kwh", db["input"][k]),
                                       ("output_effect_kwh", db["output"][k]),
                                       ("losses_effect_kwh", db["loss"][k])):
                        parts[name].append(part)
    none = counts == 0
    cols = {}
    for q, column in QUANTITIES.items():
        value = COVERAGE_EXPANDED * np.sqrt(squares[q])
        applies = q == "efficiency" or has_losses
        cols[column] = np.where(none | (not applies) | (inp <= 0), np.nan, value)
    return pd.DataFrame(cols), _budget_frame(shown, parts)


#: The budget's columns after ``period_start``: text (one value per block of periods) and numbers.
_BUDGET_PARTS = ["quantity", "source", "stream_id", "standard_uncertainty", "unit", "sensitivity",
                 "contribution_points", "input_effect_kwh", "output_effect_kwh", "losses_effect_kwh"]
_BUDGET_TEXT = ("quantity", "source", "stream_id", "unit")


def _budget_frame(shown: pd.DatetimeIndex, parts: dict[str, list]) -> pd.DataFrame:
    """The budget rows (one block of the periods per input and quantity) without the rows whose
    contribution is unknown."""
    blocks, n = len(parts["quantity"]), len(shown)
    if not blocks:
        return pd.DataFrame(columns=[c for c in BUDGET_COLUMNS if c != "period_end"])
    data = {"period_start": shown[np.tile(np.arange(n), blocks)]}
    for name in _BUDGET_PARTS:
        if name in _BUDGET_TEXT:
            data[name] = pd.Series(np.repeat(np.array(parts[name], dtype=object), n), dtype="str")
        else:
            data[name] = np.concatenate(parts[name]) if n else np.zeros(0)
    budget = pd.DataFrame(data)
    return budget[budget["contribution_points"].notna()].reset_index(drop=True)

"""Energy and exergy of every stream of a facility, per interval (DESIGN §7).

:func:`stream_energies` turns aligned tag values (one row per interval, values in each tag's
configured unit) into kWh per stream and interval. Rate tags are interval averages (energy =
rate x interval), counter tags are the increments within the interval. Missing data and states
outside the property range give NaN and a line in ``issues``; nothing raises for bad data.

Heating-value basis: fuel energies are on the facility's ``basis``. A configured heating value
whose own ``basis`` differs is converted with the fuel table's HHV/LHV ratio. Flue-gas losses
are on the same basis: Siegert's share is of the LHV input, so on an HHV basis the latent heat
of the water vapour (E_HHV - E_LHV) is added, as a non-condensing plant loses it too; the
stoichiometric model computes its share on the facility basis directly.

Exergy (dead state 25 degC, 1.01325 bar): fuels = exergy factor x LHV energy (Szargut/Kotas
factors in ``fuels``); electricity = energy; steam and hot water = m [(h - h_ref) - T0 (s - s_ref)]
with the feedwater/return state as reference; heat with a ``temperature`` = Carnot factor
(1 - T0/T) x energy, NaN without one; losses are not evaluated (NaN).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from thermaliq.physics import combustion, fuels, heat_loss, metering, water
from thermaliq import units
from thermaliq.config import Facility, Measurement, Stream, is_fuel
from thermaliq.errors import ConfigError, UnitError

J_PER_KWH = 3.6e6
T0_K = 298.15
P0_PA = 101325.0
O2_FLAME_OUT = 0.209        # O2 of the flue gas at or above which only air flows [-]
_TOTAL_OF_RATE = {"mass_flow": "mass", "volume_flow": "volume", "amount_flow": "amount",
                  "power": "energy"}


@dataclass
class StreamEnergies:
    """Per-interval energies of every stream.

    Attributes
    ----------
    energy_kwh : pandas.DataFrame
        Index = interval starts (UTC), columns = stream ids; positive [kWh]; NaN = missing.
    exergy_kwh : pandas.DataFrame
        Same shape [kWh]; NaN where not evaluated.
    issues : list of str
        Human-readable problems (missing tags, out-of-range states, assumptions).
    """

    energy_kwh: pd.DataFrame
    exergy_kwh: pd.DataFrame
    issues: list[str] = field(default_factory=list)


def tag_values(values: pd.DataFrame, tag: str) -> np.ndarray:
    """A tag's column of ``values`` as floats, NaN where it is not a number [the tag's unit]
    (read-only). A float column is taken as it is (``pandas.to_numeric`` of it, the same numbers,
    costs ~60 us)."""
    column = values[tag]
    if column.dtype == np.float64:
        return column.to_numpy()
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")


class _Ctx:
    """Per-call context: values, index, interval length and the issue list."""

    def __init__(self, facility: Facility, values: pd.DataFrame, interval: pd.Timedelta):
        self.facility, self.values, self.index = facility, values, values.index
        self.dt_s = pd.Timedelta(interval).total_seconds()
        self.issues: list[str] = []

    def note(self, stream: Stream, text: str) -> None:
        self.issues.append(f"stream {stream.id!r}: {text}")

    def count_note(self, stream: Stream, mask: np.ndarray, text: str) -> None:
        n = int(np.count_nonzero(mask))
        if n:
            self.note(stream, f"{text} in {n} interval(s)")

    def nan(self) -> np.ndarray:
        return np.full(len(self.index), np.nan)

    def raw(self, stream: Stream, name: str, m: Measurement) -> np.ndarray:
        """A measurement in its configured unit as an array over the intervals."""
        if not m.is_tag:
            return np.full(len(self.index), float(m.value))
        if m.tag not in self.values.columns:
            self.note(stream, f"{name} tag {m.tag!r} has no column in the values: NaN")
            return self.nan()
        return tag_values(self.values, m.tag)

    def si(self, stream: Stream, name: str, m: Measurement | None, kind: str,
           default: float | None = None) -> np.ndarray:
        """A measurement converted to SI; ``default`` (SI) when not configured."""
        if m is None:
            return np.full(len(self.index), np.nan if default is None else default)
        return units.to_si(self.raw(stream, name, m), m.unit, kind)


def _quantity(ctx: _Ctx, s: Stream, allowed: tuple[str, ...]) -> tuple[np.ndarray, str]:
    """Total quantity of a stream within each interval in SI (kg, m3, mol or J) and its kind."""
    m = s.quantity
    name = "flow" if s.flow is not None else "counter"
    if s.flow is not None:
        kind = units.check_kind(m.unit, [k for k, v in _TOTAL_OF_RATE.items() if v in allowed])
        raw, n_negative, n_cut = metering.apply_cutoff(ctx.raw(s, name, m), m.low_flow_cutoff)
        if n_negative:
            ctx.note(s, f"negative flow reading counted as zero in {n_negative} interval(s)")
        if n_cut:
            ctx.note(s, f"flow below low_flow_cutoff {m.low_flow_cutoff:g} {m.unit} counted as zero "
                        f"in {n_cut} interval(s)")
        return units.to_si(raw, m.unit, kind) * ctx.dt_s, _TOTAL_OF_RATE[kind]
    kind = units.check_kind(m.unit, allowed)
    return units.to_si(ctx.raw(s, name, m), m.unit, kind), kind


def _fuel(ctx: _Ctx, s: Stream) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(energy on facility basis [J], energy on LHV [J] or NaN, exergy [J]) of a fuel input."""
    basis = ctx.facility.basis
    qty, kind = _quantity(ctx, s, ("mass", "volume", "amount", "energy"))
    try:
        fuel = fuels.get_fuel(s.carrier)
    except ConfigError:
        fuel = None
    if fuel is None and (s.heating_value is None or
                         (s.heating_value.basis or basis) != basis):
        raise ConfigError(f"stream {s.id!r}: unknown fuel {s.carrier!r}", field="carrier",
                          fix=f"use a fuel of the table ({', '.join(sorted(fuels.FUELS))}) or "
                              "give heating_value on the facility basis")
    if kind == "volume" and fuel is not None and _is_gas_volume(s, fuel):
        qty = _line_to_standard(ctx, s, qty)
    if kind == "energy":
        energy = _energy_metered(ctx, s, qty, fuel)
    elif s.heating_value is not None:
        hv = s.heating_value
        hv_kind = units.check_kind(hv.unit, ("energy_per_mass", "energy_per_volume",
                                             "energy_per_amount"))
        hv_si = float(units.to_si(hv.value, hv.unit, hv_kind))
        hv_per = hv_kind.removeprefix("energy_per_")
        if hv_per != kind:
            if fuel is None:
                raise ConfigError(f"stream {s.id!r}: heating value per {hv_per} but quantity is "
                                  f"a {kind}, and {s.carrier!r} is not in the fuel table",
                                  field="heating_value.unit", fix="give both per the same kind")
            hv_si *= fuels.heating_value(fuel.name, "HHV", kind) / \
                fuels.heating_value(fuel.name, "HHV", hv_per)
            ctx.note(s, f"heating value per {hv_per} converted to per {kind} with the fuel table")
        energy = qty * fuels.convert_basis(hv_si, fuel.name, hv.basis, basis) \
            if hv.basis and hv.basis != basis else qty * hv_si
    elif kind == "volume" and _is_gas_volume(s, fuel):
        energy = qty * metering.gas_heating_value_per_std_m3(fuel.name, basis)
    else:
        energy = qty * fuels.heating_value(fuel.name, basis, kind)
    if fuel is None:
        return energy, ctx.nan(), ctx.nan()
    lhv = fuels.convert_basis(energy, fuel.name, basis, "LHV")
    return energy, lhv, lhv * fuel.exergy_factor


def _is_gas_volume(s: Stream, fuel: fuels.Fuel) -> bool:
    """A volume of this fuel stream is a gas volume (not the liquid of LPG/propane)."""
    if fuel.liquid_density_kg_m3 is not None:
        return s.phase == "gas"
    return fuel.state == "gas"


def _line_to_standard(ctx: _Ctx, s: Stream, volume_m3: np.ndarray) -> np.ndarray:
    """Gas volume at line conditions to standard m3 when the stream gives them [m3]."""
    if s.line_pressure is None or s.line_temperature is None:
        if s.heating_value is None:   # a configured heating value per m3 says which m3 it means
            ctx.note(s, "gas volume in m3 taken at standard conditions (15 degC, 1.01325 bar); "
                        "give line_pressure and line_temperature, or use Nm3, Sm3 or scf")
        return volume_m3
    p = ctx.si(s, "line_pressure", s.line_pressure, "pressure")
    t = ctx.si(s, "line_temperature", s.line_temperature, "temperature")
    return metering.standard_volume_m3(volume_m3, p, t, s.compressibility)


def _energy_metered(ctx: _Ctx, s: Stream, energy_j: np.ndarray,
                    fuel: fuels.Fuel | None) -> np.ndarray:
    """Fuel metered in energy units, converted from its ``energy_basis`` to the facility's [J]."""
    basis = ctx.facility.basis
    source = s.energy_basis
    if source is None:
        ctx.note(s, f"metered as energy without energy_basis: taken as {basis} energy")
        return energy_j
    if source == basis:
        return energy_j
    if fuel is None:
        raise ConfigError(f"stream {s.id!r}: energy on {source} but {s.carrier!r} is not in the "
                          f"fuel table, so it cannot be converted to {basis}", field="energy_basis",
                          fix=f"meter it on {basis} or use a fuel of the table")
    return fuels.convert_basis(energy_j, fuel.name, source, basis)


def _steam(ctx: _Ctx, s: Stream) -> tuple[np.ndarray, np.ndarray]:
    mass, _ = _quantity(ctx, s, ("mass",))
    p = ctx.si(s, "pressure", s.pressure, "pressure")
    t_fw = ctx.si(s, "feedwater_temperature", s.feedwater_temperature, "temperature")
    h, sv, t_sat = _saturated_steam(ctx, s, p)
    with np.errstate(invalid="ignore"):
        if s.temperature is not None:
            t = ctx.si(s, "temperature", s.temperature, "temperature")
            h_t, s_t, _ = water.props_pt(p, t)
            tol = s.saturation_tolerance
            near = (t < t_sat) & (t >= t_sat - tol)
            wet = t < t_sat - tol
            ctx.count_note(s, near, f"steam temperature up to {tol:g} K below saturation taken as "
                                    "saturated (repaired)")
            ctx.count_note(s, wet, f"steam temperature more than {tol:g} K below saturation: NaN")
            h = np.where(wet, np.nan, np.where(near, h, h_t))
            sv = np.where(near, sv, s_t)
        h_fw, s_fw, _ = water.props_pt(p, t_fw)
        bad_fw = t_fw >= t_sat
    ctx.count_note(s, bad_fw, "feedwater at or above saturation temperature: NaN")
    h_fw = np.where(bad_fw, np.nan, h_fw)
    inputs = (p, t_fw) if s.temperature is None else (p, t_fw, t)
    _note_range(ctx, s, inputs, (h, h_fw), mass, explained=bad_fw | (wet if s.temperature is not None
                                                                    else False))
    return mass * (h - h_fw), mass * ((h - h_fw) - T0_K * (sv - s_fw))


def _saturated_steam(ctx: _Ctx, s: Stream, p: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(h [J/kg], s [J/(kg K)], T_sat [K]) of saturated steam of the stream's ``dryness``
    (default 1: dry saturated vapour): h = h_f + x (h_g - h_f), likewise s."""
    h_g, s_g, t_sat = water.sat_props_p(p, 1)
    if s.dryness is None:
        return h_g, s_g, t_sat
    x = ctx.si(s, "dryness", s.dryness, "fraction")
    with np.errstate(invalid="ignore"):
        bad = (x < 0.5) | (x > 1.0)
    ctx.count_note(s, bad, "steam dryness outside 0.5 .. 1: NaN")
    x = np.where(bad, np.nan, x)
    h_f, s_f, _ = water.sat_props_p(p, 0)
    return h_f + x * (h_g - h_f), s_f + x * (s_g - s_f), t_sat


def _hot_water(ctx: _Ctx, s: Stream) -> tuple[np.ndarray, np.ndarray]:
    t_s = ctx.si(s, "supply_temperature", s.supply_temperature, "temperature")
    t_r = ctx.si(s, "return_temperature", s.return_temperature, "temperature")
    if s.pressure is not None:
        p = ctx.si(s, "pressure", s.pressure, "pressure")
    else:   # liquid everywhere: 1 bar above the supply's saturation pressure (dh barely depends on p)
        p = np.fmax(P0_PA, water.p_sat_t(np.minimum(t_s, 640.0)) + 1e5)
    qty, kind = _quantity(ctx, s, ("mass", "volume"))
    h_s, s_s, rho_s = water.props_pt(p, t_s)
    h_r, s_r, rho_r = water.props_pt(p, t_r)
    if kind == "volume":
        if s.meter_on is None:
            ctx.note(s, "volume flow without meter_on: density taken at the supply temperature")
        qty = qty * (rho_r if s.meter_on == "return" else rho_s)
    with np.errstate(invalid="ignore"):
        dh = h_s - h_r
        reverse = dh < 0
    ctx.count_note(s, reverse, "return warmer than supply: NaN")
    dh = np.where(reverse, np.nan, dh)
    _note_range(ctx, s, (p, t_s, t_r), (h_s, h_r), qty)
    return qty * dh, qty * (dh - T0_K * (s_s - s_r))


def _note_range(ctx: _Ctx, s: Stream, inputs, outputs, quantity: np.ndarray,
                explained: np.ndarray | bool = False) -> None:
    """Note the intervals whose water/steam state could not be computed although every input of
    it (``inputs``: pressures and temperatures [SI], and the ``quantity``) has a value and no
    other note already says why (``explained``): the state lies outside IAPWS-IF97. An interval
    without an input value is missing data, not a state problem, and is not noted here."""
    inputs_ok = ~np.isnan(quantity) & ~np.any(np.isnan(np.vstack(inputs)), axis=0)
    bad = inputs_ok & ~np.asarray(explained, dtype=bool) & np.any(np.isnan(np.vstack(outputs)), axis=0)
    ctx.count_note(s, bad, "state outside IAPWS-IF97 or not computable: NaN")


def _flue_loss(ctx: _Ctx, s: Stream, fuel_lhv: dict[str, np.ndarray],
               fuel_basis: dict[str, np.ndarray]) -> np.ndarray:
    fuel = fuels.get_fuel(s.fuel)
    t_f = ctx.si(s, "temperature", s.temperature, "temperature")
    t_a = ctx.si(s, "air_temperature", s.air_temperature, "temperature", default=293.15)
    if s.air_temperature is None:
        ctx.note(s, "no air_temperature: 20 degC assumed")
    o2 = ctx.si(s, "o2", s.o2, "fraction")
    if s.o2 is not None and s.o2.basis == "wet":
        o2 = np.asarray(combustion.o2_dry_from_wet(o2, fuel.name), dtype="float64")
    names = {k: fuels.ALIASES.get(k.split("|", 1)[1], k.split("|", 1)[1]) for k in fuel_lhv}
    same = [k for k, name in names.items() if name == fuel.name]
    if not same:
        ctx.note(s, f"no {fuel.name} input stream: loss applied to every fuel input")
        same = list(fuel_lhv)
    e_lhv = sum(fuel_lhv[k] for k in same) if same else ctx.nan()
    e_basis = sum(fuel_basis[k] for k in same) if same else ctx.nan()
    basis = ctx.facility.basis
    firing = np.asarray(e_lhv, dtype="float64") > 0
    with np.errstate(invalid="ignore"):
        no_excess = firing & (o2 >= O2_FLAME_OUT)
    ctx.count_note(s, no_excess, f"O2 at or above {O2_FLAME_OUT * 100:g} % while firing (air "
                                 "only: analyser or burner fault): NaN")
    if (s.method or "siegert") == "siegert":
        q = combustion.siegert_loss_fraction(t_f, t_a, o2, fuel.name)
        ctx.count_note(s, firing & np.isnan(q) & ~np.isnan(t_f) & ~np.isnan(o2) & ~no_excess,
                       "Siegert loss not computable: NaN")
        loss = q * e_lhv + ((e_basis - e_lhv) if basis == "HHV" else 0.0)
        share = _ratio_or_nan(loss, e_basis)
    else:
        share = combustion.stoichiometric_loss_fraction(t_f, t_a, o2, fuel.name, basis)
        ctx.count_note(s, firing & np.isnan(share) & ~np.isnan(t_f) & ~np.isnan(o2) & ~no_excess,
                       "stoichiometric loss outside its range (T 250..1000 K, O2 < 20.95 %): NaN")
        loss = share * e_basis
    with np.errstate(invalid="ignore"):
        too_big = firing & (share >= 1.0)
    ctx.count_note(s, too_big, "flue-gas loss at or above 100 % of the fuel input: NaN")
    loss = np.where(no_excess | too_big, np.nan, loss)
    # no fuel, no flue-gas loss: a standby interval is not made invalid by an idle analyser
    return np.where(np.asarray(e_basis, dtype="float64") == 0, 0.0, loss)


def _ratio_or_nan(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den where den > 0, else NaN [-]."""
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _blowdown(ctx: _Ctx, s: Stream) -> np.ndarray:
    """Blowdown loss [J]: mass (flow, share of feedwater or conductivity ratio) x (h' at the
    steam pressure - h of the feedwater) of the steam stream ``s.of``."""
    steam = next(x for x in ctx.facility.streams if x.id == s.of)
    p = ctx.si(steam, "pressure", steam.pressure, "pressure")
    t_fw = ctx.si(steam, "feedwater_temperature", steam.feedwater_temperature, "temperature")
    if s.flow is not None:
        mass, _ = _quantity(ctx, s, ("mass",))
    else:
        share = (s.percent_of_feedwater / 100.0 if s.percent_of_feedwater is not None else
                 heat_loss.blowdown_share_from_conductivity(s.conductivity.feedwater,
                                                            s.conductivity.blowdown))
        steam_mass, _ = _quantity(ctx, steam, ("mass",))
        mass = heat_loss.blowdown_mass(steam_mass, share)
    with np.errstate(invalid="ignore"):
        dh = heat_loss.blowdown_enthalpy_rise(p, t_fw)
    ctx.count_note(s, np.isnan(dh) & ~np.isnan(p) & ~np.isnan(t_fw),
                   "blowdown enthalpy not computable: NaN")
    return mass * dh


def estimated_loss_kwh(s: Stream, total_input_kwh, total_useful_kwh, interval_s: float) -> np.ndarray:
    """An estimated loss per interval [kWh]: a share of input, or radiation on the ABMA curve,
    L(f) = L(1)/f of input at load f = useful output / rated output (no loss while nothing is
    produced; loads below 5 % are taken as 5 %).

    Parameters
    ----------
    s : Stream
        A stream with an ``estimate``.
    total_input_kwh, total_useful_kwh : numpy.ndarray
        Inputs and useful outputs of each interval [kWh].
    interval_s : float
        Interval length [s].
    """
    est = s.estimate
    total_input, total_useful = np.asarray(total_input_kwh), np.asarray(total_useful_kwh)
    if est.percent_of_input is not None:
        return total_input * est.percent_of_input / 100.0
    rated_kwh = float(units.to_si(est.rated_output.value, est.rated_output.unit, "power")) \
        * interval_s / J_PER_KWH
    load = total_useful / rated_kwh
    share = heat_loss.radiation_loss_percent(np.maximum(load, 0.05), est.percent_of_rated) / 100.0
    return np.where(total_useful > 0, share * total_input, 0.0)


def _simple_energy(ctx: _Ctx, s: Stream) -> tuple[np.ndarray, np.ndarray]:
    """Electricity and heat: power x time or energy counter; exergy per DESIGN."""
    energy, _ = _quantity(ctx, s, ("energy",))
    if s.carrier == "electricity":
        return energy, energy
    if s.temperature is not None:
        t = ctx.si(s, "temperature", s.temperature, "temperature")
        return energy, energy * (1 - T0_K / t)
    return energy, ctx.nan()


@contextmanager
def _stream_errors(i: int):
    """Prefix configuration errors raised while computing stream ``i`` with its field path."""
    try:
        yield
    except (ConfigError, UnitError) as exc:
        if exc.field is None or not exc.field.startswith("streams"):
            exc.field = f"streams[{i}]" + (f".{exc.field}" if exc.field else "")
        raise


def stream_energies(facility: Facility, values: pd.DataFrame,
                    interval: pd.Timedelta) -> StreamEnergies:
    """Energy and exergy of every stream of a facility per interval.

    Parameters
    ----------
    facility : thermaliq.config.Facility
        The configuration.
    values : pandas.DataFrame
        Index = interval starts (tz-aware UTC); columns = tags in their configured units
        (rates averaged over the interval, counters as increments within it).
    interval : pandas.Timedelta
        Interval length.

    Returns
    -------
    StreamEnergies
        ``energy_kwh`` and ``exergy_kwh`` (intervals x stream ids) [kWh] and ``issues``.

    Raises
    ------
    ConfigError
        Only for configuration problems (unknown fuel without heating value, fuel without
        Siegert coefficients); bad data gives NaN and an issue instead.
    """
    ctx = _Ctx(facility, values, interval)
    energy: dict[str, np.ndarray] = {}
    exergy: dict[str, np.ndarray] = {}
    fuel_lhv: dict[str, np.ndarray] = {}
    fuel_basis: dict[str, np.ndarray] = {}
    deferred = []
    for i, s in enumerate(facility.streams):
        if s.estimate is not None or s.carrier in ("flue_gas", "blowdown"):
            deferred.append((i, s))
            continue
        with _stream_errors(i):
            if is_fuel(s.carrier):
                e, lhv, x = _fuel(ctx, s)
                if s.role == "input":
                    fuel_lhv[f"{s.id}|{s.carrier}"] = lhv
                    fuel_basis[f"{s.id}|{s.carrier}"] = e
            elif s.carrier == "steam":
                e, x = _steam(ctx, s)
            elif s.carrier == "hot_water":
                e, x = _hot_water(ctx, s)
            else:
                e, x = _simple_energy(ctx, s)
        energy[s.id], exergy[s.id] = e / J_PER_KWH, x / J_PER_KWH
    total_input = sum((energy[s.id] for s in facility.streams
                       if s.role == "input" and s.id in energy),
                      start=np.zeros(len(ctx.index)))
    total_useful = sum((energy[s.id] for s in facility.streams
                        if s.role == "output" and s.id in energy),
                       start=np.zeros(len(ctx.index)))
    for i, s in deferred:
        with _stream_errors(i):
            if s.estimate is not None:
                energy[s.id] = estimated_loss_kwh(s, total_input, total_useful, ctx.dt_s)
            elif s.carrier == "blowdown":
                energy[s.id] = _blowdown(ctx, s) / J_PER_KWH
            else:
                energy[s.id] = _flue_loss(ctx, s, fuel_lhv, fuel_basis) / J_PER_KWH
        exergy[s.id] = ctx.nan()
    order = [s.id for s in facility.streams]
    frames = [pd.DataFrame({k: np.asarray(d[k], dtype="float64") for k in order}, index=ctx.index)
              for d in (energy, exergy)]
    return StreamEnergies(frames[0], frames[1], ctx.issues)

"""Measurement uncertainty after the GUM (JCGM 100:2008) and ASME PTC 19.1-2018.

A stated accuracy becomes a *standard uncertainty* ``u`` (k = 1): a normal accuracy is divided
by its coverage factor, a rectangular one (a maximum permissible error ``a``) gives ``u = a/√3``
(GUM 4.3.7). Its parts (percent of reading, absolute, percent of span) add in quadrature.

Propagation is first order (GUM 5.1.2, law of propagation of uncertainty):
``u_c(y)² = Σ (c_i u(x_i))²`` with sensitivity coefficients ``c_i = ∂y/∂x_i``, either analytic
or numerical (central differences, :func:`numerical_sensitivities`); the two are validated
against each other in tests/test_uncertainty.py. An instrument's error is *systematic* over a
period: its effect on a period sum is the sum of its effects on the intervals (it does not
average out), which :mod:`thermaliq.physics.budget` applies to the stream energies.

Default accuracies per carrier and field (:data:`DEFAULT_ACCURACY`), each a maximum permissible
error (rectangular) with its source, apply to tags that state none; constants count only when
they state an accuracy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from thermaliq import units

COVERAGE_EXPANDED = 2.0   # k of the expanded uncertainty stored in `calculations` (GUM 6.2)


@dataclass(frozen=True)
class InstrumentAccuracy:
    """An instrument's accuracy as configured (see ``thermaliq.config.InstrumentAccuracy``).

    Attributes
    ----------
    percent_of_reading : float
        Part proportional to the reading [%].
    absolute : float
        Constant part, in ``unit`` [unit].
    unit : str or None
        Unit of ``absolute`` (a difference: 1 degC = 1 K); None = the measurement's unit.
    percent_of_span : float
        Part proportional to the span ``span[1] - span[0]`` [%].
    span : tuple of float or None
        Calibrated range in the measurement's unit.
    coverage : float
        Coverage factor k of the stated figure (1 = standard uncertainty).
    distribution : {"normal", "rectangular"}
        ``rectangular``: the figure is a maximum permissible error, u = a/√3.
    source : str
        Where the figure comes from (defaults) or "configured".
    """

    percent_of_reading: float = 0.0
    absolute: float = 0.0
    unit: str | None = None
    percent_of_span: float = 0.0
    span: tuple[float, float] | None = None
    coverage: float = 1.0
    distribution: str = "normal"
    source: str = "configured"


#: Default accuracies (maximum permissible errors, rectangular) by (carrier family, field).
DEFAULT_ACCURACY: dict[tuple[str, str], InstrumentAccuracy] = {
    ("fuel", "flow"): InstrumentAccuracy(percent_of_reading=1.0, distribution="rectangular",
                               source="gas turbine meter, EN 12261:2018 MPE ±1 % (0.2 Qmax..Qmax)"),
    ("fuel", "counter"): InstrumentAccuracy(percent_of_reading=1.0, distribution="rectangular",
                                  source="gas turbine meter, EN 12261:2018 MPE ±1 % (0.2 Qmax..Qmax)"),
    ("fuel", "heating_value"): InstrumentAccuracy(percent_of_reading=1.0, distribution="rectangular",
                                        source="monthly billed calorific value vs. the hour's gas, "
                                               "EN ISO 6976 analysis band ±1 %"),
    ("steam", "flow"): InstrumentAccuracy(percent_of_reading=1.0, distribution="rectangular",
                                source="steam vortex meter, ±1 % of reading (ISO 12764:2017 typical)"),
    ("steam", "counter"): InstrumentAccuracy(percent_of_reading=1.0, distribution="rectangular",
                                   source="steam vortex meter, ±1 % of reading (ISO 12764:2017 typical)"),
    ("hot_water", "flow"): InstrumentAccuracy(percent_of_reading=2.0, distribution="rectangular",
                                    source="heat-meter flow sensor class 2, EN 1434-1:2022 at q = qp"),
    ("hot_water", "counter"): InstrumentAccuracy(percent_of_reading=2.0, distribution="rectangular",
                                       source="heat-meter flow sensor class 2, EN 1434-1:2022"),
    ("electricity", "flow"): InstrumentAccuracy(percent_of_reading=0.5, distribution="rectangular",
                                      source="electricity meter class 0.5S, IEC 62053-22"),
    ("electricity", "counter"): InstrumentAccuracy(percent_of_reading=0.5, distribution="rectangular",
                                         source="electricity meter class 0.5S, IEC 62053-22"),
    ("heat", "flow"): InstrumentAccuracy(percent_of_reading=3.0, distribution="rectangular",
                               source="heat meter class 2 (flow, pair, calculator), EN 1434-1"),
    ("heat", "counter"): InstrumentAccuracy(percent_of_reading=3.0, distribution="rectangular",
                                  source="heat meter class 2 (flow, pair, calculator), EN 1434-1"),
    ("any", "temperature"): InstrumentAccuracy(absolute=0.5, unit="K", distribution="rectangular",
                                     source="Pt100 class A, IEC 60751:2022, ±(0.15 + 0.002 |t|) at 175 degC"),
    ("any", "pressure"): InstrumentAccuracy(percent_of_reading=0.5, distribution="rectangular",
                                  source="industrial pressure transmitter with installation, ±0.5 % "
                                         "of reading (assumed)"),
    ("any", "o2"): InstrumentAccuracy(absolute=0.2, unit="percent", distribution="rectangular",
                            source="zirconia O2 analyser, ±0.2 % O2 (typical data sheet)"),
}
_TEMPERATURE_FIELDS = ("temperature", "feedwater_temperature", "supply_temperature",
                       "return_temperature", "air_temperature")


def default_accuracy(family: str, field: str) -> InstrumentAccuracy | None:
    """The default accuracy of a field of a stream of carrier ``family`` (None if none).

    Parameters
    ----------
    family : str
        ``fuel`` for any fuel, else the carrier (``steam``, ``hot_water``, ``electricity``, ...).
    field : str
        The measurement's field name (``flow``, ``pressure``, ``feedwater_temperature``...).
    """
    key = "temperature" if field in _TEMPERATURE_FIELDS else field
    return DEFAULT_ACCURACY.get((family, key)) or DEFAULT_ACCURACY.get(("any", key))


def standard_uncertainty(reading, accuracy: InstrumentAccuracy, unit: str):
    """Standard uncertainty (k = 1) of readings given an accuracy.

    Parameters
    ----------
    reading : float or numpy.ndarray
        Readings in the measurement's unit ``unit`` [unit].
    accuracy : InstrumentAccuracy
        The stated accuracy.
    unit : str
        The measurement's unit (also the unit of the result).

    Returns
    -------
    float or numpy.ndarray
        u(x) in ``unit`` [unit].

    Notes
    -----
    a = sqrt((p_r/100 · |x|)² + a_abs² + (p_s/100 · (hi − lo))²);
    u = a / k (normal) or a / √3 (rectangular, GUM 4.3.7).

    Examples
    --------
    >>> standard_uncertainty(100.0, InstrumentAccuracy(percent_of_reading=2.0, coverage=2.0), "t/h")
    1.0
    """
    if accuracy.coverage <= 0:
        raise ValueError(f"accuracy.coverage must be > 0, got {accuracy.coverage}")
    x = np.asarray(reading, dtype="float64")
    absolute = accuracy.absolute
    if absolute and accuracy.unit and accuracy.unit != unit:
        absolute = absolute * difference_factor(accuracy.unit, unit)
    span = 0.0
    if accuracy.percent_of_span:
        if accuracy.span is None:
            raise ValueError("accuracy.span is needed with percent_of_span")
        span = accuracy.percent_of_span / 100.0 * (accuracy.span[1] - accuracy.span[0])
    a = np.sqrt((accuracy.percent_of_reading / 100.0 * np.abs(x)) ** 2 + absolute ** 2 + span ** 2)
    u = a / np.sqrt(3.0) if accuracy.distribution == "rectangular" else a / accuracy.coverage
    return float(u) if np.ndim(u) == 0 else u


def difference_factor(from_unit: str, to_unit: str) -> float:
    """How many ``to_unit`` one ``from_unit`` of *difference* is (1 degC = 1 K = 1.8 degF).

    Raises ValueError naming ``from_unit`` when the units measure different kinds.
    """
    kind = units.kind_of(to_unit)
    try:
        units.check_kind(from_unit, (kind,))
    except ValueError as exc:
        raise ValueError(f"accuracy unit {from_unit!r} is not a {kind} like {to_unit!r}") from exc
    per_from = float(units.to_si(1.0, from_unit, kind) - units.to_si(0.0, from_unit, kind))
    per_to = float(units.to_si(1.0, to_unit, kind) - units.to_si(0.0, to_unit, kind))
    return per_from / per_to


def numerical_sensitivities(fn: Callable[[Mapping[str, float]], float], x: Mapping[str, float],
                            u: Mapping[str, float]) -> dict[str, float]:
    """Sensitivity coefficients ∂y/∂x_i by central differences of step u(x_i).

    Parameters
    ----------
    fn : callable
        y = fn(x) with x a mapping of input names to values.
    x : mapping of str to float
        Best estimates of the inputs [their units].
    u : mapping of str to float
        Standard uncertainties [units of x]; the step of each difference (GUM 5.1.3 note 2).

    Returns
    -------
    dict of str to float
        c_i [unit of y / unit of x_i]; 0 for an input with u = 0.
    """
    out = {}
    for name, step in u.items():
        if step == 0:
            out[name] = 0.0
            continue
        hi, lo = dict(x), dict(x)
        hi[name] += step
        lo[name] -= step
        out[name] = (fn(hi) - fn(lo)) / (2.0 * step)
    return out


def combined_uncertainty(sensitivities: Mapping[str, float], u: Mapping[str, float]) -> float:
    """Combined standard uncertainty u_c = sqrt(Σ (c_i u_i)²) of uncorrelated inputs (GUM eq. 10).

    Parameters
    ----------
    sensitivities : mapping of str to float
        c_i [unit of y / unit of x_i].
    u : mapping of str to float
        u(x_i) [unit of x_i].
    """
    missing = set(sensitivities) - set(u)
    if missing:
        raise ValueError(f"u has no entry for {sorted(missing)}")
    return float(np.sqrt(sum((c * u[k]) ** 2 for k, c in sensitivities.items())))


def ratio_contribution(d_num, d_den, num, den):
    """Change of 100·num/den for changes d_num, d_den (first order) [percentage points].

    Notes
    -----
    d(100 N/D) = 100 (dN/D − N dD/D²): the analytic sensitivity of an efficiency to its output
    (1/D) and its input (−N/D²).
    """
    num, den = np.asarray(num, dtype="float64"), np.asarray(den, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 100.0 * (np.asarray(d_num) / den - num * np.asarray(d_den) / den ** 2),
                        np.nan)

"""Water and steam properties after IAPWS-IF97, vectorised and memoised, in SI units.

Pressures are absolute [Pa], temperatures [K], enthalpies [J/kg], entropies [J/(kg K)],
densities [kg/m3]. Every function takes floats, numpy arrays or pandas Series (the index is
kept) and returns the same kind. States outside IAPWS-IF97 (p <= 0 or > 100 MPa, T < 273.15 K,
T > 1073.15 K above 50 MPa, T > 2273.15 K) give NaN; the caller records the issue.

Regions 1 and 2 (where nearly every plant state lies) are evaluated here with numpy on the
IAPWS coefficient tables shipped with ``iapws``; region 3 (near-critical, p > 16.5 MPa) and
region 5 (T > 800 degC) go through ``iapws``' scalar basic equations, region 3 with the
IAPWS SR5-05 backward density v(p, T) refined by Newton iteration on p(rho, T).

Memoisation: states are rounded to 9 significant digits (1e-6 K at 400 K, 1e-3 Pa at 1 MPa,
which changes h by < 1e-9 relative), reduced to the unique states of the call, and only those
are evaluated; scalar region-3/5/saturation results are kept in an LRU cache. A facility-day
of 96 intervals with repeating or constant states therefore costs one evaluation per distinct
state. The array results of the last calls are recalled for the same input bytes: the
uncertainty budget runs a window's energies again once per uncertain input, and a moved flow,
heating value or other stream's tag leaves the steam states as they were. ``exact=True`` skips
the rounding (used by the IAPWS verification tests).

References
----------
IAPWS R7-97(2012), Revised Release on the IAPWS Industrial Formulation 1997 for the
Thermodynamic Properties of Water and Steam. IAPWS SR5-05(2016), Supplementary Release on
Backward Equations for Specific Volume as a Function of Pressure and Temperature v(p,T) for
Region 3.

Examples
--------
>>> round(h_sat_vapour_p(1.0e6) / 1e3, 2)            # kJ/kg, saturated steam at 10 bar(a)
2777.12
"""
from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd


def _load_coefficients():
    """IAPWS-IF97 coefficient tables of ``iapws``, loaded without importing the ``iapws``
    package (whose import pulls in scipy and costs ~1 s)."""
    spec = importlib.util.find_spec("iapws")
    path = Path(spec.origin).with_name("_iapws97Constants.py")
    mod_spec = importlib.util.spec_from_file_location("thermaliq._if97_coefficients", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


C = _load_coefficients()


def _if97():
    """The ``iapws.iapws97`` module, imported on first use (regions 3 and 5 only)."""
    from iapws import iapws97
    return iapws97

R = 461.526          # specific gas constant of water in IAPWS-IF97 [J/(kg K)]
P_CRIT_PA = 22.064e6
T_CRIT_K = 647.096
P_623_PA = 16.5291642526e6   # saturation pressure at 623.15 K (boundary of region 3)
P_TRIPLE_PA = 611.212677
_SIG_DIGITS = 9

_N4 = np.array([0.11670521452767e4, -0.72421316703206e6, -0.17073846940092e2,
                0.12020824702470e5, -0.32325550322333e7, 0.14915108613530e2,
                -0.48232657361591e4, 0.40511340542057e6, -0.23855557567849,
                0.65017534844798e3])


# ----------------------------------------------------------------------------- array plumbing
def _as_arrays(*args):
    """Broadcast float arrays of the inputs and remember the index of the first Series."""
    index = next((a.index for a in args if isinstance(a, pd.Series)), None)
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype="float64") for a in args])
    scalar = all(np.ndim(a) == 0 for a in args) and index is None
    return [np.array(a, dtype="float64", ndmin=1) for a in arrays], index, scalar


def _wrap(values: np.ndarray, index, scalar: bool, shape):
    if scalar:
        return float(values.reshape(-1)[0])
    if index is not None:
        return pd.Series(values.reshape(-1), index=index)
    return values.reshape(shape) if shape else values


def _round_sig(x: np.ndarray, digits: int = _SIG_DIGITS) -> np.ndarray:
    """Round to ``digits`` significant digits (NaN and 0 untouched)."""
    out = x.copy()
    ok = np.isfinite(x) & (x != 0)
    mag = np.floor(np.log10(np.abs(x[ok])))
    scale = 10.0 ** (digits - 1 - mag)
    out[ok] = np.round(x[ok] * scale) / scale
    return out


def _unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows, inverse) of a 2-D float array, the rows sorted column after column: what
    ``np.unique(rows, axis=0, return_inverse=True)`` gives, without its sort of the rows as
    structured values (~6x slower on a window's 2,000 stacked states)."""
    order = np.lexsort(rows.T[::-1])
    ordered = rows[order]
    new = np.ones(len(ordered), dtype=bool)
    np.any(ordered[1:] != ordered[:-1], axis=1, out=new[1:])
    inverse = np.empty(len(ordered), dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def _unique_eval(fn, arrays, exact: bool):
    """Evaluate ``fn`` (array function returning (n,) or (k, n)) on the unique (rounded) rows."""
    flat = [a.reshape(-1) for a in arrays]
    if not exact:
        flat = [_round_sig(a) for a in flat]
    if flat[0].size <= 1:
        return np.asarray(fn(*flat))
    stacked = np.column_stack(flat)
    finite = np.all(np.isfinite(stacked), axis=1)
    probe = None
    if finite.any():
        uniq, inverse = _unique_rows(stacked[finite])
        probe = np.asarray(fn(*[uniq[:, i] for i in range(uniq.shape[1])]))
    if probe is None:     # nothing finite: still return the right number of properties
        lead = np.asarray(fn(*[np.full(1, np.nan)] * len(flat))).shape[:-1]
    else:
        lead = probe.shape[:-1]
    out = np.full(lead + (stacked.shape[0],), np.nan)
    if probe is not None:
        out[..., finite] = probe[..., inverse.reshape(-1)]
    return out


#: Array calls kept by :func:`_recalled` [count]: the states of one window's runs (the base run and
#: the uncertainty budget's runs that move a flow, a heating value or another stream's tag evaluate
#: the same states again); calls of more states [count] are not kept (memory: at most ~64 MB).
_RECALL_SIZE = 32
_RECALL_MAX_STATES = 50_000
_RECALLED: OrderedDict[tuple, np.ndarray] = OrderedDict()
_RECALL_LOCK = threading.Lock()


def _recalled(key, fn, arrays, exact: bool) -> np.ndarray:
    """:func:`_unique_eval` of ``fn`` (a property named by ``key``) on ``arrays``, or its result
    for the same input bytes among the last :data:`_RECALL_SIZE` calls (a copy: callers may
    change it). The same inputs give the same floats, so only the cost changes."""
    if key is None or arrays[0].size <= 1 or arrays[0].size > _RECALL_MAX_STATES:
        return _unique_eval(fn, arrays, exact)
    memo = (key, exact, len(arrays), b"".join(a.tobytes() for a in arrays))
    with _RECALL_LOCK:
        res = _RECALLED.get(memo)
        if res is not None:
            _RECALLED.move_to_end(memo)
            return res.copy()
    res = _unique_eval(fn, arrays, exact)
    with _RECALL_LOCK:
        _RECALLED[memo] = res.copy()
        while len(_RECALLED) > _RECALL_SIZE:
            _RECALLED.popitem(last=False)
    return res


def _api(fn, *args, exact: bool = False, key=None):
    """``fn`` on the inputs' unique rounded states, as the inputs' kind; ``key`` names the
    property (with its parameters) so that the result can be recalled (:func:`_recalled`)."""
    arrays, index, scalar = _as_arrays(*args)
    shape = np.broadcast(*[np.asarray(a, dtype="float64") for a in args]).shape
    res = _recalled(key, fn, arrays, exact)
    if res.ndim == 2:     # several properties at once
        return tuple(_wrap(r, index, scalar, shape) for r in res)
    return _wrap(res, index, scalar, shape)


# ----------------------------------------------------------------------------- region 4
def _p_sat(t_k: np.ndarray) -> np.ndarray:
    """IAPWS-IF97 Eq. 30, saturation pressure [Pa]; NaN outside 273.15..647.096 K."""
    n = _N4
    with np.errstate(invalid="ignore"):
        th = t_k + n[8] / (t_k - n[9])
        a = th ** 2 + n[0] * th + n[1]
        b = n[2] * th ** 2 + n[3] * th + n[4]
        c = n[5] * th ** 2 + n[6] * th + n[7]
        p = (2 * c / (-b + np.sqrt(b ** 2 - 4 * a * c))) ** 4 * 1e6
    return np.where((t_k >= 273.15) & (t_k <= T_CRIT_K), p, np.nan)


def _t_sat(p_pa: np.ndarray) -> np.ndarray:
    """IAPWS-IF97 Eq. 31, saturation temperature [K]; NaN outside 611.213 Pa..22.064 MPa."""
    n = _N4
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = (p_pa / 1e6) ** 0.25
        e = beta ** 2 + n[2] * beta + n[5]
        f = n[0] * beta ** 2 + n[3] * beta + n[6]
        g = n[1] * beta ** 2 + n[4] * beta + n[7]
        d = 2 * g / (-f - np.sqrt(f ** 2 - 4 * e * g))
        t = (n[9] + d - np.sqrt((n[9] + d) ** 2 - 4 * (n[8] + n[9] * d))) / 2
    return np.where((p_pa >= P_TRIPLE_PA - 1e-6) & (p_pa <= P_CRIT_PA), t, np.nan)


# ----------------------------------------------------------------------------- regions 1, 2
def _terms(n, i, j, x, y):
    """n x^i y^j for every state (rows) and coefficient (columns); x, y > 0 in regions 1, 2.

    One exp per term instead of two float powers: exp(i ln x + j ln y).
    """
    return n * np.exp(np.log(x)[:, None] * i + np.log(y)[:, None] * j)


def _region1(p_pa, t_k):
    """Gibbs equation of region 1 (Eq. 7): (h [J/kg], s [J/(kg K)], v [m3/kg])."""
    pi, tau = p_pa / 16.53e6, 1386.0 / t_k
    a, b = 7.1 - pi, tau - 1.222
    i, j = C.Region1_Li, C.Region1_Lj
    t = _terms(C.Region1_n, i, j, a, b)
    g = t.sum(axis=1)
    gt = (t * j).sum(axis=1) / b
    gp = -(t * i).sum(axis=1) / a
    return R * t_k * tau * gt, R * (tau * gt - g), R * t_k * pi * gp / p_pa


def _region2(p_pa, t_k):
    """Gibbs equation of region 2 (Eq. 15, ideal + residual part): (h, s, v)."""
    pi, tau = p_pa / 1e6, 540.0 / t_k
    no, jo = C.Region2_cp0_no, C.Region2_cp0_Jo
    t0 = no * tau[:, None] ** jo
    g0 = np.log(pi) + t0.sum(axis=1)
    g0t = (t0 * jo).sum(axis=1) / tau
    b = tau - 0.5
    i, j = C.Region2_Li, C.Region2_Lj
    t = _terms(C.Region2_n, i, j, pi, b)
    gr = t.sum(axis=1)
    grt = (t * j).sum(axis=1) / b
    grp = (t * i).sum(axis=1) / pi
    h = R * t_k * tau * (g0t + grt)
    s = R * (tau * (g0t + grt) - (g0 + gr))
    v = R * t_k / p_pa * pi * (1.0 / pi + grp)
    return h, s, v


# ----------------------------------------------------------------------------- regions 3, 5
@lru_cache(maxsize=65536)
def _region3_pt(p_pa: float, t_k: float) -> tuple[float, float, float]:
    """Region 3 at (p, T): backward v(p,T) then Newton on p(rho, T) of the basic equation."""
    p_mpa = p_pa / 1e6
    rho = 1.0 / _if97()._Backward3_v_PT(p_mpa, t_k)
    for _ in range(50):
        st = _if97()._Region3(rho, t_k)
        step = (p_mpa - st["P"]) * rho * st["kt"]
        rho += step
        if abs(step) < 1e-13 * rho:
            break
    st = _if97()._Region3(rho, t_k)
    return st["h"] * 1e3, st["s"] * 1e3, 1.0 / rho


@lru_cache(maxsize=65536)
def _region5_pt(p_pa: float, t_k: float) -> tuple[float, float, float]:
    st = _if97()._Region5(t_k, p_pa / 1e6)
    return st["h"] * 1e3, st["s"] * 1e3, st["v"]


@lru_cache(maxsize=4096)
def _sat_region3(p_pa: float, x: float) -> tuple[float, float, float]:
    """Saturated liquid (x=0) or vapour (x=1) above 16.53 MPa through the iapws IAPWS97 class."""
    st = _if97().IAPWS97(P=p_pa / 1e6, x=x)
    return st.h * 1e3, st.s * 1e3, st.v


def _t_b23(p_pa: np.ndarray) -> np.ndarray:
    """IAPWS-IF97 Eq. 6, boundary between regions 2 and 3 [K]."""
    return 0.57254459862746e3 + np.sqrt(np.maximum(p_pa / 1e6 - 0.13918839778870e2, 0.0)
                                        / 0.10192970039326e-2)


def region_pt(p_pa, t_k):
    """IAPWS-IF97 region of a state (1, 2, 3 or 5; 0 = outside the formulation).

    Parameters
    ----------
    p_pa : float, numpy.ndarray or pandas.Series
        Absolute pressure [Pa].
    t_k : float, numpy.ndarray or pandas.Series
        Temperature [K].
    """
    arrays, index, scalar = _as_arrays(p_pa, t_k)
    reg = _regions(*[a.reshape(-1) for a in arrays]).astype("float64")
    out = _wrap(reg, index, scalar, np.shape(arrays[0]))
    return int(out) if scalar else out


def _regions(p, t):
    reg = np.zeros(p.shape, dtype=int)
    with np.errstate(invalid="ignore"):
        low = (p > 0) & (p <= P_623_PA)
        high = (p > P_623_PA) & (p <= 100e6)
        tsat = np.where(low, _t_sat(np.where(low, p, 1e5)), np.nan)
        tb23 = _t_b23(np.where(high, p, 20e6))
        reg[low & (t >= 273.15) & (t <= tsat)] = 1
        reg[low & (t > tsat) & (t <= 1073.15)] = 2
        reg[high & (t >= 273.15) & (t <= 623.15)] = 1
        reg[high & (t > 623.15) & (t < tb23)] = 3
        reg[high & (t >= tb23) & (t <= 1073.15)] = 2
        reg[(p > 0) & (p <= 50e6) & (t > 1073.15) & (t <= 2273.15)] = 5
    return reg


def _props_pt(p, t):
    """(h, s, v) arrays for (p, T) arrays in any region; NaN outside."""
    h, s, v = (np.full(p.shape, np.nan) for _ in range(3))
    reg = _regions(p, t)
    for r, fn in ((1, _region1), (2, _region2)):
        m = reg == r
        if m.any():
            h[m], s[m], v[m] = fn(p[m], t[m])
    for r, fn in ((3, _region3_pt), (5, _region5_pt)):
        for k in np.flatnonzero(reg == r):
            h[k], s[k], v[k] = fn(float(p[k]), float(t[k]))
    return h, s, v


def _sat_props(p, x):
    """(h, s, v) of saturated liquid (x=0) or vapour (x=1) at pressures p [Pa]."""
    h, s, v = (np.full(p.shape, np.nan) for _ in range(3))
    t = _t_sat(p)
    low = np.isfinite(t) & (p <= P_623_PA)
    if low.any():
        h[low], s[low], v[low] = (_region1 if x == 0 else _region2)(p[low], t[low])
    for k in np.flatnonzero(np.isfinite(t) & (p > P_623_PA)):
        h[k], s[k], v[k] = _sat_region3(float(p[k]), float(x))
    return h, s, v


# ----------------------------------------------------------------------------- public API
def h_pt(p_pa, t_k, exact: bool = False):
    """Specific enthalpy of water or steam at pressure and temperature.

    Parameters
    ----------
    p_pa : float, numpy.ndarray or pandas.Series
        Absolute pressure [Pa].
    t_k : float, numpy.ndarray or pandas.Series
        Temperature [K].
    exact : bool
        Skip the 9-significant-digit rounding used for memoisation.

    Returns
    -------
    Specific enthalpy [J/kg]; NaN outside IAPWS-IF97. Same kind as the inputs.

    Notes
    -----
    h = R T tau (dgamma/dtau) from the Gibbs free energy gamma(pi, tau) of region 1, 2 or 5,
    or from the Helmholtz free energy phi(delta, tau) of region 3.

    References
    ----------
    IAPWS R7-97(2012), Eqs. 7, 15, 28 and 32; Tables 5, 15, 33 and 42 for verification.

    Examples
    --------
    >>> round(h_pt(3e6, 300.0) / 1e3, 6)      # IAPWS R7-97 Table 5
    115.331273
    """
    return _api(lambda p, t: _props_pt(p, t)[0], p_pa, t_k, exact=exact, key="h_pt")


def s_pt(p_pa, t_k, exact: bool = False):
    """Specific entropy at pressure [Pa] and temperature [K], in [J/(kg K)]; see :func:`h_pt`."""
    return _api(lambda p, t: _props_pt(p, t)[1], p_pa, t_k, exact=exact)


def rho_pt(p_pa, t_k, exact: bool = False):
    """Density at pressure [Pa] and temperature [K], in [kg/m3]; see :func:`h_pt`."""
    return _api(lambda p, t: 1.0 / _props_pt(p, t)[2], p_pa, t_k, exact=exact)


def props_pt(p_pa, t_k, exact: bool = False):
    """(h [J/kg], s [J/(kg K)], rho [kg/m3]) at (p [Pa], T [K]) in one evaluation.

    Same inputs and outputs as :func:`h_pt`, :func:`s_pt`, :func:`rho_pt`; cheaper than
    calling them one by one.
    """
    def fn(p, t):
        h, s, v = _props_pt(p, t)
        return np.vstack([h, s, 1.0 / v])
    return _api(fn, p_pa, t_k, exact=exact, key="props_pt")


def sat_props_p(p_pa, x: int, exact: bool = False):
    """(h [J/kg], s [J/(kg K)], T_sat [K]) of saturated liquid (x=0) or vapour (x=1) at p [Pa]."""
    if x not in (0, 1):
        raise ValueError(f"x must be 0 (liquid) or 1 (vapour), got {x!r}")

    def fn(p):
        h, s, _ = _sat_props(p, x)
        return np.vstack([h, s, _t_sat(p)])
    return _api(fn, p_pa, exact=exact, key=("sat_props_p", x))


def t_sat_p(p_pa, exact: bool = False):
    """Saturation temperature [K] at absolute pressure [Pa] (IAPWS-IF97 Eq. 31, Table 36).

    Examples
    --------
    >>> round(t_sat_p(1e6), 6)
    453.035632
    """
    return _api(_t_sat, p_pa, exact=exact)


def p_sat_t(t_k, exact: bool = False):
    """Saturation pressure [Pa] at temperature [K] (IAPWS-IF97 Eq. 30, Table 35).

    Examples
    --------
    >>> round(p_sat_t(500.0) / 1e6, 8)
    2.63889776
    """
    return _api(_p_sat, t_k, exact=exact, key="p_sat_t")


def h_sat_liquid_p(p_pa, exact: bool = False):
    """Enthalpy of saturated liquid [J/kg] at absolute pressure [Pa] (region 1 at T_sat)."""
    return _api(lambda p: _sat_props(p, 0)[0], p_pa, exact=exact, key="h_sat_liquid_p")


def h_sat_vapour_p(p_pa, exact: bool = False):
    """Enthalpy of saturated vapour [J/kg] at absolute pressure [Pa].

    Notes
    -----
    Region 2 at (p, T_sat(p)) up to 16.53 MPa, region 3 above (through ``iapws``).
    """
    return _api(lambda p: _sat_props(p, 1)[0], p_pa, exact=exact)


def s_sat_liquid_p(p_pa, exact: bool = False):
    """Entropy of saturated liquid [J/(kg K)] at absolute pressure [Pa]."""
    return _api(lambda p: _sat_props(p, 0)[1], p_pa, exact=exact)


def s_sat_vapour_p(p_pa, exact: bool = False):
    """Entropy of saturated vapour [J/(kg K)] at absolute pressure [Pa]."""
    return _api(lambda p: _sat_props(p, 1)[1], p_pa, exact=exact)


def _region3_rho_t(rho, t):
    out = np.full((3, rho.size), np.nan)
    for k in range(rho.size):
        st = _if97()._Region3(float(rho[k]), float(t[k]))
        out[:, k] = st["P"] * 1e6, st["h"] * 1e3, st["s"] * 1e3
    return out


def region3_rho_t(rho_kg_m3, t_k):
    """(p [Pa], h [J/kg], s [J/(kg K)]) from the region-3 basic equation at density [kg/m3]
    and temperature [K] (IAPWS R7-97 Eq. 28; Table 33 verifies it)."""
    return _api(_region3_rho_t, rho_kg_m3, t_k, exact=True)


def p_rho_t(rho_kg_m3, t_k):
    """Pressure [Pa] of region 3 at density [kg/m3] and temperature [K]."""
    return region3_rho_t(rho_kg_m3, t_k)[0]


def h_rho_t(rho_kg_m3, t_k):
    """Enthalpy [J/kg] of region 3 at density [kg/m3] and temperature [K]."""
    return region3_rho_t(rho_kg_m3, t_k)[1]


def s_rho_t(rho_kg_m3, t_k):
    """Entropy [J/(kg K)] of region 3 at density [kg/m3] and temperature [K]."""
    return region3_rho_t(rho_kg_m3, t_k)[2]


def clear_cache() -> None:
    """Forget memoised scalar states and recalled array calls (for benchmarks)."""
    for fn in (_region3_pt, _region5_pt, _sat_region3):
        fn.cache_clear()
    with _RECALL_LOCK:
        _RECALLED.clear()

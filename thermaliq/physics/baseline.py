"""Energy baselines (ISO 50006) fitted by ordinary least squares, judged by ASHRAE Guideline 14.

A baseline models a period's energy input from its relevant variables (useful output, heating
degree days, any tag): ``E = b0 + b1·x1 + ... + bk·xk``. The fit reports coefficients with
standard errors, R², CV(RMSE) and NMBE with n − p degrees of freedom, and whether the model meets
ASHRAE Guideline 14's criteria for its granularity. Later periods get the expected input, the
EnPI ratio (actual / expected), the savings (expected − actual) and their running sum (CUSUM).

References
----------
.. [1] ISO 50006:2014, Energy management systems — Measuring energy performance using energy
   baselines (EnB) and energy performance indicators (EnPI), Annex C (regression models).
.. [2] ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings, Annex B:
   CV(RMSE) = sqrt(Σ(y − ŷ)² / (n − p)) / ȳ; NMBE = Σ(y − ŷ) / ((n − p) · ȳ); calibration
   criteria CV(RMSE) ≤ 15 %, |NMBE| ≤ 5 % for monthly data and ≤ 30 %, ≤ 10 % for hourly data.

Examples
--------
>>> fit = fit_ols([[1], [2], [3], [4], [5]], [2.1, 3.9, 6.2, 7.8, 10.1], ["x"])
>>> [round(c, 2) for c in fit.coefficients], round(fit.r_squared, 4)
([0.05, 1.99], 0.9973)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GUIDELINE14 = "ASHRAE Guideline 14-2014, Annex B"

# (max CV(RMSE) %, max |NMBE| %) per granularity. Guideline 14 states monthly and hourly limits;
# daily models are held to the hourly ones (the looser of the two stated; no daily limit is given).
CRITERIA: dict[str, tuple[float, float]] = {
    "month": (15.0, 5.0),
    "day": (30.0, 10.0),
    "interval": (30.0, 10.0),
}


@dataclass(frozen=True)
class BaselineFit:
    """An OLS energy baseline.

    Attributes
    ----------
    terms : tuple of str
        ``intercept`` then the regressor names.
    coefficients, std_errors : tuple of float
        Coefficients and their standard errors [kWh per unit of the regressor].
    n, p : int
        Observations and parameters (intercept included).
    r_squared : float
        Coefficient of determination [-].
    cv_rmse_percent, nmbe_percent : float
        CV(RMSE) and NMBE with n − p degrees of freedom [%].
    mean_y : float
        Mean of the fitted energy [kWh].
    x_min, x_max : tuple of float
        Range of each regressor in the fitting data (intercept: NaN).
    """

    terms: tuple[str, ...]
    coefficients: tuple[float, ...]
    std_errors: tuple[float, ...]
    n: int
    p: int
    r_squared: float
    cv_rmse_percent: float
    nmbe_percent: float
    mean_y: float
    x_min: tuple[float, ...]
    x_max: tuple[float, ...]

    def predict(self, x) -> np.ndarray:
        """Expected energy of rows ``x`` (one column per regressor) [kWh]."""
        x = _matrix(x, self.p - 1)
        return self.coefficients[0] + x @ np.asarray(self.coefficients[1:])

    def in_range(self, x) -> np.ndarray:
        """True where every regressor lies within the fitting data's range (no extrapolation)."""
        x = _matrix(x, self.p - 1)
        lo, hi = np.asarray(self.x_min[1:]), np.asarray(self.x_max[1:])
        return np.all((x >= lo) & (x <= hi), axis=1)

    def meets_guideline14(self, granularity: str) -> bool:
        """Whether CV(RMSE) and |NMBE| are within Guideline 14's limits for ``granularity``."""
        if granularity not in CRITERIA:
            raise ValueError(f"granularity: {granularity!r} is not one of {', '.join(CRITERIA)}")
        cv_max, nmbe_max = CRITERIA[granularity]
        return bool(self.cv_rmse_percent <= cv_max and abs(self.nmbe_percent) <= nmbe_max)


def _matrix(x, k: int) -> np.ndarray:
    x = np.asarray(x, dtype="float64")
    if x.ndim == 1:
        x = x.reshape(-1, 1) if k == 1 else x.reshape(1, -1)
    if x.shape[1] != k:
        raise ValueError(f"x: expected {k} regressor column(s), got {x.shape[1]}")
    return x


def fit_ols(x, y, names: list[str]) -> BaselineFit:
    """Fit ``y = b0 + Σ bi·xi`` by ordinary least squares.

    Parameters
    ----------
    x : array of shape (n, k)
        Regressors, one column per name [their units].
    y : array of shape (n,)
        Energy input of each period [kWh].
    names : list of str
        Regressor names (k of them).

    Returns
    -------
    BaselineFit

    Notes
    -----
    b = (XᵀX)⁻¹Xᵀy with X = [1 x]; s² = Σe² / (n − p); se(b) = sqrt(diag(s²(XᵀX)⁻¹));
    R² = 1 − Σe² / Σ(y − ȳ)²; CV(RMSE) = sqrt(s²) / ȳ × 100; NMBE = Σ(y − ŷ) / ((n − p) ȳ) × 100.
    """
    x = _matrix(x, len(names))
    y = np.asarray(y, dtype="float64")
    if len(y) != len(x):
        raise ValueError(f"y: {len(y)} values for {len(x)} rows of x")
    keep = np.isfinite(y) & np.all(np.isfinite(x), axis=1)
    x, y = x[keep], y[keep]
    n, p = len(y), len(names) + 1
    if n <= p:
        raise ValueError(f"x, y: {n} complete periods cannot fit {p} parameters (need more than {p})")
    design = np.column_stack([np.ones(n), x])
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < p:
        raise ValueError(f"x: the regressors {names} are collinear or constant in the baseline period")
    fitted = design @ coef
    resid = y - fitted
    dof = n - p
    s2 = float(resid @ resid) / dof
    cov = s2 * np.linalg.inv(design.T @ design)
    mean_y = float(y.mean())
    ss_tot = float(((y - mean_y) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else float("nan")
    cv = np.sqrt(s2) / mean_y * 100.0 if mean_y else float("nan")
    nmbe = float(resid.sum()) / (dof * mean_y) * 100.0 if mean_y else float("nan")
    nan = float("nan")
    return BaselineFit(("intercept", *names), tuple(float(c) for c in coef),
                       tuple(float(s) for s in np.sqrt(np.diag(cov))), n, p, r2, float(cv), nmbe,
                       mean_y, (nan, *x.min(axis=0).tolist()), (nan, *x.max(axis=0).tolist()))


def heating_degree_days(mean_temperature_c, base_c: float):
    """Heating degree days of days with a mean air temperature [K·d].

    HDD = max(base − T_mean, 0) per day (the mean-temperature method).

    Examples
    --------
    >>> heating_degree_days([10.0, 20.0], 15.5).tolist()
    [5.5, 0.0]
    """
    t = np.asarray(mean_temperature_c, dtype="float64")
    return np.maximum(base_c - t, 0.0)


def cusum(expected_kwh, actual_kwh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """EnPI ratio, savings and cumulative savings (CUSUM) of later periods.

    Parameters
    ----------
    expected_kwh, actual_kwh : array
        Baseline-expected and actual energy input per period, in time order [kWh].

    Returns
    -------
    enpi_ratio : array
        actual / expected [-] (below 1: better than the baseline).
    savings_kwh : array
        expected − actual [kWh] (negative: more energy used than the baseline expects).
    cusum_kwh : array
        Running sum of the savings; periods with NaN add nothing [kWh].
    """
    expected = np.asarray(expected_kwh, dtype="float64")
    actual = np.asarray(actual_kwh, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, actual / expected, np.nan)
    savings = expected - actual
    return ratio, savings, np.cumsum(np.nan_to_num(savings, nan=0.0))

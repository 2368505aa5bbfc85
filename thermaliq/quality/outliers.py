"""Robust outlier and frozen-value (stale meter) detection on one tag's sample series.

Both functions take plain numpy arrays of one tag's samples in time order and return boolean
masks of the samples to exclude, so they can be tested on hand-made series and reused anywhere.

* Hampel filter (default), in the form that suits process signals: a sample is an outlier when
  it departs from the median of its ``REFERENCE_WINDOW`` nearest samples (itself in the middle)
  by more than ``threshold`` robust standard deviations of the tag's noise. The robust standard
  deviation is 1.4826 / sqrt(2) x the median absolute difference of successive samples over a
  centred window of ``window`` samples (an hour of 1-minute data), or of the noisier half of it
  where the halves differ more than 3-fold (a change between standby and firing, see
  :func:`state_change_noise`). A short reference follows ramps, humps and
  steps of a real load profile exactly (a 61-sample median lags them and flagged the top of
  every load swing), while one or two stray samples cannot move a 5-sample median.
* z-score (optional): the deviation from the mean of the centred window *without the sample
  itself* (leave-one-out, so a lone spike cannot hide by inflating its own window's spread), in
  standard deviations of that window.

A flat signal has MAD = 0, which would make any change an "outlier"; both rules therefore use a
floor for the spread: 0.1 % of the tag's configured range, else 0.1 % of the median magnitude.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: Centred window length [samples] of the Hampel and z-score rules (an hour of 1-minute data).
#: On Gaussian noise at threshold 6 the Hampel rule flagged 1e-3 of the samples with 15,
#: 4e-5 with 31 and 2e-6 with 61 samples (the MAD of a short window scatters widely).
WINDOW = 61
#: Samples of the reference median (the sample itself in the middle).
REFERENCE_WINDOW = 5
#: Robust standard deviation of a normal distribution per unit MAD.
MAD_TO_SIGMA = 1.4826
#: Floor of the spread, as a share of the configured range (or of the median magnitude).
SPREAD_FLOOR_SHARE = 1e-3


def spread_floor(values: np.ndarray, value_range: tuple[float, float] | None) -> float:
    """Smallest spread the outlier rules use for a tag [tag unit].

    Parameters
    ----------
    values : numpy.ndarray
        The tag's samples [tag unit].
    value_range : (float, float) or None
        The configured ``range`` [tag unit].
    """
    if value_range is not None:
        return SPREAD_FLOOR_SHARE * (value_range[1] - value_range[0])
    if len(values) == 0:
        return 1e-12
    return SPREAD_FLOOR_SHARE * float(np.median(np.abs(values))) + 1e-12


def hampel_mask(values: np.ndarray, threshold: float, floor: float,
                window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Outliers by the Hampel rule.

    Parameters
    ----------
    values : numpy.ndarray
        Samples in time order [tag unit].
    threshold : float
        Robust standard deviations beyond which a sample is an outlier [-].
    floor : float
        Smallest robust standard deviation used [tag unit].
    window : int
        Centred window length, odd [samples]; a series shorter than half of it is not screened.

    Returns
    -------
    (mask, reference) : numpy.ndarray of bool, numpy.ndarray of float
        ``mask`` True for outliers; ``reference`` the window median [tag unit].

    Notes
    -----
    outlier_i = |x_i - med5_i| > threshold * max(1.4826 / sqrt(2) * median_{61}(|x_j - x_(j-1)|), floor)

    The noise is estimated from successive differences: for Gaussian noise of standard deviation
    sigma, x_j - x_(j-1) has sigma * sqrt(2), and its median absolute value is 0.6745 sqrt(2)
    sigma. The departures from the 5-sample median itself would underestimate it (the sample is
    part of its own median, a fifth of them depart by exactly 0): on 1 % noise that flagged about
    35 samples per tag in two weeks (issue #21). A smooth load adds its slope to the differences,
    which only widens the screen; one spike moves two differences of 61.

    References
    ----------
    Pearson, R. K. et al. (2016), Generalized Hampel Filters, EURASIP J. Adv. Signal Process. 87.

    Examples
    --------
    >>> int(hampel_mask(np.r_[np.zeros(40), 50.0, np.zeros(40)], 6.0, 0.1)[0].sum())
    1
    """
    x = np.asarray(values, dtype="float64")
    med = _reference_median(x)
    dev = np.abs(x - med)
    # scale >= floor, so a sample within threshold x floor of its reference is never an outlier:
    # the 61-sample median of the noise is needed only where a sample departs further
    # (a few % of the samples), which spares a rolling median over every sample.
    with np.errstate(invalid="ignore"):
        todo = np.flatnonzero(dev > (threshold * floor if threshold >= 0 else -np.inf))
    step = np.abs(np.diff(x, prepend=np.nan))     # |x_i - x_(i-1)|: the noise, twice over
    if len(todo) * 8 > len(x):      # a noisy tag: one rolling median over all is cheaper
        mad = pd.Series(step).rolling(window, center=True, min_periods=window // 2 + 1) \
            .median().to_numpy()[todo]
    else:
        mad = centred_median(step, window, window // 2 + 1, at=todo)
    mad = state_change_noise(step, window, todo, mad)
    scale = np.maximum(MAD_TO_SIGMA / np.sqrt(2.0) * mad, floor)
    mask = np.zeros(len(x), dtype=bool)
    with np.errstate(invalid="ignore"):
        mask[todo] = dev[todo] > threshold * scale
    return mask, med


#: A window whose two halves differ this much in noise spans a change of operating state [-].
STATE_CHANGE_RATIO = 3.0


def state_change_noise(step: np.ndarray, window: int, at: np.ndarray, mad: np.ndarray) -> np.ndarray:
    """The whole-window noise ``mad`` at ``at``, except across a change of operating state [tag unit].

    Parameters
    ----------
    step : numpy.ndarray
        ``|x_i - x_(i-1)|`` of the series (NaN first) [tag unit].
    window : int
        Odd length of the whole window [samples]; each half holds ``window // 2 + 1`` steps, the
        one into the sample itself on the earlier side.
    at : numpy.ndarray of int
        Positions evaluated [sample index].
    mad : numpy.ndarray
        Median step of the whole window at ``at`` [tag unit].

    Notes
    -----
    A burner that lights after standby has a window half of idle zeros and half of firing noise:
    the median of the whole window is about zero, and the first firing samples were flagged
    (about 3 per start and stop at 1 % noise). Where the median steps of the two halves differ by
    more than :data:`STATE_CHANGE_RATIO` the window spans two states, and the larger half-median,
    the noise of the state the sample is in, is used. On steady noise the two halves (31 steps
    each) agree well within that ratio, so the rule is the whole-window one; a spike moves at
    most two steps of one half. A half with fewer than half its steps (the series' ends) is left
    out of the comparison.
    """
    at = np.asarray(at, dtype="int64")
    if len(at) == 0:
        return mad
    half = window // 2 + 1
    need = half // 2 + 1
    if len(at) * 8 > len(step):     # most samples: one rolling median over all is cheaper
        # the half after a sample (its next ``half`` steps) is the half before the sample
        # ``half`` places on: one trailing median over the steps and ``half`` missing ones after
        # them gives both (a median depends on the values of its window only)
        trailing = pd.Series(np.r_[step, np.full(half, np.nan)]) \
            .rolling(half, min_periods=need).median().to_numpy()
        left, right = trailing[at], trailing[at + half]
    else:       # the same, at the samples and ``half`` places on, in one call
        both = centred_median(np.r_[np.full(half, np.nan), step, np.full(half, np.nan)], half, need,
                              at=np.r_[at, at + half] + half // 2 + 1)
        left, right = both[:len(at)], both[len(at):]
    with np.errstate(invalid="ignore", divide="ignore"):
        changed = np.fmax(left, right) > STATE_CHANGE_RATIO * np.fmin(left, right)
    return np.where(changed, np.fmax(left, right), mad)


def _reference_median(x: np.ndarray) -> np.ndarray:
    """``centred_median(x, REFERENCE_WINDOW, REFERENCE_WINDOW // 2 + 1)`` of a 5-sample window.

    Full windows take a min/max network instead of a sort (the median is one of the samples, so
    the values are the same); the two samples at each end, and series with missing values or
    negative zeros (whose sign a sort and the network may keep differently), go the general way.

    Notes
    -----
    median(a, b, c, d, e) = median(e, max(min(a, b), min(c, d)), min(max(a, b), max(c, d))),
    median(x, y, z) = max(min(x, y), min(max(x, y), z)); checked on every ordering of five
    values with ties (tests/test_outliers.py).
    """
    n = len(x)
    if REFERENCE_WINDOW != 5 or n < 5 or np.isnan(x).any() or np.signbit(x[x == 0]).any():
        return centred_median(x, REFERENCE_WINDOW, REFERENCE_WINDOW // 2 + 1)
    a, b, c, d, e = (x[i:n - 4 + i] for i in range(5))
    out = np.empty(n)
    out[2:n - 2] = _median3(c, np.maximum(np.minimum(a, b), np.minimum(d, e)),
                            np.minimum(np.maximum(a, b), np.maximum(d, e)))
    # a window at either end sees only the first or last 5 samples
    out[[0, 1, n - 2, n - 1]] = centred_median(x, REFERENCE_WINDOW, REFERENCE_WINDOW // 2 + 1,
                                               at=[0, 1, n - 2, n - 1])
    return out


def _median3(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(x, y), np.minimum(np.maximum(x, y), z))


def centred_median(values: np.ndarray, window: int, min_periods: int,
                   at: np.ndarray | None = None) -> np.ndarray:
    """Median of a centred window of ``window`` samples, missing values skipped.

    Equals ``pandas.Series(values).rolling(window, center=True, min_periods=min_periods)
    .median()`` (an even count of values gives the mean of the middle two), evaluated at the
    positions ``at`` only (default: every sample).

    Parameters
    ----------
    values : numpy.ndarray
        Samples in time order [any unit]; NaN counts as missing.
    window : int
        Odd window length [samples].
    min_periods : int
        Fewest non-missing values for a median; fewer give NaN [samples].
    at : numpy.ndarray of int, optional
        Positions to evaluate [sample index].

    Returns
    -------
    numpy.ndarray
        The medians at ``at`` (or every sample) [unit of ``values``].

    Examples
    --------
    >>> centred_median(np.array([1.0, 9.0, 2.0, 8.0]), 3, 2)
    array([5., 2., 8., 5.])
    """
    if window % 2 != 1:
        raise ValueError(f"window must be odd, got {window}")
    x = np.asarray(values, dtype="float64")
    everywhere = at is None
    at = np.arange(len(x)) if everywhere else np.asarray(at, dtype="int64")
    out = np.full(len(at), np.nan)
    if len(at) == 0:
        return out
    half = window // 2
    padded = np.concatenate((np.full(half, np.nan), x, np.full(half, np.nan)))
    if everywhere:
        windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    else:       # the windows at ``at`` gathered directly (a view of every window costs ~45 us)
        windows = padded[at[:, None] + np.arange(window)]
    rows = np.sort(windows, axis=1)
    full = ~np.isnan(rows[:, -1])                       # NaN sorts last: a full window
    out[full] = rows[full, half]
    part = np.flatnonzero(~full)
    if len(part) == 0:
        return out
    count = np.count_nonzero(~np.isnan(rows[part]), axis=1)
    ok = count >= max(min_periods, 1)
    r, c = part[ok], count[ok]
    lo, hi = rows[r, (c - 1) // 2], rows[r, c // 2]
    out[r] = np.where(c % 2 == 1, lo, (lo + hi) / 2)
    return out


def zscore_mask(values: np.ndarray, threshold: float, floor: float,
                window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """Outliers by a leave-one-out rolling z-score.

    Parameters
    ----------
    values : numpy.ndarray
        Samples in time order [tag unit].
    threshold : float
        Standard deviations beyond which a sample is an outlier [-].
    floor : float
        Smallest standard deviation used [tag unit].
    window : int
        Centred window length [samples], the sample itself included.

    Returns
    -------
    (mask, reference) : numpy.ndarray of bool, numpy.ndarray of float
        ``mask`` True for outliers; ``reference`` the leave-one-out window mean [tag unit].

    Notes
    -----
    z_i = |x_i - mean_{-i}| / max(std_{-i}, floor), with mean and std of the window without x_i.
    """
    s = pd.Series(values, dtype="float64")
    minp = window // 2 + 1
    roll = s.rolling(window, center=True, min_periods=minp)
    n = roll.count().to_numpy() - 1.0
    total = roll.sum().to_numpy() - values
    total_sq = (s * s).rolling(window, center=True, min_periods=minp).sum().to_numpy() - values ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = np.maximum(total_sq / n - mean ** 2, 0.0) * n / np.maximum(n - 1.0, 1.0)
    scale = np.maximum(np.sqrt(var), floor)
    mask = np.abs(values - mean) > threshold * scale
    return np.nan_to_num(mask, nan=0).astype(bool) & (n >= 2), mean


def frozen_runs(ts_ns: np.ndarray, values: np.ndarray, frozen_after_ns: int,
                ignore_values: tuple[float, ...] = (0.0,)) -> tuple[np.ndarray, np.ndarray]:
    """Runs of identical consecutive values lasting longer than ``frozen_after_ns``.

    Parameters
    ----------
    ts_ns : numpy.ndarray of int64
        Sample instants [ns since epoch], increasing.
    values : numpy.ndarray
        Samples [tag unit].
    frozen_after_ns : int
        A run lasting longer than this is frozen [ns]; 0 disables the rule.
    ignore_values : tuple of float
        Values that may legitimately stay constant (0 or the range's lower bound: a stopped
        plant) [tag unit].

    Notes
    -----
    A tag that holds one value through all of ``values`` (a fixed setpoint, a test rig, a
    steady transmitter with coarse resolution) cannot be told from a frozen meter without a
    change to compare with, so it is not flagged: a frozen run is one that ends or starts with a
    change of value within the samples given.

    Returns
    -------
    (mask, runs) : numpy.ndarray of bool, numpy.ndarray of int, shape (k, 2)
        ``mask`` True for every sample of a frozen run except its first (the last genuine
        reading); ``runs`` the first and last sample index of each frozen run.

    Examples
    --------
    >>> t = np.arange(0, 4 * 3600, 60) * 10**9
    >>> frozen_runs(t, np.r_[np.arange(60.0), np.full(180, 7.0)], 2 * 3600 * 10**9)[1]
    array([[ 60, 239]])
    """
    n = len(values)
    if n == 0 or frozen_after_ns <= 0:
        return np.zeros(n, dtype=bool), np.empty((0, 2), dtype=int)
    change = np.concatenate(([True], values[1:] != values[:-1]))
    first = np.flatnonzero(change)
    if len(first) == 1:   # constant throughout: nothing to compare with (see Notes)
        return np.zeros(n, dtype=bool), np.empty((0, 2), dtype=int)
    last = np.append(first[1:] - 1, n - 1)
    frozen = (ts_ns[last] - ts_ns[first]) > frozen_after_ns
    if not frozen.any():
        return np.zeros(n, dtype=bool), np.empty((0, 2), dtype=int)
    frozen &= ~np.isin(values[first], np.asarray(ignore_values, dtype="float64"))
    run_id = np.cumsum(change) - 1
    mask = frozen[run_id] & ~change
    return mask, np.column_stack([first[frozen], last[frozen]])

"""The fast paths of thermaliq.quality.outliers give exactly what the general code gives."""
import itertools

import numpy as np
import pandas as pd
import pytest

from thermaliq.quality import outliers


def _reference(x):
    """The 5-sample centred median by the general (sorting) code."""
    return outliers.centred_median(x, outliers.REFERENCE_WINDOW, outliers.REFERENCE_WINDOW // 2 + 1)


def test_reference_median_every_ordering_with_ties():
    """Every sequence of five values from {0..4} (all orderings, with ties), one after another:
    the min/max network picks the same sample as the sort."""
    x = np.array(list(itertools.product(range(5), repeat=5)), dtype=float).ravel()
    assert np.array_equal(outliers._reference_median(x), _reference(x))


def test_reference_median_matches_pandas_rolling():
    """pandas' rolling median (the documented definition) on noise with spikes and short series."""
    rng = np.random.default_rng(7)
    for n in (1, 2, 4, 5, 6, 9, 500):
        x = rng.normal(size=n)
        x[:: 17] += 40.0
        want = pd.Series(x).rolling(5, center=True, min_periods=3).median().to_numpy()
        np.testing.assert_array_equal(outliers._reference_median(x), want)


def test_reference_median_missing_values_and_signed_zeros_take_the_general_way():
    """NaN and -0.0 go through centred_median, so even the sign of a zero is the same."""
    for x in (np.array([1.0, np.nan, 3.0, 2.0, 5.0, 4.0, np.nan]),
              np.array([0.0, -0.0, 1.0, -0.0, 0.0, 2.0, 3.0])):
        got, want = outliers._reference_median(x), _reference(x)
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))


def _half_window_mad(step: np.ndarray) -> np.ndarray:
    """The noise of the Hampel rule spelled out with pandas: the median step of the 61-sample
    window, or, where the medians of the 31 steps up to and including a sample and of the 31
    after it (at least 16 present) differ more than 3-fold, the larger of them."""
    s = pd.Series(step)
    whole = s.rolling(61, center=True, min_periods=31).median().to_numpy()
    left = s.rolling(31, min_periods=16).median().to_numpy()
    right = s[::-1].rolling(31, min_periods=16).median()[::-1].shift(-1).to_numpy()
    with np.errstate(invalid="ignore"):
        changed = np.fmax(left, right) > 3.0 * np.fmin(left, right)
    return np.where(changed, np.fmax(left, right), whole)


def test_hampel_ignores_an_idle_half_window_after_a_start_and_before_a_stop():
    """A burner that lights after 3 h of standby (exact zeros) and stops after 10 h, 1 %
    noise (sigma 10 on 1000), 50 cycles: the whole-window noise estimate was about zero next to
    the standby and flagged about 3 samples per cycle; the larger half-window estimate flags none.
    A +100 spike (10 sigma) in the firing hours is still caught in 47 of the 50 cycles."""
    rng = np.random.default_rng(1)
    flags = caught = 0
    for _ in range(50):
        x = np.r_[np.zeros(180), 1000 + 10 * rng.standard_normal(600), np.zeros(180)]
        flags += int(outliers.hampel_mask(x, 6.0, 1.0)[0].sum())
        x[400] += 100.0
        caught += int(outliers.hampel_mask(x, 6.0, 1.0)[0][400])
    assert flags == 0
    assert caught >= 45


def test_hampel_mask_unchanged_by_the_fast_median():
    """hampel_mask with the fast reference equals the rule spelled out with centred_median."""
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=5000)) + rng.normal(scale=0.1, size=5000)
    x[::97] += 25.0
    mask, ref = outliers.hampel_mask(x, 6.0, 0.01)
    med = _reference(x)
    dev = np.abs(x - med)
    step = np.abs(np.diff(x, prepend=np.nan))     # the noise from successive differences (#21)
    mad = _half_window_mad(step)
    want = dev > 6.0 * np.maximum(outliers.MAD_TO_SIGMA / np.sqrt(2) * mad, 0.01)
    assert np.array_equal(ref, med)
    assert np.array_equal(mask, want)
    assert mask.sum() > 0


def test_frozen_runs_without_a_long_run():
    """No run longer than the limit: nothing masked, no runs (the early return)."""
    t = np.arange(100) * 60 * 10**9
    v = np.r_[np.arange(50.0), np.full(50, 3.0)]
    mask, runs = outliers.frozen_runs(t, v, 2 * 3600 * 10**9)
    assert not mask.any() and runs.shape == (0, 2)
    mask, runs = outliers.frozen_runs(t, v, 30 * 60 * 10**9)
    assert runs.tolist() == [[50, 99]] and mask.sum() == 49


def test_hampel_flags_no_gaussian_noise_on_a_sine_load_and_still_catches_the_spike():
    """Issue #21: plain Gaussian noise on smooth signals was flagged ~35 times per tag in two
    weeks. A week of 1-minute samples (10 080) of a load 1000 + 300 sin(2 pi t / 1 day) with 1 %
    noise (sigma = 1 % of the load, 7..13 units), five seeds, default threshold 6: no flag. One
    spike of +200 (15..29 sigma) is flagged, and only it."""
    t = np.arange(7 * 1440)
    load = 1000.0 + 300.0 * np.sin(2 * np.pi * t / 1440)
    for seed in range(5):
        x = load * (1 + 0.01 * np.random.default_rng(seed).standard_normal(len(t)))
        floor = outliers.spread_floor(x, (0.0, 2500.0))
        assert outliers.hampel_mask(x, 6.0, floor)[0].sum() == 0, seed
        x[5000] += 200.0
        assert np.flatnonzero(outliers.hampel_mask(x, 6.0, floor)[0]).tolist() == [5000]


@pytest.mark.parametrize("floor", [1.0, 1e-6])
def test_hampel_across_standby_equals_its_definition(floor):
    """Both ways of evaluating the rule (a few candidates: medians at them; most samples:
    rolling medians over all) equal the definition spelled out with pandas on start/stop series."""
    rng = np.random.default_rng(5)
    x = np.r_[np.zeros(120), 1000 + 10 * rng.standard_normal(400), np.zeros(90),
              500 + 5 * rng.standard_normal(300)]
    x[[200, 650]] += [120.0, -80.0]
    s = pd.Series(x)
    dev = (s - s.rolling(5, center=True, min_periods=3).median()).abs().to_numpy()
    step = np.abs(np.diff(x, prepend=np.nan))
    want = dev > 6.0 * np.maximum(outliers.MAD_TO_SIGMA / np.sqrt(2) * _half_window_mad(step), floor)
    mask, _ = outliers.hampel_mask(x, 6.0, floor)
    np.testing.assert_array_equal(mask, want)
    assert mask[[200, 650]].all()


def test_state_change_noise_halves_equal_the_two_rolling_medians():
    """Across most samples (one trailing median read at the sample and ``half`` places on) and at
    a few (the windows' medians at them), the half-window noises are those of a rolling median
    forwards and one backwards, bit for bit, with missing samples and at the series' ends."""
    rng = np.random.default_rng(11)
    x = np.r_[np.zeros(150), 1000 + 10 * rng.standard_normal(500), 20 + rng.standard_normal(200)]
    x[rng.random(len(x)) < 0.1] = np.nan
    step = np.abs(np.diff(x, prepend=np.nan))
    at = np.arange(len(x))
    half, need = outliers.WINDOW // 2 + 1, (outliers.WINDOW // 2 + 1) // 2 + 1
    steps = pd.Series(step)
    left = steps.rolling(half, min_periods=need).median().to_numpy()
    right = steps[::-1].rolling(half, min_periods=need).median()[::-1].shift(-1).to_numpy()
    mad = np.full(len(x), 7.0)
    with np.errstate(invalid="ignore"):
        changed = np.fmax(left, right) > outliers.STATE_CHANGE_RATIO * np.fmin(left, right)
    want = np.where(changed, np.fmax(left, right), mad)
    got = outliers.state_change_noise(step, outliers.WINDOW, at, mad)
    np.testing.assert_array_equal(got, want)
    assert changed[140:160].any() and not changed[300:500].all()
    few = np.r_[0, 3, 140:160, 420, 800, len(x) - 1]      # a few candidates: medians at them only
    np.testing.assert_array_equal(outliers.state_change_noise(step, outliers.WINDOW, few, mad[few]),
                                  want[few])

import numpy as np
import pytest

from usae.analysis.entropy_modes import bimodal_verdict, distinct_positions, histogram_modes, shared_by_k_positions


def _histogram(counts_per_bin, rng):
    """Entropies with the given count in each of the 20 bins, spread uniformly within each bin."""
    return np.concatenate([rng.uniform(i / 20, (i + 1) / 20, n) for i, n in enumerate(counts_per_bin)])


def test_shared_by_k_positions_are_log_k_over_log_m():
    assert shared_by_k_positions(2) == []
    np.testing.assert_allclose(shared_by_k_positions(3), [np.log(2) / np.log(3)])
    np.testing.assert_allclose(shared_by_k_positions(4), [0.5, np.log(3) / np.log(4)])


def test_unimodal_histogram_has_one_mode(rng):
    modes = histogram_modes(np.clip(rng.normal(0.5, 0.1, 2000), 0, 1))
    assert len(modes) == 1 and abs(modes[0].centre - 0.5) <= 0.05
    assert bimodal_verdict(modes, 3) == (False, 0.0)


def test_steadily_rising_histogram_with_a_small_bump_is_not_bimodal(rng):
    # The embedded default's shape: counts rise to the last bin, with a bump of ~20 concepts near 0.63.
    counts = [2, 3, 4, 6, 8, 10, 12, 15, 18, 22, 26, 30, 48, 40, 46, 52, 60, 70, 85, 100]
    modes = histogram_modes(_histogram(counts, rng))
    assert [mode.centre for mode in modes] == [0.975]
    assert not bimodal_verdict(modes, 3)[0]


def test_clearly_bimodal_histogram_has_modes_near_one_and_two_thirds(rng):
    counts = [5, 5, 5, 5, 5, 5, 8, 12, 20, 35, 60, 80, 90, 60, 30, 20, 25, 50, 110, 160]
    modes = histogram_modes(_histogram(counts, rng))
    assert [mode.centre for mode in modes] == [0.975, 0.625]
    holds, strength = bimodal_verdict(modes, 3)
    assert holds and strength == pytest.approx((90 - 20) / 160)


def test_trimodal_histogram_keeps_all_three_and_still_holds(rng):
    counts = [5, 10, 40, 70, 40, 10, 5, 5, 8, 20, 50, 80, 90, 50, 20, 10, 20, 60, 100, 140]
    modes = histogram_modes(_histogram(counts, rng))
    assert sorted(mode.centre for mode in modes) == [0.175, 0.625, 0.975]
    assert bimodal_verdict(modes, 3)[0]


def test_a_mode_away_from_two_thirds_does_not_make_the_claim(rng):
    counts = [5, 10, 40, 70, 40, 10, 5, 5, 5, 5, 5, 5, 5, 5, 10, 20, 40, 60, 100, 140]
    modes = histogram_modes(_histogram(counts, rng))
    assert sorted(mode.centre for mode in modes) == [0.175, 0.975]
    assert not bimodal_verdict(modes, 3)[0]


def test_counting_noise_is_not_a_mode():
    # Peak of 100 at 0.625, a dip of 88, then taller bins: prominence 12 passes 10% of the tallest (11) but
    # not 2 Poisson sd of its height (2 sqrt(100) = 20).
    counts = np.array([30] * 10 + [90, 95, 100, 88, 92, 96, 99, 102, 106, 110])
    entropy = np.repeat(np.arange(20) / 20 + 0.025, counts)
    assert [mode.centre for mode in histogram_modes(entropy)] == [0.975]
    assert [mode.centre for mode in histogram_modes(entropy, noise_sigmas=0)] == [0.975, 0.625]


def test_empty_input_has_no_modes():
    assert histogram_modes(np.array([])) == []
    assert bimodal_verdict([], 3) == (False, 0.0)


def test_with_eight_models_a_second_mode_must_stand_apart_from_all_eight(rng):
    """log 7 / log 8 = 0.94 lies within reach of 1.0: a mode there is the "all models" mode, not a second one."""
    assert distinct_positions(3) == shared_by_k_positions(3)
    np.testing.assert_allclose(distinct_positions(8), [np.log(k) / np.log(8) for k in range(2, 7)])
    one_mode = histogram_modes(_histogram([5] * 10 + [8, 10, 12, 15, 20, 30, 50, 80, 120, 160], rng))
    assert [mode.centre for mode in one_mode] == [0.975] and bimodal_verdict(one_mode, 8) == (False, 0.0)
    # A second mode at 0.525, k = 3 of 8 (0.53), holds; at 0.425, between k = 2 (0.33) and 3, it does not.
    for centre, holds in [(0.525, True), (0.425, False)]:
        counts = np.full(20, 10)
        counts[int(centre * 20)] = 90
        counts[-1] = 160
        modes = histogram_modes(_histogram(counts, rng))
        assert sorted(mode.centre for mode in modes) == [centre, 0.975]
        assert bimodal_verdict(modes, 8)[0] is holds

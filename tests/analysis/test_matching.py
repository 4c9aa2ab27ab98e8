import numpy as np
import pytest
import torch

from usae.analysis.matching import (
    CodeCorrelation,
    auc_above,
    cosine_matrix,
    fraction_above,
    match_dictionaries,
    nonzero_codes,
    random_like,
    sparse_cross,
)


def test_matching_recovers_a_permutation(rng):
    atoms = rng.normal(size=(50, 16))
    permutation = rng.permutation(50)
    rows, columns, matched = match_dictionaries(atoms, atoms[permutation] * 3.0)
    assert np.allclose(matched, 1.0)
    assert np.array_equal(permutation[columns], rows)


def test_random_dictionary_scores_like_the_random_baseline(rng):
    atoms = rng.normal(0.1, 2.0, size=(200, 64))
    _, _, trained_vs_random = match_dictionaries(atoms, rng.normal(size=(200, 64)))
    _, _, baseline = match_dictionaries(atoms, random_like(atoms, rng))
    assert abs(auc_above(trained_vs_random) - auc_above(baseline)) < 0.03
    assert (trained_vs_random > 0.5).mean() < 0.02


def test_random_like_keeps_mean_and_variance(rng):
    atoms = rng.normal(0.3, 2.0, size=(300, 40))
    fake = random_like(atoms, rng)
    assert fake.shape == atoms.shape
    assert fake.mean() == pytest.approx(0.3, abs=0.05) and fake.std() == pytest.approx(2.0, abs=0.05)


def test_auc_of_a_step_curve_is_exact():
    matched = np.array([0.2, 0.6, 1.0, -0.3])
    # share above t: 3/4 on [0, 0.2), 2/4 on [0.2, 0.6), 1/4 on [0.6, 1): 0.2*0.75 + 0.4*0.5 + 0.4*0.25
    assert auc_above(matched) == pytest.approx(0.2 * 0.75 + 0.4 * 0.5 + 0.4 * 0.25)
    assert fraction_above(matched, [0.0, 0.5, 0.99]).tolist() == [0.75, 0.5, 0.25]


def test_shapes_that_differ_are_refused(rng):
    with pytest.raises(ValueError, match="model x: USAE dictionary \\(4, 3\\) and independent dictionary \\(5, 3\\)"):
        match_dictionaries(rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), source="model x")


def test_streaming_correlation_equals_numpy(rng):
    a, b = rng.random((300, 5)), rng.random((300, 4))
    b[:, 0] = 2 * a[:, 1] + 1
    b[:, 3] = 0.0
    accumulator = CodeCorrelation(5, 4)
    for start in range(0, 300, 70):
        accumulator.update(torch.from_numpy(a[start : start + 70]), torch.from_numpy(b[start : start + 70]))
    expected = np.corrcoef(a.T, b[:, :3].T)[:5, 5:]
    np.testing.assert_allclose(accumulator.correlation()[:, :3], expected, atol=1e-10)
    assert accumulator.correlation()[1, 0] == pytest.approx(1.0)
    assert np.all(accumulator.correlation()[:, 3] == 0)


def test_cosine_matrix_values():
    assert np.allclose(cosine_matrix(np.array([[1.0, 0.0]]), np.array([[0.0, 2.0], [3.0, 0.0]])), [[0.0, 1.0]])


def test_the_sparse_cross_product_equals_the_dense_one(rng):
    """TopK-like codes (a few non-zeros a token, some tokens with none) and dense ones give a.T @ b."""

    def cross(a, b):
        return sparse_cross(nonzero_codes(a), nonzero_codes(b), len(a), a.shape[1], b.shape[1])

    a = rng.random((300, 40)) * (rng.random((300, 40)) < 0.1)
    b = rng.random((300, 25)) * (rng.random((300, 25)) < 0.2)
    a[:7] = 0
    b[-5:] = 0
    np.testing.assert_allclose(cross(a, b), a.T @ b, rtol=1e-13, atol=1e-13)
    dense = rng.normal(size=(50, 6))
    np.testing.assert_allclose(cross(dense, dense), dense.T @ dense, rtol=1e-12)
    assert cross(np.zeros((4, 3)), np.ones((4, 2))).tolist() == [[0.0, 0.0]] * 3

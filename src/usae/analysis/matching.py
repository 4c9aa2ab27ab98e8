"""Independent-SAE baseline: one-to-one matching of concepts with the Hungarian algorithm.

Two matchings per model i, both between the independent SAE's and the USAE's m concepts:
by decoder atoms (cost ``1 - cosine``, the paper's Fig. 7) and by activations (cost ``1 - Pearson
correlation`` of both SAEs' codes on the same evaluation tokens, beyond the paper).
"""

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from usae.errors import UserError


def cosine_matrix(atoms_a_MD, atoms_b_MD):
    """Cosine similarity of every row of ``a`` with every row of ``b``: ``(m_a, m_b)``."""
    a = atoms_a_MD / np.maximum(np.linalg.norm(atoms_a_MD, axis=1, keepdims=True), 1e-12)
    b = atoms_b_MD / np.maximum(np.linalg.norm(atoms_b_MD, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def hungarian_match(similarity_AB):
    """Maximum-similarity one-to-one matching (``linear_sum_assignment`` on ``1 - similarity``).

    Returns
    -------
    rows, columns : numpy.ndarray
        Matched index pairs.
    matched : numpy.ndarray
        Similarity of each pair.
    """
    rows, columns = linear_sum_assignment(1.0 - similarity_AB)
    return rows, columns, similarity_AB[rows, columns]


def match_dictionaries(usae_atoms_MD, independent_atoms_MD, source="dictionaries"):
    """Match USAE concepts to independent-SAE concepts of one model by decoder-atom cosine.

    Raises
    ------
    usae.errors.UserError
        If the two dictionaries differ in shape (the message names ``source``).
    """
    if np.shape(usae_atoms_MD) != np.shape(independent_atoms_MD):
        raise UserError(
            f"{source}: USAE dictionary {np.shape(usae_atoms_MD)} and independent dictionary "
            f"{np.shape(independent_atoms_MD)} differ in shape"
        )
    return hungarian_match(cosine_matrix(usae_atoms_MD, independent_atoms_MD))


def random_like(atoms_MD, rng):
    """Random atoms drawn from a normal with the dictionary's mean and variance (the random baseline)."""
    atoms_MD = np.asarray(atoms_MD)
    return rng.normal(atoms_MD.mean(), atoms_MD.std(), size=atoms_MD.shape)


def fraction_above(matched, thresholds):
    """Share of matched pairs whose similarity exceeds each threshold."""
    matched = np.asarray(matched)
    return np.array([(matched > t).mean() for t in thresholds])


def auc_above(matched):
    """Exact area under ``t -> share of pairs with similarity > t`` over t in [0, 1].

    For a step curve this integral is the mean of the similarities clipped to [0, 1].
    """
    return float(np.clip(np.asarray(matched, dtype=np.float64), 0.0, 1.0).mean())


def nonzero_codes(codes_Bm):
    """The non-zero entries of a code matrix as ``(rows, columns, float64 values)``, in row-major order."""
    codes = np.asarray(codes_Bm)
    rows, columns = np.nonzero(codes)
    return rows, columns, codes[rows, columns].astype(np.float64)


def sparse_cross(nonzero_a, nonzero_b, n_rows, m_a, m_b):
    """``a.T @ b`` in float64 from the non-zero codes alone (:func:`nonzero_codes` of each): ``(m_a, m_b)``.

    TopK codes have k non-zeros in m per token, so the products of each token's non-zeros (k_a k_b a token)
    replace the dense product (m_a m_b a token): hundreds of times fewer operations at the paper's m. They are
    summed by ``numpy.bincount`` in token order, so the result does not depend on the CPU's vector units.
    """
    (rows_a, cols_a, values_a), (rows_b, cols_b, values_b) = nonzero_a, nonzero_b
    per_row_b = np.bincount(rows_b, minlength=n_rows)
    first_b = np.cumsum(per_row_b) - per_row_b
    partners = per_row_b[rows_a]  # the non-zeros of b on the same token as each non-zero of a
    of_a = np.repeat(np.arange(len(rows_a)), partners)
    of_b = first_b[rows_a[of_a]] + np.arange(len(of_a)) - np.repeat(np.cumsum(partners) - partners, partners)
    flat = cols_a[of_a] * m_b + cols_b[of_b]
    return np.bincount(flat, weights=values_a[of_a] * values_b[of_b], minlength=m_a * m_b).reshape(m_a, m_b)


class CodeCorrelation:
    """Streaming Pearson correlation between two code matrices' columns (``(m_a, m_b)``); the cross products
    are summed over non-zero codes only (:func:`sparse_cross`)."""

    def __init__(self, m_a, m_b):
        self.n = 0
        self.sum_a, self.sum_b = torch.zeros(m_a, dtype=torch.float64), torch.zeros(m_b, dtype=torch.float64)
        self.sq_a, self.sq_b = torch.zeros(m_a, dtype=torch.float64), torch.zeros(m_b, dtype=torch.float64)
        self.cross = torch.zeros(m_a, m_b, dtype=torch.float64)

    def update(self, codes_a_Bm, codes_b_Bm):
        """Add one batch of codes of the same tokens (every sum over their non-zero entries, in float64)."""
        a, b = (nonzero_codes(codes.detach().cpu().numpy()) for codes in (codes_a_Bm, codes_b_Bm))
        m_a, m_b = len(self.sum_a), len(self.sum_b)
        self.n += len(codes_a_Bm)
        for (_, columns, values), total, squares, m in (
            (a, self.sum_a, self.sq_a, m_a),
            (b, self.sum_b, self.sq_b, m_b),
        ):
            total += torch.from_numpy(np.bincount(columns, weights=values, minlength=m))
            squares += torch.from_numpy(np.bincount(columns, weights=values * values, minlength=m))
        self.cross += torch.from_numpy(sparse_cross(a, b, len(codes_a_Bm), m_a, m_b))

    def correlation(self):
        """``(m_a, m_b)`` Pearson correlations; 0 for a concept that never varies."""
        n = self.n
        covariance = self.cross / n - torch.outer(self.sum_a / n, self.sum_b / n)
        std_a = (self.sq_a / n - (self.sum_a / n).square()).clamp_min(0).sqrt()
        std_b = (self.sq_b / n - (self.sum_b / n).square()).clamp_min(0).sqrt()
        denominator = torch.outer(std_a, std_b)
        return torch.where(denominator > 0, covariance / denominator.clamp_min(1e-30), 0.0).numpy()

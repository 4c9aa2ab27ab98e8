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


class CodeCorrelation:
    """Streaming Pearson correlation between two code matrices' columns (``(m_a, m_b)``)."""

    def __init__(self, m_a, m_b):
        self.n = 0
        self.sum_a, self.sum_b = torch.zeros(m_a, dtype=torch.float64), torch.zeros(m_b, dtype=torch.float64)
        self.sq_a, self.sq_b = torch.zeros(m_a, dtype=torch.float64), torch.zeros(m_b, dtype=torch.float64)
        self.cross = torch.zeros(m_a, m_b, dtype=torch.float64)

    def update(self, codes_a_Bm, codes_b_Bm):
        """Add one batch of codes of the same tokens."""
        a, b = codes_a_Bm.double().cpu(), codes_b_Bm.double().cpu()
        self.n += len(a)
        self.sum_a += a.sum(0)
        self.sum_b += b.sum(0)
        self.sq_a += a.square().sum(0)
        self.sq_b += b.square().sum(0)
        self.cross += a.T @ b

    def correlation(self):
        """``(m_a, m_b)`` Pearson correlations; 0 for a concept that never varies."""
        n = self.n
        covariance = self.cross / n - torch.outer(self.sum_a / n, self.sum_b / n)
        std_a = (self.sq_a / n - (self.sum_a / n).square()).clamp_min(0).sqrt()
        std_b = (self.sq_b / n - (self.sum_b / n).square()).clamp_min(0).sqrt()
        denominator = torch.outer(std_a, std_b)
        return torch.where(denominator > 0, covariance / denominator.clamp_min(1e-30), 0.0).numpy()

"""TopK sparse autoencoders: one per model (independent) or one per model sharing m concepts (universal).

Architecture (docs/method.md): encoder Linear(d -> m, bias) -> BatchNorm1d(m) -> ReLU -> keep the top k;
``pre_codes`` is the BatchNorm output. Dictionary ``(m, d)``, initialised N(0, 1), each row L2-normalised
on every forward pass; no decoder bias: ``x_hat = codes @ dictionary``.
"""

import torch
import torch.nn.functional as F
from torch import nn

from usae.sae.data_parallel import GlobalBatchNorm1d


class TopKEncoder(nn.Module):
    """Linear -> BatchNorm1d -> ReLU -> top-k.

    As in the official code, the Linear layer has a bias although BatchNorm (training mode) subtracts
    the batch mean right after it: that bias's gradient is zero in exact arithmetic, its float rounding
    noise is amplified by AdamW into a random drift (see :class:`usae.sae.training.UniversalRun`), and
    BatchNorm's running mean follows it. Kept for fidelity; it does not change what is learned.

    Parameters
    ----------
    dim : int
        Input width d.
    n_concepts : int
        Number of concepts m.
    k : int
        Active concepts per token.
    """

    def __init__(self, dim, n_concepts, k):
        super().__init__()
        self.k = k
        self.linear = nn.Linear(dim, n_concepts)
        self.norm = GlobalBatchNorm1d(n_concepts)  # nn.BatchNorm1d, over the global batch on several ranks

    def forward(self, x_BD):
        """Return ``(pre_codes_BM, top_values_BK, top_indices_BK)``."""
        pre_codes_BM = self.norm(self.linear(x_BD))
        top = torch.topk(F.relu(pre_codes_BM), self.k, dim=1)
        return pre_codes_BM, top.values, top.indices


class Dictionary(nn.Module):
    """Concept atoms ``(m, d)``, L2-normalised row by row on every use; raw entries drawn N(0, init_std²).

    ``init_std`` leaves the initial atoms' directions as they are (they are normalised), but sets how far an
    optimizer step turns them: about ``lr / init_std`` radians for AdamW. 1.0 is the official code's.
    """

    def __init__(self, n_concepts, dim, init_std=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_concepts, dim) * init_std)

    def forward(self):
        """Return the normalised dictionary ``(m, d)``: ``row / (||row|| + 1e-8)``."""
        return self.weight / (self.weight.norm(dim=1, keepdim=True) + 1e-8)


def sparse_decode(values_BK, indices_BK, dictionary_MD):
    """``codes @ dictionary`` from the k active codes only (a gather, not an (B, m) x (m, d) matmul)."""
    return F.embedding_bag(indices_BK, dictionary_MD, per_sample_weights=values_BK.to(dictionary_MD.dtype), mode="sum")


def dense_codes(values_BK, indices_BK, n_concepts):
    """Scatter the top-k values into dense codes ``(B, m)``."""
    return torch.zeros(values_BK.shape[0], n_concepts, dtype=values_BK.dtype, device=values_BK.device).scatter(
        1, indices_BK, values_BK
    )


class TopKSAE(nn.Module):
    """An encoder and a dictionary for one model's activations.

    Parameters
    ----------
    dim : int
    n_concepts : int
    k : int
    """

    def __init__(self, dim, n_concepts, k, init_std=1.0):
        super().__init__()
        self.dim, self.n_concepts, self.k = dim, n_concepts, k
        self.encoder = TopKEncoder(dim, n_concepts, k)
        self.dictionary = Dictionary(n_concepts, dim, init_std)

    def encode(self, x_BD):
        """Return ``(pre_codes_BM, codes_BM)``."""
        pre_codes_BM, values_BK, indices_BK = self.encoder(x_BD)
        return pre_codes_BM, dense_codes(values_BK, indices_BK, self.n_concepts)

    def decode(self, codes_BM):
        """Reconstruct activations from (dense) codes: ``codes_BM @ dictionary``."""
        return codes_BM @ self.dictionary()

    def forward(self, x_BD):
        """Return ``(pre_codes_BM, codes_BM, x_hat_BD)``, decoding with this model's own dictionary."""
        pre_codes_BM, values_BK, indices_BK = self.encoder(x_BD)
        x_hat_BD = sparse_decode(values_BK, indices_BK, self.dictionary())
        return pre_codes_BM, dense_codes(values_BK, indices_BK, self.n_concepts), x_hat_BD


class UniversalSAE(nn.Module):
    """One :class:`TopKSAE` per model, all over the same m concepts.

    Any model's encoder feeds every model's dictionary: ``decode(j, encode(i, x_i))``.

    Parameters
    ----------
    dims : dict of str to int
        Activation width of each model, in model order.
    n_concepts : int
    k : int
    """

    def __init__(self, dims, n_concepts, k, init_std=1.0):
        super().__init__()
        self.names = list(dims)
        self.n_concepts, self.k = n_concepts, k
        self.saes = nn.ModuleDict({name: TopKSAE(dim, n_concepts, k, init_std) for name, dim in dims.items()})

    @property
    def dims(self):
        """Activation width of each model."""
        return {name: sae.dim for name, sae in self.saes.items()}

    def encode(self, name, x_BD):
        """Encode model ``name``'s activations: ``(pre_codes_BM, codes_BM)``."""
        return self.saes[name].encode(x_BD)

    def decode(self, name, codes_BM):
        """Reconstruct model ``name``'s activations from (dense) codes."""
        return self.saes[name].decode(codes_BM)

"""Evaluation passes of trained SAEs over token batches (encoders in eval mode, no gradients).

R2 and MSE are computed per batch and averaged over batches, as the paper does.
"""

import numpy as np
import torch

from usae.concepts import ConceptAccumulator
from usae.metrics import r2_score


@torch.no_grad()
def evaluate_usae(usae, batches, batch_images=100, threshold=0.1, top_images=8, device="cpu"):
    """One pass over ``batches``: cross-reconstruction matrices and concept statistics.

    Parameters
    ----------
    usae : usae.sae.UniversalSAE
    batches : usae.batches.TokenBatches
        Evaluation stores, standardised with the training statistics.
    batch_images : int
        Images per evaluation batch (the paper: 100).
    threshold : float
        Firing threshold tau.
    top_images : int
        Top-activating images kept per (model, concept).

    Returns
    -------
    dict
        ``r2`` and ``mse``: ``(M, M)`` arrays, row = encoder i, column = decoder j scored against model
        j's activations; ``concepts``: the :class:`usae.concepts.ConceptAccumulator`.
    """
    usae.eval().to(device)
    names = usae.names
    r2_sum, mse_sum, count = np.zeros((len(names),) * 2), np.zeros((len(names),) * 2), 0
    concepts = ConceptAccumulator(names, usae.n_concepts, threshold, top_images)
    for first_image, batch in zip(range(0, batches.n_images, batch_images), batches.sequential(batch_images, "metrics (USAE)")):
        batch = {name: x.to(device) for name, x in batch.items()}
        codes = {}
        for i, source in enumerate(names):
            _, codes[source] = usae.encode(source, batch[source])
            for j, target in enumerate(names):
                x_hat = usae.decode(target, codes[source])
                r2_sum[i, j] += r2_score(batch[target], x_hat).item()
                mse_sum[i, j] += (batch[target] - x_hat).square().mean().item()
        concepts.update(codes, first_image, batches.tokens)
        count += 1
    return {"r2": r2_sum / count, "mse": mse_sum / count, "concepts": concepts}


@torch.no_grad()
def evaluate_independent(saes, batches, batch_images=100, device="cpu"):
    """Self-reconstruction R2 and MSE of each independent SAE: ``{model: (r2, mse)}``."""
    saes.eval().to(device)
    sums, count = {name: np.zeros(2) for name in saes}, 0
    for batch in batches.sequential(batch_images, "metrics (independent SAEs)"):
        for name, sae in saes.items():
            x = batch[name].to(device)
            _, _, x_hat = sae(x)
            sums[name] += [r2_score(x, x_hat).item(), (x - x_hat).square().mean().item()]
        count += 1
    return {name: tuple(values / count) for name, values in sums.items()}


def r2_matrix(usae, batches, batch_images=100, device="cpu"):
    """The ``(M, M)`` cross-reconstruction R2 matrix alone (see :func:`evaluate_usae`)."""
    return evaluate_usae(usae, batches, batch_images, top_images=1, device=device)["r2"]

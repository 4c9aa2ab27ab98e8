"""Evaluation passes of trained SAEs over token batches (encoders in eval mode, no gradients)."""

import numpy as np
import torch

from usae.metrics import r2_score


@torch.no_grad()
def r2_matrix(usae, batches, batch_images=100, device="cpu"):
    """Cross-reconstruction R2 of a universal SAE, computed per batch and averaged (method.md).

    Parameters
    ----------
    usae : usae.sae.UniversalSAE
    batches : usae.batches.TokenBatches
        Evaluation stores, standardised with the training statistics.
    batch_images : int
        Images per evaluation batch (the paper: 100).

    Returns
    -------
    numpy.ndarray
        ``(M, M)``: row = encoder i, column = decoder j scored against model j's activations.
    """
    usae.eval()
    names = usae.names
    totals, count = np.zeros((len(names), len(names))), 0
    for batch in batches.sequential(batch_images):
        batch = {name: x.to(device) for name, x in batch.items()}
        for i, source in enumerate(names):
            _, codes = usae.encode(source, batch[source])
            for j, target in enumerate(names):
                totals[i, j] += r2_score(batch[target], usae.decode(target, codes)).item()
        count += 1
    return totals / count

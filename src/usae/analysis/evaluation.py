"""Evaluation passes of trained SAEs over token batches (encoders in eval mode, no gradients).

R2 and MSE are computed per batch, as the paper does, and averaged over batches weighted by each batch's
tokens. The official code drops a partial last batch; this project keeps every image, and the weights keep
a short last batch (60 images after a batch of 100, say) from counting as much as a full one. With equal
batches the weighted mean is the plain mean over batches.
"""

import numpy as np
import torch

from usae.analysis.matching import CodeCorrelation
from usae.analysis.universality import ConceptAccumulator
from usae.sae.r2 import r2_score


def r2_over_channel_means(x_BD, x_hat_BD):
    """R2 against each channel's own mean: ``1 - mean((x - x_hat)^2) / (mean((x - mean_B(x))^2) + 1e-6)``.

    Beyond the paper, whose R2 (:func:`usae.sae.r2.r2_score`) is against the grand mean: where a model's
    channels have large constant offsets, predicting each channel's mean alone already scores a high
    paper R2. This one starts from that floor, so it compares encoders by what they explain beyond it.
    """
    return 1.0 - (x_BD - x_hat_BD).square().mean() / ((x_BD - x_BD.mean(0)).square().mean() + 1e-6)


@torch.no_grad()
def evaluate_usae(usae, batches, batch_images=100, threshold=0.1, top_images=8, device="cpu"):
    """One pass over ``batches``: cross-reconstruction matrices and concept statistics.

    Parameters
    ----------
    usae : usae.sae.modules.UniversalSAE
    batches : usae.activations.batches.TokenBatches
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
        ``r2``, ``r2_over_channel_means`` (:func:`r2_over_channel_means`) and ``mse``: ``(M, M)`` arrays,
        row = encoder i, column = decoder j scored against model j's activations; ``concepts``: the
        :class:`usae.analysis.universality.ConceptAccumulator`.
    """
    usae.eval().to(device)
    names = usae.names
    r2_sum, channel_sum, mse_sum = (np.zeros((len(names),) * 2) for _ in range(3))
    tokens = 0
    concepts = ConceptAccumulator(names, usae.n_concepts, threshold, top_images)
    for first_image, batch in zip(
        range(0, batches.n_images, batch_images), batches.sequential(batch_images, "metrics (USAE)")
    ):
        batch = {name: x.to(device) for name, x in batch.items()}
        weight = len(batch[names[0]])
        codes = {}
        for i, source in enumerate(names):
            _, codes[source] = usae.encode(source, batch[source])
            for j, target in enumerate(names):
                x_hat = usae.decode(target, codes[source])
                r2_sum[i, j] += weight * r2_score(batch[target], x_hat).item()
                channel_sum[i, j] += weight * r2_over_channel_means(batch[target], x_hat).item()
                mse_sum[i, j] += weight * (batch[target] - x_hat).square().mean().item()
        concepts.update(codes, first_image, batches.tokens)
        tokens += weight
    return {
        "r2": r2_sum / tokens,
        "r2_over_channel_means": channel_sum / tokens,
        "mse": mse_sum / tokens,
        "concepts": concepts,
    }


@torch.no_grad()
def evaluate_independent(saes, batches, batch_images=100, device="cpu"):
    """Self-reconstruction R2 and MSE of each independent SAE: ``{model: (r2, mse)}`` (batch means weighted
    by tokens, as :func:`evaluate_usae`)."""
    saes.eval().to(device)
    sums, tokens = {name: np.zeros(2) for name in saes}, 0
    for batch in batches.sequential(batch_images, "metrics (independent SAEs)"):
        weight = len(next(iter(batch.values())))
        for name, sae in saes.items():
            x = batch[name].to(device)
            _, _, x_hat = sae(x)
            sums[name] += weight * np.array([r2_score(x, x_hat).item(), (x - x_hat).square().mean().item()])
        tokens += weight
    return {name: tuple(values / tokens) for name, values in sums.items()}


def r2_matrix(usae, batches, batch_images=100, device="cpu"):
    """The ``(M, M)`` cross-reconstruction R2 matrix alone (see :func:`evaluate_usae`)."""
    return evaluate_usae(usae, batches, batch_images, top_images=1, device=device)["r2"]


@torch.no_grad()
def paired_statistics(usae, saes, batches, batch_images, top_images):
    """One pass over the evaluation tokens with both the USAE and the independent SAEs.

    Returns
    -------
    correlations : dict of str to numpy.ndarray
        Per model, the ``(m, m)`` correlation of USAE codes with independent-SAE codes on the same tokens.
    usae_top, independent_top : usae.analysis.universality.ConceptAccumulator
        Top-activating images of every concept of each (each model encoding its own tokens).
    """
    names = usae.names
    correlations = {name: CodeCorrelation(usae.n_concepts, saes[name].n_concepts) for name in names}
    usae_top = ConceptAccumulator(names, usae.n_concepts, top_images=top_images)
    independent_top = ConceptAccumulator(names, usae.n_concepts, top_images=top_images)
    for first_image, batch in zip(
        range(0, batches.n_images, batch_images), batches.sequential(batch_images, "baseline")
    ):
        usae_codes = {name: usae.encode(name, batch[name])[1] for name in names}
        independent_codes = {name: saes[name].encode(batch[name])[1] for name in names}
        for name in names:
            correlations[name].update(usae_codes[name], independent_codes[name])
        usae_top.update(usae_codes, first_image, batches.tokens)
        independent_top.update(independent_codes, first_image, batches.tokens)
    return {name: c.correlation() for name, c in correlations.items()}, usae_top, independent_top

"""Choose concepts to show and gather their top images with per-token heatmaps."""

import numpy as np
import torch
from PIL import Image

from usae.data.manifest import manifest_image, read_manifest

# A gallery's universal concepts: firing entropy above this; its model-specific ones: this share of firings.
UNIVERSAL_MIN_ENTROPY = 0.9
SPECIFIC_MIN_SHARE = 0.9


def universal_concepts(frame, count, min_cofires, min_entropy=UNIVERSAL_MIN_ENTROPY):
    """Highest-energy concepts that fire across models: firing entropy above ``min_entropy`` and at least
    ``min_cofires`` co-fires (``summary.json``'s ``min_cofires_scaled``, so that one chance co-firing on a
    short evaluation does not make a concept universal)."""
    shared = frame[(frame["entropy"] > min_entropy) & (frame["cofires"] >= max(min_cofires, 1))]
    return shared.sort_values("energy_total", ascending=False)["concept"].head(count).tolist()


def model_specific_concepts(frame, names, per_model=1, min_share=SPECIFIC_MIN_SHARE):
    """For each model, its highest-energy concepts whose firings are at least ``min_share`` its own.

    Returns
    -------
    list of (int, str)
        ``(concept, model)`` pairs.
    """
    fires = frame[[f"fires_{name}" for name in names]].to_numpy(dtype=float)
    totals = fires.sum(1)
    chosen = []
    for i, name in enumerate(names):
        share = np.divide(fires[:, i], totals, out=np.zeros_like(totals), where=totals > 0)
        own = frame[share >= min_share].sort_values(f"energy_{name}", ascending=False)
        chosen += [(int(k), name) for k in own["concept"].head(per_model)]
    return chosen


def border_share(heats_HW):
    """Share of a concept's code mass on the outermost ring of tokens, over the given heatmaps.

    A concept that fires on the plain background around an isolated object puts most of its mass on the
    border (the ring of a 14 x 14 grid is 52 of 196 tokens, 27%, so a share far above 0.27 reads as
    background or frame, far below as centre). NaN when the heatmaps hold no mass.

    Parameters
    ----------
    heats_HW : sequence of numpy.ndarray
        ``(H, W)`` non-negative codes of one concept on each image.
    """
    total = border = 0.0
    for heat in heats_HW:
        inner = heat[1:-1, 1:-1].sum() if min(heat.shape) > 2 else 0.0
        total, border = total + float(heat.sum()), border + float(heat.sum() - inner)
    return border / total if total > 0 else float("nan")


def firing_top(indices_Mnm, values_Mnm):
    """Top-image indices where the concept fires (its code above 0), -1 elsewhere: a concept that never fires in
    a model has no top image there, only images that tie at 0."""
    return np.where(np.asarray(values_Mnm) > 0, np.asarray(indices_Mnm), -1)


@torch.no_grad()
def concept_rows(encode, names, batches, manifest_file, top_indices, concept, n_images, grid, size=160):
    """Each model's top images for ``concept`` with the concept's code over the model's token grid.

    Parameters
    ----------
    encode : callable
        ``encode(model, tokens) -> (pre_codes, codes)``, e.g. ``UniversalSAE.encode``.
    names : list of str
        Models, in the order of ``top_indices``' first axis.
    batches : usae.activations.batches.TokenBatches
        The evaluation stores (standardised as in training).
    manifest_file : path
        Manifest of the evaluation split (image paths in store order).
    top_indices : numpy.ndarray
        ``(M, n, m)`` store indices of top images per model and concept (-1 = none; :func:`firing_top`
        leaves only the images on which the concept fires).
    grid : (int, int)
        Token grid.

    Returns
    -------
    dict of str to list of (uint8 array (size, size, 3), float array grid)
    """
    manifest = read_manifest(manifest_file)
    rows = {}
    for i, name in enumerate(names):
        items = []
        for index in top_indices[i, :n_images, concept]:
            if index < 0:
                continue
            tokens = batches.read(name, np.array([index]))
            _, codes = encode(name, tokens)
            heat = codes[:, concept].reshape(grid).numpy()
            image = manifest_image(manifest, index)
            picture = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
            items.append((picture, heat))
        rows[name] = items
    return rows

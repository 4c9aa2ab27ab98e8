"""Tables behind the concept explorer: concept kinds, galleries, heatmaps, labels and nearest concepts.

Everything here is array-in, array-out (no files), so the site writer can be fed either a trained run's
tables (:func:`usae.explorer.build.build_explorer`) or synthetic ones (``benchmarks/explorer.py``).
"""

from dataclasses import dataclass, field

import numpy as np
import torch

UNIVERSAL, MIXED, DEAD = "universal", "mixed", "dead"


def concept_kinds(frame, names, universal_entropy, specific_share, min_cofires):
    """``"universal"``, ``"only <model>"``, ``"mixed"`` or ``"dead"`` per concept.

    Universal: firing entropy above ``universal_entropy`` and at least ``min_cofires`` co-firings (as
    :func:`usae.analysis.gallery.universal_concepts`); model-specific: at least ``specific_share`` of the
    concept's firings are one model's (as :func:`usae.analysis.gallery.model_specific_concepts`).
    """
    fires = frame[[f"fires_{name}" for name in names]].to_numpy(dtype=float)
    totals = fires.sum(1, keepdims=True)
    share = np.divide(fires, totals, out=np.zeros_like(fires), where=totals > 0)
    kinds = np.full(len(frame), MIXED, dtype=object)
    specific = share.max(1) >= specific_share
    kinds[specific] = [f"only {names[i]}" for i in share.argmax(1)[specific]]
    universal = (frame["entropy"].to_numpy() > universal_entropy) & (frame["cofires"].to_numpy() >= max(min_cofires, 1))
    kinds[universal] = UNIVERSAL
    kinds[frame["dead"].to_numpy(dtype=bool)] = DEAD
    return kinds


def kind_rule(universal_entropy, specific_share, min_cofires):
    """The thresholds of :func:`concept_kinds` in words, for the reader."""
    return (f"universal: firing entropy > {universal_entropy:g} and >= {max(min_cofires, 1):.0f} co-fires; only <model>: that model has "
            f">= {specific_share:.0%} of the firings; mixed: neither")


def gallery_images(indices_Mnm, values_Mnm, per_model, alive_m):
    """Images shown for each concept: the union of every model's top ``per_model`` images.

    The union is taken rank by rank (every model's best image, then every model's second, ...), without
    repeats, so that each model's best images come first; every model's heatmap is shown on all of them.

    Parameters
    ----------
    indices_Mnm, values_Mnm : numpy.ndarray
        ``top_images.npz``'s ``indices`` and ``values``: ``(M, n, m)`` store indices (-1 = none) and the
        concept's largest code on them. Images with a code of 0 are not top images.
    per_model : int
    alive_m : numpy.ndarray
        Bool ``(m,)``; dead concepts get no images.

    Returns
    -------
    gallery_mU : numpy.ndarray
        ``(m, U)`` store indices, -1 padded, ``U = M * per_model``.
    top_mMU : numpy.ndarray
        Bool ``(m, M, U)``: image ``u`` is among model ``i``'s top images of the concept.
    """
    n_models, _, m = indices_Mnm.shape
    ranked = indices_Mnm[:, :per_model].transpose(2, 1, 0).reshape(m, -1)
    valid = (values_Mnm[:, :per_model] > 0).transpose(2, 1, 0).reshape(m, -1) & (ranked >= 0) & alive_m[:, None]
    gallery = np.full((m, n_models * per_model), -1, dtype=np.int64)
    top = np.zeros((m, n_models, n_models * per_model), dtype=bool)
    for k in np.flatnonzero(valid.any(1)):
        chosen = list(dict.fromkeys(ranked[k, valid[k]].tolist()))
        gallery[k, : len(chosen)] = chosen
        model_of = np.tile(np.arange(n_models), per_model)[valid[k]]
        for model, image in zip(model_of, ranked[k, valid[k]]):
            top[k, model, chosen.index(image)] = True
    return gallery, top


@torch.no_grad()
def gallery_heatmaps(encode, names, batches, gallery_mU, batch_images):
    """Every model's code of each concept over the tokens of the concept's gallery images.

    Each distinct image is encoded once per model, whatever the number of concepts showing it.

    Parameters
    ----------
    encode : callable
        ``encode(model, tokens) -> (pre_codes, codes)``, e.g. ``UniversalSAE.encode``.
    names : list of str
    batches : usae.activations.batches.TokenBatches
        Evaluation stores, standardised as in training.
    gallery_mU : numpy.ndarray
        From :func:`gallery_images`.
    batch_images : int
        Images encoded at once.

    Returns
    -------
    numpy.ndarray
        float32 ``(m, M, U, T)``; 0 on empty gallery slots.
    """
    m, slots = gallery_mU.shape
    heat = np.zeros((m, len(names), slots, batches.tokens), dtype=np.float32)
    concept_of, slot_of = np.nonzero(gallery_mU >= 0)
    image_of = gallery_mU[concept_of, slot_of]
    images = np.unique(image_of)
    for start in range(0, len(images), batch_images):
        chunk = images[start : start + batch_images]
        inside = (image_of >= chunk[0]) & (image_of <= chunk[-1])
        position = np.searchsorted(chunk, image_of[inside])
        for i, name in enumerate(names):
            _, codes = encode(name, batches.read(name, chunk))
            codes_NTm = codes.float().cpu().numpy().reshape(len(chunk), batches.tokens, -1)
            heat[concept_of[inside], i, slot_of[inside]] = codes_NTm[position, :, concept_of[inside]]
    return heat


def quantise_heatmaps(heat_mMUT):
    """Heatmaps as bytes: ``round(255 * code / scale)`` with one scale per (concept, model).

    Returns
    -------
    bytes_mMUT : numpy.ndarray
        uint8, same shape.
    scale_mM : numpy.ndarray
        float32: the largest code of the concept for that model over its gallery (0 if it never fires).
    """
    scale = heat_mMUT.max(axis=(2, 3))
    safe = np.where(scale > 0, scale, 1.0)[:, :, None, None]
    return np.round(255 * np.clip(heat_mMUT, 0, None) / safe).astype(np.uint8), scale.astype(np.float32)


def nearest_concepts(atoms, alive_m, count, block=1024):
    """Nearest alive concepts by cosine of decoder atoms concatenated over models.

    Each model's atom is L2-normalised before concatenation, so the cosine is the mean over models of
    the per-model cosines.

    Parameters
    ----------
    atoms : list of numpy.ndarray
        Each model's dictionary ``(m, D_i)``.
    alive_m : numpy.ndarray
        Bool ``(m,)``.
    count : int

    Returns
    -------
    neighbours_mK : numpy.ndarray
        int64 concept ids, nearest first; -1 for dead concepts.
    cosines_mK : numpy.ndarray
        float32.
    """
    joined = np.concatenate([a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12) for a in atoms], 1)
    alive = np.flatnonzero(alive_m)
    vectors = (joined[alive] / np.sqrt(len(atoms))).astype(np.float32)
    count = min(count, max(len(alive) - 1, 0))
    neighbours = np.full((len(alive_m), count), -1, dtype=np.int64)
    cosines = np.zeros((len(alive_m), count), dtype=np.float32)
    for start in range(0, len(alive), block):
        sims = vectors[start : start + block] @ vectors.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf
        best = np.argpartition(-sims, count - 1, axis=1)[:, :count] if count else np.zeros((len(sims), 0), int)
        best = np.take_along_axis(best, np.argsort(-np.take_along_axis(sims, best, 1), axis=1), 1)
        neighbours[alive[start : start + block]] = alive[best]
        cosines[alive[start : start + block]] = np.take_along_axis(sims, best, 1)
    return neighbours, cosines


def chance_nearest_cosine(shapes, seed=0):
    """The mean nearest-concept cosine (as :func:`nearest_concepts`) of random Gaussian atoms of the given
    ``(m, D_i)`` shapes: what a nearest-concept cosine is worth by chance in this space."""
    rng = np.random.default_rng(seed)
    atoms = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    _, cosines = nearest_concepts(atoms, np.ones(shapes[0][0], dtype=bool), 1)
    return float(cosines[:, 0].mean()) if cosines.size else float("nan")


def concept_labels(gallery_mU, image_labels, per_concept=3):
    """Most common dataset labels of each concept's gallery images.

    Parameters
    ----------
    gallery_mU : numpy.ndarray
    image_labels : sequence of str
        Label of every store index ('' = unlabelled).
    per_concept : int

    Returns
    -------
    vocabulary : list of str
        Sorted labels that occur.
    ids : list of list of int
        Per concept, indices into ``vocabulary``, most common first.
    """
    counts = []
    for row in gallery_mU:
        labels = [image_labels[i] for i in row[row >= 0] if image_labels[i]]
        counts.append(sorted(set(labels), key=lambda label: (-labels.count(label), label))[:per_concept])
    vocabulary = sorted({label for labels in counts for label in labels})
    position = {label: i for i, label in enumerate(vocabulary)}
    return vocabulary, [[position[label] for label in labels] for labels in counts]


@dataclass
class ExplorerContent:
    """Everything the site shows, indexed by concept id (length m unless stated).

    Attributes
    ----------
    names : list of str
        Models.
    grid : (int, int)
        Token grid of the heatmaps.
    frame : pandas.DataFrame
        ``concepts.csv`` (one row per concept, in concept order).
    kinds : numpy.ndarray
        From :func:`concept_kinds`.
    gallery, top : numpy.ndarray
        From :func:`gallery_images`.
    heat_bytes, heat_scale : numpy.ndarray
        From :func:`quantise_heatmaps`.
    neighbours, cosines : numpy.ndarray
        From :func:`nearest_concepts`.
    image_paths : sequence of str or None
        Image file of every store index; None when there are no images (no thumbnails).
    image_labels : sequence of str
        Dataset label of every store index ('' = unlabelled).
    matrices, summary : dict
        ``matrices.json`` and ``summary.json``.
    figures : list of path
        Figure PNGs shown at the top.
    actmax : dict of int to list of dict
        Per optimised concept: ``{"model", "path", "activations": {model: value}}`` per image.
    kind_rule : str
        How ``kinds`` were decided (:func:`kind_rule`).
    neighbour_chance : float
        The nearest-concept cosine of random atoms (:func:`chance_nearest_cosine`), shown beside the
        nearest concepts so that a reader can tell a real neighbour from a chance one.
    """

    names: list
    grid: tuple
    frame: object
    kinds: np.ndarray
    gallery: np.ndarray
    top: np.ndarray
    heat_bytes: np.ndarray
    heat_scale: np.ndarray
    neighbours: np.ndarray
    cosines: np.ndarray
    image_paths: list
    image_labels: list
    matrices: dict
    summary: dict
    figures: list = field(default_factory=list)
    actmax: dict = field(default_factory=dict)
    kind_rule: str = ""
    neighbour_chance: float = float("nan")

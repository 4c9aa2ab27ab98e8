"""Tables behind the concept explorer: concept kinds, galleries, heatmaps, labels and nearest concepts.

Everything here is array-in, array-out (no files), so the site writer can be fed either a trained run's
tables (:func:`usae.explorer.build.build_explorer`) or synthetic ones (``benchmarks/explorer.py``).
"""

from dataclasses import dataclass, field

import numpy as np
import torch


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
def gallery_heatmaps(encode, names, batches, gallery_mU, batch_images, image_concepts=0):
    """Every model's code of each concept over the tokens of the concept's gallery images, and of each
    such image the concepts that fire most on it.

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
    image_concepts : int
        Concepts kept per image and model (:func:`top_concepts`).

    Returns
    -------
    heat_mMUT : numpy.ndarray
        float32 ``(m, M, U, T)``; 0 on empty gallery slots.
    shown : ImageConcepts
        The gallery images (sorted store indices) and their top concepts in every model.
    """
    m, slots = gallery_mU.shape
    heat = np.zeros((m, len(names), slots, batches.tokens), dtype=np.float32)
    concept_of, slot_of = np.nonzero(gallery_mU >= 0)
    image_of = gallery_mU[concept_of, slot_of]
    images = np.unique(image_of)
    concepts = np.full((len(images), len(names), image_concepts), -1, dtype=np.int64)
    image_heat = np.zeros((len(images), len(names), image_concepts, batches.tokens), dtype=np.float32)
    for start in range(0, len(images), batch_images):
        chunk = images[start : start + batch_images]
        inside = (image_of >= chunk[0]) & (image_of <= chunk[-1])
        position = np.searchsorted(chunk, image_of[inside])
        for i, name in enumerate(names):
            _, codes = encode(name, batches.read(name, chunk))
            codes_NTm = codes.float().cpu().numpy().reshape(len(chunk), batches.tokens, -1)
            heat[concept_of[inside], i, slot_of[inside]] = codes_NTm[position, :, concept_of[inside]]
            best_NK = top_concepts(codes_NTm.max(1), image_concepts)
            concepts[start : start + len(chunk), i] = best_NK
            maps_NKT = codes_NTm[np.arange(len(chunk))[:, None], :, np.maximum(best_NK, 0)]
            image_heat[start : start + len(chunk), i] = maps_NKT * (best_NK >= 0)[:, :, None]
    return heat, ImageConcepts(images, concepts, image_heat)


def top_concepts(peak_Nm, count):
    """The ``count`` concepts with the largest peak code on each image, largest first (ties: lower id).

    Returns
    -------
    numpy.ndarray
        int64 ``(N, count)`` concept ids; -1 where fewer than ``count`` concepts fire (peak > 0).
    """
    order_Nm = np.argsort(-peak_Nm, axis=1, kind="stable")[:, :count]
    return np.where(np.take_along_axis(peak_Nm, order_Nm, 1) > 0, order_Nm, -1).astype(np.int64)


@dataclass
class ImageConcepts:
    """The concepts that fire most on each shown image, in every model, and where.

    Attributes
    ----------
    images_I : numpy.ndarray
        Sorted store indices.
    concepts_IMK : numpy.ndarray
        int64 concept ids per image and model, largest peak code first; -1 padded.
    heat_IMKT : numpy.ndarray
        Codes of those concepts over the image's tokens: float32, or uint8 once :meth:`quantised`.
    scale_IMK : numpy.ndarray, optional
        The scales of uint8 ``heat_IMKT`` (as :func:`quantise_heatmaps`).
    """

    images_I: np.ndarray
    concepts_IMK: np.ndarray
    heat_IMKT: np.ndarray
    scale_IMK: np.ndarray = None

    def quantised(self):
        """A copy with uint8 heatmaps and one scale per (image, model, concept)."""
        heat, scale = quantise_heatmaps(self.heat_IMKT, axes=(3,))
        return ImageConcepts(self.images_I, self.concepts_IMK, heat, scale)


def quantise_heatmaps(heat, axes=(2, 3)):
    """Heatmaps as bytes: ``round(255 * code / scale)`` with one scale per index over the other axes.

    Parameters
    ----------
    heat : numpy.ndarray
        float codes, e.g. ``(m, M, U, T)``.
    axes : tuple of int
        Axes a scale is shared over (default: per concept and model, over its images and tokens).

    Returns
    -------
    bytes : numpy.ndarray
        uint8, same shape.
    scale : numpy.ndarray
        float32 ``heat``'s shape without ``axes``: the largest code there (0 if it never fires).
    """
    scale = heat.max(axis=axes, keepdims=True)
    safe = np.where(scale > 0, scale, 1.0)
    return (
        np.round(255 * np.clip(heat, 0, None) / safe).astype(np.uint8),
        np.squeeze(scale, axis=axes).astype(np.float32),
    )


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


def top_label_counts(indices_Mnm, frame, names, image_labels, n):
    """The labels of each (concept, model)'s top ``n`` images, where label coherence tested it.

    Parameters
    ----------
    indices_Mnm : numpy.ndarray
        ``top_images.npz``'s ``indices``: ``(M, K, m)`` store indices, largest code first.
    frame : pandas.DataFrame
        ``concepts.csv`` with ``label_share_<model>`` (NaN: not tested).
    names : list of str
    image_labels : sequence of str
        Label of every store index.
    n : int
        Top images judged (``metrics.coherence_images``); at most K are counted.

    Returns
    -------
    list of dict
        Per concept, ``{model: [[label, count], ...]}`` over its tested models, most common first (ties: label).
    """
    counts = [{} for _ in range(indices_Mnm.shape[2])]
    for i, name in enumerate(names):
        for k in np.flatnonzero(np.isfinite(frame[f"label_share_{name}"].to_numpy(dtype=float))):
            labels = [image_labels[index] for index in indices_Mnm[i, :n, k] if index >= 0]
            tally = {label: labels.count(label) for label in set(labels)}
            counts[k][name] = sorted(([label, c] for label, c in tally.items()), key=lambda item: (-item[1], item[0]))
    return counts


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
        Each concept's kind (``concepts.csv``'s ``kind``, :func:`usae.analysis.kinds.concept_kinds`).
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
    image_sha256s : sequence of str or None
        The manifest's sha256 of every image, which each thumbnail's file is checked against; None: unchecked
        (synthetic content).
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
    shown : ImageConcepts, optional
        Quantised top concepts of the shown images (the image view); None: no image view.
    twins : dict, optional
        Each concept's independent-SAE twin per model (:func:`usae.explorer.build.baseline_twins`);
        None: the baseline was not run.
    labels : dict, optional
        Each model's display name, shown wherever the site names a model; None: its name.
    twin_chance : dict, optional
        Per model, the mean matched cosine of a random dictionary (:func:`usae.explorer.build.twin_chance`).
    coherence : dict, optional
        ``coherence.json`` (label coherence's settings and null; ``{"run": False, ...}``: not run).
    label_counts : list of dict, optional
        :func:`top_label_counts`; None: label coherence was not run.
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
    shown: ImageConcepts = None
    twins: dict = None
    labels: dict = None
    twin_chance: dict = field(default_factory=dict)
    image_sha256s: list = None
    coherence: dict = field(default_factory=lambda: {"run": False, "reason": "not given"})
    label_counts: list = None

"""The concept explorer of a trained USAE: a static site built from the metrics stage's outputs.

:func:`build_explorer` is the entry point (what a workflow rule calls); the tables it assembles are in
:mod:`usae.explorer.content`, the files it writes in :mod:`usae.explorer.site`.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from usae.activations.batches import evaluation_batches
from usae.data.manifest import read_manifest
from usae.device import pick_device
from usae.errors import UserError
from usae.explorer.content import (
    DEAD,
    ExplorerContent,
    chance_nearest_cosine,
    concept_kinds,
    gallery_heatmaps,
    gallery_images,
    kind_rule,
    nearest_concepts,
    quantise_heatmaps,
)
from usae.explorer.site import write_site
from usae.io import read_json
from usae.sae.checkpoint import load_trained


def build_explorer(
    concepts_csv,
    top_images_npz,
    matrices_json,
    summary_json,
    manifest_csv,
    usae_weights,
    usae_meta,
    store_metas,
    figure_pngs,
    actmax_table_csv,
    actmax_images_dir,
    site_dir,
    *,
    pairs_csvs=(),
    independent_top_npz=None,
    baseline_csv=None,
    thumbnail_px=128,
    chunk_size=64,
    **options,
):
    """Build the concept explorer site of one trained USAE on one dataset's val split.

    Parameters
    ----------
    concepts_csv, top_images_npz, matrices_json, summary_json : path
        The metrics stage's outputs for the dataset (:func:`usae.stages.metrics.metrics`).
    manifest_csv : path or None
        Manifest of that val split (image paths and labels, in store order); None: no images (imported
        activations), a site of heatmaps without thumbnails or labels.
    usae_weights, usae_meta : path
        The trained USAE: ``model.safetensors`` and ``model.json``.
    store_metas : sequence of path
        ``meta.json`` of the val split's activation store of each model of the run (any order).
    figure_pngs : sequence of path
        Figure PNGs shown at the top of the site (copied in).
    actmax_table_csv : path or None
        ``actmax_cross_activation.csv`` of the actmax stage; None or a missing file: no actmax images.
    actmax_images_dir : path or None
        Folder of ``concept_{k:05d}_{model}.png``.
    site_dir : path
        Output folder, replaced as a whole when the new site is complete.
    pairs_csvs : sequence of path
        The baseline stage's ``pairs_<model>.csv``, one per model in the run's model order; empty or a
        missing file: the site says the baseline was not run.
    independent_top_npz : path, optional
        The baseline stage's ``independent_top_images.npz``: each twin's own top images; None or a
        missing file: twins without images.
    baseline_csv : path, optional
        The baseline's ``baseline_matching.csv``: each model's random-dictionary matched cosine, shown
        beside its twins' cosines; None or a missing file: not shown.
    thumbnail_px : int
        Side of the square JPEG thumbnails.
    chunk_size : int
        Consecutive concept ids (and shown images) per lazily loaded data file.
    **options
        The keywords of :func:`explorer_content`.

    Returns
    -------
    pathlib.Path
        ``site_dir``; open ``site_dir/index.html``.
    """
    content = explorer_content(
        concepts_csv,
        top_images_npz,
        matrices_json,
        summary_json,
        manifest_csv,
        usae_weights,
        usae_meta,
        store_metas,
        figure_pngs,
        actmax_table_csv,
        actmax_images_dir,
        pairs_csvs,
        independent_top_npz,
        baseline_csv,
        **options,
    )
    return write_site(content, site_dir, thumbnail_px=thumbnail_px, chunk_size=chunk_size)


def explorer_content(
    concepts_csv,
    top_images_npz,
    matrices_json,
    summary_json,
    manifest_csv,
    usae_weights,
    usae_meta,
    store_metas,
    figure_pngs,
    actmax_table_csv,
    actmax_images_dir,
    pairs_csvs=(),
    independent_top_npz=None,
    baseline_csv=None,
    *,
    universal_entropy=0.9,
    specific_share=0.9,
    gallery_images_per_model=4,
    image_concepts=6,
    neighbours=8,
    batch_images=16,
    device="auto",
    labels=None,
):
    """Everything the site shows (the files as :func:`build_explorer`'s).

    Parameters
    ----------
    universal_entropy : float
        A concept is universal when its firing entropy exceeds this (and it co-fires at least
        ``min_cofires_scaled`` times, from ``summary_json``).
    specific_share : float
        A concept is model-specific when one model has at least this share of its firings.
    gallery_images_per_model : int
        Top images per model; a concept shows the union of every model's, with every model's heatmap.
    image_concepts : int
        Concepts shown per model in the view of an image (those with the largest codes on it).
    neighbours : int
        Nearest concepts listed per concept (cosine of decoder atoms concatenated over models).
    batch_images : int
        Images encoded at once when computing heatmaps (memory: images x T x m floats).
    device : str
        Torch device of the encoders (``"auto"``: CUDA when present).
    labels : dict, optional
        Each model's display name (:func:`usae.models.registry.display_names`); default: its name.

    Returns
    -------
    usae.explorer.content.ExplorerContent
    """
    frame = pd.read_csv(concepts_csv)
    matrices, summary = read_json(matrices_json), read_json(summary_json)
    usae, meta = load_trained(usae_weights, usae_meta)
    device = pick_device(device)
    usae.to(device)
    names = usae.names
    batches = evaluation_batches(store_metas, meta)
    image_ids = batches.stores[names[0]].image_ids
    manifest = read_manifest(manifest_csv) if manifest_csv else None
    with np.load(top_images_npz) as top_images:
        if manifest is not None:
            check_image_order(manifest, top_images["image_ids"], image_ids)
        kinds = concept_kinds(frame, names, universal_entropy, specific_share, summary["min_cofires_scaled"])
        alive = kinds != DEAD
        gallery, top = gallery_images(top_images["indices"], top_images["values"], gallery_images_per_model, alive)
    heat, shown = gallery_heatmaps(
        lambda name, tokens: usae.encode(name, tokens.to(device)), names, batches, gallery, batch_images, image_concepts
    )
    heat_bytes, heat_scale = quantise_heatmaps(heat)
    atoms = [usae.saes[name].dictionary().detach().cpu().numpy() for name in names]
    nearest, cosines = nearest_concepts(atoms, alive, neighbours)
    chance = chance_nearest_cosine([atom.shape for atom in atoms])
    grid = batches.stores[names[0]].meta["grid"] or (1, batches.tokens)
    return ExplorerContent(
        names=names,
        grid=tuple(grid),
        frame=frame,
        kinds=kinds,
        gallery=gallery,
        top=top,
        heat_bytes=heat_bytes,
        heat_scale=heat_scale,
        neighbours=nearest,
        cosines=cosines,
        image_paths=None if manifest is None else manifest["path"].tolist(),
        image_labels=[""] * len(image_ids) if manifest is None else image_labels(manifest),
        matrices=matrices,
        summary=summary,
        figures=[Path(path) for path in figure_pngs],
        actmax=actmax_items(actmax_table_csv, actmax_images_dir, names, set(np.flatnonzero(alive).tolist())),
        kind_rule=kind_rule(universal_entropy, specific_share, summary["min_cofires_scaled"]),
        neighbour_chance=chance,
        shown=shown.quantised(),
        twins=baseline_twins(pairs_csvs, len(frame), independent_top_npz, gallery_images_per_model, image_ids),
        labels={name: (labels or {}).get(name, name) for name in names},
        twin_chance=twin_chance(baseline_csv, names),
    )


def image_labels(manifest):
    """The label of every image of a manifest; an unlabelled image (a ``folder`` dataset's image at the top
    of its split) is labelled by its file name without suffix."""
    return [label or Path(path).stem for label, path in zip(manifest["label"], manifest["path"])]


def baseline_twins(pairs_csvs, m, independent_top_npz=None, n_images=4, image_ids=None):
    """Each concept's independent-SAE twin in each model, from the baseline stage's pairs files, with
    each twin's own top images.

    Parameters
    ----------
    pairs_csvs : sequence of path
        ``pairs_<model>.csv`` per model (:func:`usae.stages.baseline.baseline`), in the run's model order.
    m : int
        Concepts.
    independent_top_npz : path, optional
        The baseline's ``independent_top_images.npz``; None or a missing file: no twin images.
    n_images : int
        Top images kept per twin.
    image_ids : sequence, optional
        The val stores' image ids, which the npz's must equal (same images, same order).

    Returns
    -------
    dict of str to numpy.ndarray or None
        ``(M, m)`` arrays: ``atom`` (the twin by Hungarian matching of decoder atoms) and its ``cosine``,
        ``activation`` (the twin by matching of codes) and its ``correlation``; with the npz also
        ``atom_images``, ``activation_images`` (``(M, m, n)`` store indices of that twin's top images on
        which it fires, -1 past the last) and ``atom_codes``, ``activation_codes`` (its largest code on
        each). None when no pairs file is given or one is missing (the baseline was not run).
    """
    if not pairs_csvs or not all(Path(path).exists() for path in pairs_csvs):
        return None
    columns = {
        "atom": "independent_concept",
        "cosine": "cosine",
        "activation": "activation_match",
        "correlation": "activation_correlation",
    }
    frames = [pd.read_csv(path).set_index("usae_concept").reindex(range(m)) for path in pairs_csvs]
    twins = {
        key: np.stack([frame[column].to_numpy(dtype=float) for frame in frames]) for key, column in columns.items()
    }
    if independent_top_npz is None or not Path(independent_top_npz).exists():
        return twins
    with np.load(independent_top_npz) as top:
        if image_ids is not None and [str(i) for i in top["image_ids"]] != [str(i) for i in image_ids]:
            raise UserError(
                f"{independent_top_npz}: not the val stores' images (same ids, same order); rerun the baseline"
            )
        indices_MnJ, codes_MnJ = top["indices"][:, :n_images], top["values"][:, :n_images]
    for key in ("atom", "activation"):
        twin_Mm = np.nan_to_num(twins[key], nan=-1).astype(int)
        models = np.arange(len(twin_Mm))[:, None]
        images_Mmn = indices_MnJ[models, :, twin_Mm]
        codes_Mmn = codes_MnJ[models, :, twin_Mm]
        fired = (codes_Mmn > 0) & (twin_Mm >= 0)[:, :, None]
        twins[f"{key}_images"] = np.where(fired, images_Mmn, -1)
        twins[f"{key}_codes"] = np.where(fired, codes_Mmn, 0.0)
    return twins


def twin_chance(baseline_csv, names):
    """Each model's mean matched cosine of a random dictionary (the baseline table's ``random (<model>)``
    rows): what a twin's atom cosine is worth by chance. Empty when the table is None or missing."""
    if baseline_csv is None or not Path(baseline_csv).exists():
        return {}
    table = pd.read_csv(baseline_csv).set_index("model")["mean_cosine"]
    return {name: float(table[f"random ({name})"]) for name in names if f"random ({name})" in table.index}


def check_image_order(manifest, *image_id_lists):
    """Raise ValueError unless the manifest lists the same images, in the same order, as the stores."""
    expected = manifest["image_id"].astype(str).tolist()
    for ids in image_id_lists:
        if [str(i) for i in ids] != expected:
            raise UserError("the manifest's images are not the activation stores' images (same ids, same order)")


def actmax_items(table_csv, images_dir, names, concepts):
    """Activation-maximisation images of the ``concepts`` that were optimised.

    Returns
    -------
    dict of int to list of dict
        ``{"model", "path", "activations": {model: mean code}}`` per image that exists; empty when the
        table or the folder is None, or the table is absent.
    """
    if table_csv is None or images_dir is None or not Path(table_csv).exists():
        return {}
    items = {}
    for row in pd.read_csv(table_csv).to_dict("records"):
        path = Path(images_dir) / f"concept_{int(row['concept']):05d}_{row['optimised_for']}.png"
        if int(row["concept"]) in concepts and path.exists():
            activations = {name: float(row[name]) for name in names}
            items.setdefault(int(row["concept"]), []).append(
                {"model": row["optimised_for"], "path": path, "activations": activations}
            )
    return items

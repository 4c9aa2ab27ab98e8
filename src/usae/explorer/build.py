"""The concept explorer of a trained USAE: a static site built from the metrics stage's outputs.

:func:`build_explorer` is the entry point (what a workflow rule calls); the tables it assembles are in
:mod:`usae.explorer.content`, the files it writes in :mod:`usae.explorer.site`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from usae.activations.batches import evaluation_batches
from usae.analysis.kinds import DEAD, kind_rule
from usae.data.manifest import read_manifest
from usae.device import pick_device
from usae.errors import UserError
from usae.explorer.content import (
    ExplorerContent,
    chance_nearest_cosine,
    gallery_heatmaps,
    gallery_images,
    nearest_concepts,
    quantise_heatmaps,
    top_label_counts,
)
from usae.explorer.site import write_site
from usae.io import read_concepts, read_json
from usae.options import ExplorerOptions
from usae.sae.checkpoint import load_trained

DEFAULTS = ExplorerOptions()  # the schema's defaults


@dataclass(frozen=True)
class ExplorerFiles:
    """The files the explorer reads, by the names the explorer stage gives them (docs/stages.md#explorer).

    An optional file is None when the run has none; an empty value (what a rule passes for a file it does
    not have) is taken as None.

    Attributes
    ----------
    matrices, summary, concepts, top_images : path
        The metrics stage's files of the dataset (:func:`usae.stages.metrics.metrics`).
    usae_weights, usae_meta : path
        The trained USAE: ``model.safetensors`` and ``model.json``.
    stores : sequence of path
        ``meta.json`` of the val split's activation store of each model of the run (any order).
    manifest : path or None
        Manifest of that val split (image paths and labels, in store order); None: no images (imported
        activations), a site of heatmaps without thumbnails or labels.
    figures : sequence of path
        Figure PNGs shown at the top of the site (copied in).
    actmax_table, actmax_images : path or None
        The actmax stage's ``actmax_cross_activation.csv`` and its folder of ``concept_{k:05d}_{model}.png``;
        None or a missing file: no actmax images.
    pairs : sequence of path
        The baseline stage's ``pairs_<model>.csv``, one per model in the run's model order; empty or a
        missing file: the site says the baseline was not run.
    independent_top : path or None
        The baseline stage's ``independent_top_images.npz``: each twin's own top images.
    baseline_table : path or None
        The baseline's ``baseline_matching.csv``: each model's random-dictionary matched cosine, shown beside
        its twins' cosines.
    coherence : path or None
        The metrics stage's ``coherence.json``: label coherence's settings and null, shown with each concept's
        labels; None: not shown.
    stability : path or None
        The stability stage's ``stability.csv`` of this run (replicates only): each concept's seed stability.
    """

    matrices: str
    summary: str
    concepts: str
    top_images: str
    usae_weights: str
    usae_meta: str
    stores: Sequence[str]
    manifest: str | None
    figures: Sequence[str]
    actmax_table: str | None = None
    actmax_images: str | None = None
    pairs: Sequence[str] = ()
    independent_top: str | None = None
    baseline_table: str | None = None
    coherence: str | None = None
    stability: str | None = None

    def __post_init__(self):
        optional = ("manifest", "actmax_table", "actmax_images", "independent_top", "baseline_table")
        for name in (*optional, "coherence", "stability"):
            object.__setattr__(self, name, getattr(self, name) or None)


def build_explorer(files, site_dir, options=DEFAULTS, labels=None):
    """Build the concept explorer site of one trained USAE on one dataset's val split.

    Parameters
    ----------
    files : ExplorerFiles
    site_dir : path
        Output folder, replaced as a whole when the new site is complete.
    options : usae.options.ExplorerOptions
    labels : dict, optional
        Each model's display name (:func:`usae.models.registry.display_names`); default: its name.

    Returns
    -------
    pathlib.Path
        ``site_dir``; open ``site_dir/index.html``.
    """
    content = explorer_content(files, options, labels)
    return write_site(content, site_dir, thumbnail_px=options.thumbnail_px, chunk_size=options.chunk_size)


def explorer_content(files, options=DEFAULTS, labels=None, image_concepts=6):
    """Everything the site shows.

    Parameters
    ----------
    files : ExplorerFiles
    options : usae.options.ExplorerOptions
    labels : dict, optional
        Each model's display name; default: its name.
    image_concepts : int
        Concepts shown per model in the view of an image (those with the largest codes on it).

    Returns
    -------
    usae.explorer.content.ExplorerContent
    """
    frame = read_concepts(files.concepts, files.stability)
    coherent = [column for column in frame.columns if column.startswith("coherent_")]
    if coherent:
        frame = frame.assign(coherent_models=frame[coherent].sum(axis=1).astype(int))
    coherence = read_json(files.coherence) if files.coherence else {"run": False, "reason": "not given"}
    matrices, summary = read_json(files.matrices), read_json(files.summary)
    usae, meta = load_trained(files.usae_weights, files.usae_meta)
    device = pick_device(options.device)
    usae.to(device)
    names = usae.names
    batches = evaluation_batches(files.stores, meta)
    image_ids = batches.stores[names[0]].image_ids
    manifest = read_manifest(files.manifest) if files.manifest else None
    universal_entropy, specific_share = options.universal_entropy, options.specific_share
    with np.load(files.top_images) as top_images:
        if manifest is not None:
            check_image_order(manifest, top_images["image_ids"], image_ids)
        kinds = frame["kind"].to_numpy(dtype=object)
        alive = kinds != DEAD
        gallery, top = gallery_images(top_images["indices"], top_images["values"], options.gallery_images, alive)
        label_counts = (
            top_label_counts(top_images["indices"], frame, names, image_labels(manifest), coherence["top_images"])
            if coherence["run"]
            else None
        )
    heat, shown = gallery_heatmaps(
        lambda name, tokens: usae.encode(name, tokens.to(device)),
        names,
        batches,
        gallery,
        options.batch_images,
        image_concepts,
    )
    heat_bytes, heat_scale = quantise_heatmaps(heat)
    atoms = [usae.saes[name].dictionary().detach().cpu().numpy() for name in names]
    nearest, cosines = nearest_concepts(atoms, alive, options.neighbours)
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
        image_sha256s=None if manifest is None else manifest["sha256"].tolist(),
        image_labels=[""] * len(image_ids) if manifest is None else image_labels(manifest),
        matrices=matrices,
        summary=summary,
        figures=[Path(path) for path in files.figures],
        actmax=actmax_items(files.actmax_table, files.actmax_images, names, set(np.flatnonzero(alive).tolist())),
        kind_rule=kind_rule(universal_entropy, specific_share, summary["min_cofires_scaled"]),
        neighbour_chance=chance,
        shown=shown.quantised(),
        twins=baseline_twins(files.pairs, len(frame), files.independent_top, options.gallery_images, image_ids),
        labels={name: (labels or {}).get(name, name) for name in names},
        twin_chance=twin_chance(files.baseline_table, names),
        coherence=coherence,
        label_counts=label_counts,
    )


def image_labels(manifest):
    """The label of every image of a manifest; an unlabelled image (a ``folder`` dataset's image at the top
    of its split) is labelled by its file name without suffix."""
    return [label or Path(path).stem for label, path in zip(manifest["label"], manifest["path"])]


def baseline_twins(pairs, m, independent_top=None, n_images=4, image_ids=None):
    """Each concept's independent-SAE twin in each model, from the baseline stage's pairs files, with
    each twin's own top images.

    Parameters
    ----------
    pairs : sequence of path
        ``pairs_<model>.csv`` per model (:func:`usae.stages.baseline.baseline`), in the run's model order.
    m : int
        Concepts.
    independent_top : path, optional
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
    if not pairs or not all(Path(path).exists() for path in pairs):
        return None
    columns = {
        "atom": "independent_concept",
        "cosine": "cosine",
        "activation": "activation_match",
        "correlation": "activation_correlation",
    }
    frames = [pd.read_csv(path).set_index("usae_concept").reindex(range(m)) for path in pairs]
    twins = {
        key: np.stack([frame[column].to_numpy(dtype=float) for frame in frames]) for key, column in columns.items()
    }
    if independent_top is None or not Path(independent_top).exists():
        return twins
    with np.load(independent_top) as top:
        if image_ids is not None and [str(i) for i in top["image_ids"]] != [str(i) for i in image_ids]:
            raise UserError(f"{independent_top}: not the val stores' images (same ids, same order); rerun the baseline")
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


def twin_chance(baseline_table, names):
    """Each model's mean matched cosine of a random dictionary (the baseline table's ``random (<model>)``
    rows): what a twin's atom cosine is worth by chance. Empty when the table is None or missing."""
    if baseline_table is None or not Path(baseline_table).exists():
        return {}
    table = pd.read_csv(baseline_table).set_index("model")["mean_cosine"]
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

"""Stage figures: the paper's figures (PNG + PDF) from the experiment's metrics and the trained USAE."""

import logging

import numpy as np
import pandas as pd

from usae.activations.batches import evaluation_batches
from usae.analysis.evidence_plots import coherence_null_figure
from usae.analysis.firing_sets import family_ordered_matrix
from usae.analysis.firing_sets import firing_sets as firing_sets_of
from usae.analysis.gallery import (
    SPECIFIC_MIN_SHARE,
    UNIVERSAL_MIN_ENTROPY,
    border_share,
    concept_rows,
    firing_top,
    model_specific_concepts,
    universal_concepts,
)
from usae.analysis.plots import (
    cofire_energy_scatter,
    cofire_proportion_curves,
    concept_gallery,
    entropy_histogram,
    label_of,
    r2_heatmap,
    training_curves_file,
)
from usae.analysis.upset_plot import firing_sets_figure
from usae.io import read_json
from usae.sae.checkpoint import load_trained

log = logging.getLogger(__name__)


def figures(
    matrices,
    summary,
    concepts,
    top_images,
    usae_weights,
    usae_meta,
    stores,
    manifest,
    fig5_r2,
    fig6a_entropy,
    fig6b_cofire_proportion,
    fig6c_cofire_energy,
    fig4_universal_concepts=(),
    fig9_model_specific_concepts=(),
    coherence_null=(),
    firing_sets=(),
    coherence=None,
    logs=(),
    curves=(),
    *,
    options,
    top_concepts,
    set_cofiring=0.5,
    labels=None,
    families=None,
    kinds=(),
):
    """Write Figs. 4, 5, 6a-c and 9 of the experiment's dataset (without images, Figs. 5 and 6a-c), and the
    training curves of each trained kind.

    Parameters
    ----------
    matrices, summary, concepts, top_images : path
        The metrics stage's files of the experiment's dataset.
    usae_weights, usae_meta : path
        The trained USAE (galleries encode each top image's tokens for its heatmap).
    stores : list of path
        ``meta.json`` of each model's val store.
    manifest : path or None
        The val manifest (image files of the galleries); None or empty: no images (imported
        activations), so the galleries, Figs. 4 and 9, are not drawn.
    fig5_r2, fig6a_entropy, fig6b_cofire_proportion, fig6c_cofire_energy, fig4_universal_concepts,
    fig9_model_specific_concepts, coherence_null, firing_sets : list of path
        PNG and PDF of each figure (the galleries' and label coherence's only with a manifest).
    coherence : path, optional
        The metrics stage's ``coherence.json``: label coherence against its null (drawn with a manifest).
    options : usae.options.FiguresOptions
    top_concepts : int
        Fig. 6b: concepts ranked by energy (``metrics.top_concepts``).
    set_cofiring : float
        The firing sets' co-firing level (``metrics.set_cofiring``, :func:`usae.analysis.firing_sets.firing_sets`).
    logs : sequence of path
        ``log.csv`` of each trained kind, in the order of ``kinds`` (none for a released USAE).
    curves : sequence of path
        PNG and PDF of each kind's training curves, in the order of ``kinds``.
    labels : dict, optional
        Display names of the models (:func:`usae.models.registry.display_names`).
    families : dict, optional
        Each model's family (:func:`usae.models.registry.model_families`), which orders the firing sets' rows.
    kinds : sequence of str
        The trained kinds (``usae``, ``independent``) whose curves are drawn.
    """
    matrices, summary = read_json(matrices), read_json(summary)
    frame = pd.read_csv(concepts)
    names = matrices["models"]
    shown = ", ".join(label_of(name, labels) for name in names)
    per_kind = len(curves) // max(len(kinds), 1)
    for index, (kind, log_csv) in enumerate(zip(kinds, logs)):
        training_curves_file(
            log_csv, curves[index * per_kind : (index + 1) * per_kind], f"{kind} training ({shown})", labels
        )
    r2_MM, ordered = family_ordered_matrix(matrices["r2"], names, families)
    r2_heatmap(r2_MM, ordered, fig5_r2, labels=labels)
    entropy_histogram(frame.loc[~frame["dead"], "entropy"], fig6a_entropy, len(names))
    cofire_proportion_curves(frame, names, fig6b_cofire_proportion, top_concepts, labels=labels)
    sets = firing_sets_of(frame, ordered, set_cofiring)
    firing_sets_figure(sets, ordered, firing_sets, labels, families, min_cofiring=set_cofiring)
    cofire_energy_scatter(
        frame,
        {"all": summary["cofire_energy_all"], "frequent": summary["cofire_energy_frequent"]},
        summary["min_cofires_scaled"],
        fig6c_cofire_energy,
    )
    if not manifest:
        log.info("Figs. 4 and 9 and label coherence skipped: no images (dataset.source: activations)")
        return
    coherence_null_figure(frame, read_json(coherence), names, coherence_null, labels)
    usae, meta = load_trained(usae_weights, usae_meta)
    batches = evaluation_batches(stores, meta)
    grid = tuple(batches.stores[names[0]].meta["grid"])
    with np.load(top_images) as npz:
        top = firing_top(npz["indices"], npz["values"])

    def panels(chosen):
        drawn = []
        for k, label in chosen:
            rows = concept_rows(usae.encode, names, batches, manifest, top, k, options.gallery_images, grid)
            share = border_share([heat for items in rows.values() for _, heat in items])
            drawn.append({"concept": k, "label": f"{label}\n{share:.0%} on the border", "rows": rows})
        return drawn

    universal = [
        (k, f"concept {k}")
        for k in universal_concepts(frame, options.universal_concepts, summary["min_cofires_scaled"])
    ]
    concept_gallery(
        panels(universal),
        names,
        fig4_universal_concepts,
        "Universal concepts: top images per model (Fig. 4)",
        f"No universal concept: none has firing entropy > {UNIVERSAL_MIN_ENTROPY} and "
        f">= {summary['min_cofires_scaled']:.0f} "
        "co-fires on this evaluation.",
        labels,
    )
    specific = [
        (k, f"concept {k}\n({label_of(name, labels)} only)")
        for k, name in model_specific_concepts(frame, names, options.specific_per_model)
    ]
    concept_gallery(
        panels(specific),
        names,
        fig9_model_specific_concepts,
        "Model-specific concepts: top images per model (Figs. 9-12)",
        f"No model-specific concept: none has >= {SPECIFIC_MIN_SHARE:.0%} of its firings in one model.",
        labels,
    )

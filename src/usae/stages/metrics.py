"""Stage metrics: universality and importance metrics of the trained USAE on one dataset's val split."""

import logging

import numpy as np
import pandas as pd

from usae.activations.batches import evaluation_batches
from usae.analysis.coherence_table import measure_coherence
from usae.analysis.evaluation import evaluate_independent, evaluate_usae
from usae.analysis.kinds import concept_kinds
from usae.analysis.universality import loglog_fit
from usae.data.manifest import split_labels
from usae.device import pick_device
from usae.io import write_csv, write_json, write_npz
from usae.sae.checkpoint import load_trained

log = logging.getLogger(__name__)


def concept_frame(table, names):
    """Per-concept statistics as a DataFrame, one row per concept."""
    frame = pd.DataFrame({"concept": np.arange(len(table["entropy"]))})
    for i, name in enumerate(names):
        frame[f"fires_{name}"] = table["fires"][i].astype(np.int64)
    frame["cofires"] = table["cofires"].astype(np.int64)
    frame["entropy"] = table["entropy"]
    for i, name in enumerate(names):
        frame[f"cofire_proportion_{name}"] = table["cofire_proportion"][i]
    for i, name in enumerate(names):
        frame[f"fires_with_top_{name}"] = table["fires_with_top"][i].astype(np.int64)
    for i, name in enumerate(names):
        frame[f"energy_{name}"] = table["energy"][i]
    frame["energy_total"] = table["energy_total"]
    frame["dead"] = table["dead"]
    return frame


def universality_summary(frame, names, n_tokens, options):
    """Scalar universality figures: shares, means of the top concepts by energy, co-fire/energy fits."""
    top = frame.sort_values("energy_total", ascending=False).head(options.top_concepts)
    min_cofires = options.min_cofires * n_tokens / options.reference_tokens
    frequent = frame[frame["cofires"] >= min_cofires]
    alive = frame[~frame["dead"]]
    return {
        "tokens": int(n_tokens),
        "concepts": int(len(frame)),
        "dead_share": float(frame["dead"].mean()),
        "dead_share_per_model": {name: float((frame[f"fires_{name}"] == 0).mean()) for name in names},
        "entropy_above_0.9_share": float((alive["entropy"] > 0.9).mean()) if len(alive) else float("nan"),
        "top_concepts": int(len(top)),
        "top_cofire_proportion_mean": {name: float(top[f"cofire_proportion_{name}"].mean()) for name in names},
        "min_cofires_scaled": float(min_cofires),
        "cofire_energy_all": loglog_fit(frame["cofires"], frame["energy_total"]),
        "cofire_energy_frequent": loglog_fit(frequent["cofires"], frequent["energy_total"]),
    }


def metrics(
    usae_weights,
    usae_meta,
    stores,
    matrices,
    concepts,
    top_images,
    summary,
    coherence,
    *,
    dataset,
    options,
    kinds,
    seed,
    independent=(),
    manifest=(),
):
    """Evaluate on one dataset's val split and write the metrics files; return the summary.

    Parameters
    ----------
    usae_weights, usae_meta : path
        The trained USAE (``model.safetensors``, ``model.json``).
    stores : list of path
        ``meta.json`` of each model's val store of ``dataset``.
    matrices : path
        JSON to write: R2 (the paper's, and over each channel's mean) and MSE matrices, the independent
        SAEs' self R2 and MSE, and the standardisation statistics the tokens were evaluated with (the
        run's, from ``model.json``: for an imported release, the ones it was trained with).
    concepts : path
        CSV to write: per-concept firing, co-firing, entropy, co-fire proportion, energy, dead, kind, and label
        coherence (:func:`usae.analysis.coherence_table.coherence_columns`).
    top_images : path
        ``.npz`` to write: top-activating images of each (model, concept).
    summary : path
        JSON to write: scalar universality figures.
    coherence : path
        JSON to write: label coherence's settings, labels and figures, or why it was not run
        (:func:`usae.analysis.coherence_table.coherence_summary`).
    dataset : str
        Name of the evaluated dataset (recorded in the files).
    options : usae.options.MetricsOptions
    kinds : usae.options.ExplorerOptions
        The thresholds of the concept kinds (:func:`usae.analysis.kinds.concept_kinds`).
    seed : int
        Seeds the permutation test.
    independent : sequence of path
        ``(model.safetensors, model.json)`` of the independent SAEs, or empty.
    manifest : sequence of path
        The split's manifest (its labels, in store order), or empty for imported activations: no labels.
    """
    usae, meta = load_trained(usae_weights, usae_meta)
    batches = evaluation_batches(stores, meta)
    device = pick_device(options.device)
    kept = max(options.top_images, options.coherence_images)
    result = evaluate_usae(usae, batches, options.batch_images, options.threshold, kept, device)
    norms = np.stack([usae.saes[name].dictionary().detach().cpu().norm(dim=1).numpy() for name in usae.names])
    frame = concept_frame(result["concepts"].table(norms, options.energy_power), usae.names)
    independent_scores = {}
    if independent:
        saes, _ = load_trained(*independent)
        independent_scores = {
            name: {"r2": r2, "mse": mse}
            for name, (r2, mse) in evaluate_independent(saes, batches, options.batch_images, device).items()
        }
    write_json(
        matrices,
        {
            "dataset": dataset,
            "models": usae.names,
            "images": batches.n_images,
            "r2": result["r2"].tolist(),
            "r2_over_channel_means": result["r2_over_channel_means"].tolist(),
            "mse": result["mse"].tolist(),
            "standardisation": {
                "from": "model.json",
                "models": {name: dict(zip(("mean", "std"), meta["stats"][name])) for name in usae.names},
            },
            "independent": independent_scores,
        },
    )
    accumulator = result["concepts"]
    image_ids = batches.stores[usae.names[0]].image_ids
    top = accumulator.top_arrays(image_ids)
    scalars = universality_summary(frame, usae.names, accumulator.n_tokens, options)
    kinds_m = concept_kinds(
        frame, usae.names, kinds.universal_entropy, kinds.specific_share, scalars["min_cofires_scaled"]
    )
    labels_N = split_labels(manifest[0], image_ids) if manifest else [""] * len(image_ids)
    columns, coherence_figures = measure_coherence(top, labels_N, usae.names, kinds_m, options, seed)
    frame = pd.concat([frame.assign(kind=kinds_m), columns], axis=1)
    write_csv(frame, concepts)
    write_npz(top_images, top)
    write_json(summary, {"dataset": dataset, "models": usae.names, **scalars})
    write_json(coherence, {"dataset": dataset, "models": usae.names, **coherence_figures})
    log.info("%s: %d tokens, dead share %.3f", dataset, scalars["tokens"], scalars["dead_share"])
    return scalars

"""Stage stability: how far the USAE's concepts come back across replicate runs (``train.replicates`` >= 2)."""

import itertools
import logging

import numpy as np
import pandas as pd
import torch

from usae.activations.batches import evaluation_batches
from usae.analysis.evidence_plots import stability_figure
from usae.analysis.matching import CodeCorrelation
from usae.analysis.stability import atom_stability, code_stability, pair_rows, stability_summary
from usae.device import pick_device
from usae.io import write_csv, write_json, write_table
from usae.sae.checkpoint import load_trained

log = logging.getLogger(__name__)


@torch.no_grad()
def code_correlations(usae_a, usae_b, batches_a, batches_b, image_indices, batch_images, device):
    """Per model, the ``(m, m)`` Pearson correlation of two runs' codes on the same tokens of ``image_indices``.

    Parameters
    ----------
    usae_a, usae_b : usae.sae.modules.UniversalSAE
    batches_a, batches_b : usae.activations.batches.TokenBatches
        The val stores, standardised with each run's own statistics (:func:`evaluation_batches`).
    """
    usae_a, usae_b = usae_a.to(device), usae_b.to(device)
    correlations = []
    for name in usae_a.names:
        correlation = CodeCorrelation(usae_a.n_concepts, usae_b.n_concepts)
        for start in range(0, len(image_indices), batch_images):
            chosen = image_indices[start : start + batch_images]
            _, codes_a = usae_a.encode(name, batches_a.read(name, chosen).to(device))
            _, codes_b = usae_b.encode(name, batches_b.read(name, chosen).to(device))
            correlation.update(codes_a, codes_b)
        correlations.append(correlation.correlation())
    return correlations


def stability(
    weights,
    metas,
    concepts,
    stores,
    table,
    concepts_stability,
    summary,
    figure,
    *,
    runs,
    options,
    images,
    seed,
    labels=None,
):
    """Match every pair of replicate runs' concepts and write the pairs table, its figure, run r0's per-concept
    stability and the summary the scorecard over the runs judges; return the summary.

    Parameters
    ----------
    weights, metas : list of path
        Each run's ``model.safetensors`` and ``model.json``, in the order of ``runs``.
    concepts : list of path
        Each run's ``concepts.csv`` of the experiment's dataset (its concept kinds).
    stores : list of path
        The experiment's val stores (``meta.json`` per model): the tokens the codes are matched on.
    table : list of path
        CSV (models by id) and Markdown (by display name): per pair of runs, model, method (atoms, joint, codes,
        random) and kind (all, universal, specific), the concepts, mean matched similarity, shares above 0.5 and
        0.7, and for the joint matching the share of per-model matches it agrees with.
    concepts_stability : path
        CSV beside run r0's ``concepts.csv`` (``stability.csv``, which ``usae.load(...).concepts()`` and the
        explorer join to it): each of its concepts, its kind, and per model its matched atom cosine and code
        correlation (mean over the other runs), and its joint matched cosine (mean over runs and models).
    summary : path
        JSON: :func:`usae.analysis.stability.stability_summary` with the settings.
    figure : list of path
        PNG and PDF of the table's mean matched similarities by method and kind
        (:func:`usae.analysis.evidence_plots.stability_figure`).
    runs : list of str
    options : usae.options.MetricsOptions
        ``batch_images`` and ``device`` of the code matching.
    images : int
        At most this many val images (a seeded subset) whose tokens the codes are matched on.
    seed : int
        Seeds the random atoms and the image subset.
    labels : dict, optional
        Each model's display name, which the figure uses.
    """
    trained = [load_trained(w, m) for w, m in zip(weights, metas)]
    names = trained[0][0].names
    kinds = [pd.read_csv(path)["kind"].to_numpy(dtype=object) for path in concepts]
    atoms = [[usae.saes[name].dictionary().detach().cpu().numpy() for name in names] for usae, _ in trained]
    batches = [evaluation_batches(stores, meta) for _, meta in trained]
    rng = np.random.default_rng(seed)
    n_images = batches[0].n_images
    chosen = np.sort(rng.choice(n_images, size=min(images, n_images), replace=False))
    device = pick_device(options.device)
    rows, first = [], {}
    for a, b in itertools.combinations(range(len(runs)), 2):
        pair = f"{runs[a]}-{runs[b]}"
        measures = atom_stability(atoms[a], atoms[b], rng)
        usaes, pair_batches = (trained[a][0], trained[b][0]), (batches[a], batches[b])
        correlations = code_correlations(*usaes, *pair_batches, chosen, options.batch_images, device)
        measures["codes"] = code_stability(correlations)
        rows += pair_rows(measures, names, kinds[a], pair)
        if a == 0:
            first[runs[b]] = measures
        log.info("%s: mean matched atom cosine %.3f", pair, float(np.nanmean(measures["atoms"])))
    frame = pd.DataFrame(rows)
    write_csv(frame, table[0])  # the data keeps the models' ids; the Markdown names them as figures do
    write_table(frame.assign(model=[(labels or {}).get(name, name) for name in frame["model"]]), table[1:])
    stability_figure(frame, names, figure, labels)
    per_concept = {"concept": np.arange(len(kinds[0])), "kind": kinds[0]}
    for i, name in enumerate(names):
        per_concept[f"atom_stability_{name}"] = np.mean([m["atoms"][i] for m in first.values()], axis=0)
        per_concept[f"code_stability_{name}"] = np.mean([m["codes"][i] for m in first.values()], axis=0)
    per_concept["joint_stability"] = np.mean([m["joint"].mean(0) for m in first.values()], axis=0)
    write_csv(pd.DataFrame(per_concept), concepts_stability)
    figures = {"runs": runs, "models": names, "code_images": len(chosen), **stability_summary(frame)}
    write_json(summary, figures)
    return figures

"""Stage baseline: match each model's independent-SAE concepts to the USAE's (Figs. 7, 7b and 16)."""

import logging

import numpy as np
import pandas as pd

from usae.activations.batches import evaluation_batches
from usae.analysis.evaluation import paired_statistics
from usae.analysis.gallery import concept_rows, firing_top
from usae.analysis.matching import auc_above, hungarian_match, match_dictionaries, random_like
from usae.analysis.plots import concept_gallery, label_of, matching_figure
from usae.io import write_csv, write_npz, write_table
from usae.sae.checkpoint import load_trained

log = logging.getLogger(__name__)


def extreme_pairs(pairs, usae_fires, independent_fires):
    """The highest- and the lowest-cosine matched pairs among concepts that fire in both SAEs."""
    alive = pairs[(usae_fires[pairs["usae_concept"]] > 0) & (independent_fires[pairs["independent_concept"]] > 0)]
    ranked = alive.sort_values("cosine")
    return [] if ranked.empty else [ranked.iloc[-1], ranked.iloc[0]]


def _firing(accumulator, i):
    """Model ``i``'s top images of each concept where it fires: ``(1, n, m)``, -1 elsewhere."""
    return firing_top(accumulator.top_indices[i : i + 1].numpy(), accumulator.top_values[i : i + 1].numpy())


def matched_pairs_gallery(usae, saes, batches, manifest_file, tops, chosen, n_images, paths, labels=None):
    """Top images of matched USAE / independent concepts side by side (one block per pair)."""
    usae_top, independent_top = tops
    grid = tuple(batches.stores[usae.names[0]].meta["grid"])
    panels = []
    for name, pair in chosen:
        i = usae.names.index(name)
        k, j = int(pair["usae_concept"]), int(pair["independent_concept"])
        usae_rows = concept_rows(usae.encode, [name], batches, manifest_file, _firing(usae_top, i), k, n_images, grid)
        independent_rows = concept_rows(
            lambda model, x: saes[model].encode(x),
            [name],
            batches,
            manifest_file,
            _firing(independent_top, i),
            j,
            n_images,
            grid,
        )
        panels.append(
            {
                "concept": k,
                "label": f"{label_of(name, labels)}: USAE {k} / independent {j},\ncos {pair['cosine']:.2f}",
                "rows": {"USAE": usae_rows[name], "independent": independent_rows[name]},
            }
        )
    concept_gallery(
        panels,
        ["USAE", "independent"],
        paths,
        "Matched pairs: USAE concept (top) and its independent-SAE twin (bottom), highest and lowest cosine",
    )


# The paper's Fig. 16 keeps the top 1000 co-firing concepts of 6144 (16%); past half of them, the subset is
# nearly the whole dictionary and the figure nearly Fig. 7's.
PAPER_TOP_COFIRING, PAPER_M = 1000, 6144


def restricted_title(kept, m):
    """Fig. 16's title: the subset's size against m, and a warning when it is most of the concepts."""
    title = (
        f"Matching restricted to the top {kept} co-firing USAE concepts of {m} ({kept / m:.0%}; the paper: "
        f"{PAPER_TOP_COFIRING} of {PAPER_M}, {PAPER_TOP_COFIRING / PAPER_M:.0%}) (Fig. 16)"
    )
    if kept > m / 2:
        title += "\nmost of the concepts, so nearly Fig. 7: lower baseline.top_cofiring for a real subset"
    return title


def baseline(
    usae_weights,
    usae_meta,
    independent_weights,
    independent_meta,
    concepts,
    stores,
    manifest,
    pairs,
    independent_top,
    table,
    fig7,
    fig16,
    fig7b=(),
    *,
    top_cofiring,
    batch_images,
    gallery_images,
    seed,
    labels=None,
):
    """Match concepts per model by atoms and by activations; write pairs, the independent SAEs' top images,
    a table and Figs. 7, 7b and 16.

    Parameters
    ----------
    usae_weights, usae_meta, independent_weights, independent_meta : path
        The two trained runs.
    concepts : path
        The experiment's ``concepts.csv`` (metrics stage), for the top co-firing concepts.
    stores : list of path
        ``meta.json`` of each model's val store of the experiment.
    manifest : path or None
        The val manifest (images of the matched-pairs gallery); None or empty: no images (imported
        activations), so Fig. 7b is not drawn.
    pairs : list of path
        One CSV per model, in the run's model order.
    independent_top : path
        ``.npz`` of each independent SAE's top images on the val stores, as the metrics stage's
        ``top_images.npz`` (:meth:`usae.analysis.universality.ConceptAccumulator.top_arrays`, n =
        ``gallery_images``): the twins' images in the explorer.
    table : list of path
        CSV and Markdown of the summary table.
    fig7, fig16, fig7b : list of path
        PNG and PDF of each figure (Fig. 7b's only with a manifest).
    top_cofiring : int
        Fig. 16: USAE concepts with the most co-fires.
    batch_images : int
        Images per evaluation batch.
    gallery_images : int
        Top images per concept in Fig. 7b and in ``independent_top``.
    seed : int
        Seeds the random baseline's atoms.
    labels : dict, optional
        Display names of the models in the figures.

    Returns
    -------
    pandas.DataFrame
        The summary table (one row per model and per random baseline).
    """
    usae, meta = load_trained(usae_weights, usae_meta)
    saes, _ = load_trained(independent_weights, independent_meta)
    names = usae.names
    if len(pairs) != len(names):
        raise ValueError(f"{', '.join(map(str, pairs))}: one pairs file per model needed ({', '.join(names)})")
    batches = evaluation_batches(stores, meta)
    correlations, *tops = paired_statistics(usae, saes, batches, batch_images, gallery_images)
    write_npz(independent_top, tops[1].top_arrays(batches.stores[names[0]].image_ids))
    cofiring = set(pd.read_csv(concepts).sort_values("cofires", ascending=False)["concept"].head(top_cofiring))
    rng = np.random.default_rng(seed)
    rows, matched_by_label, restricted_by_label, gallery_pairs = [], {}, {}, []
    for name, pairs_file in zip(names, pairs):
        usae_atoms = usae.saes[name].dictionary().detach().numpy()
        independent_atoms = saes[name].dictionary().detach().numpy()
        usae_index, independent_index, cosine = match_dictionaries(usae_atoms, independent_atoms, f"model {name}")
        _, random_index, random_cosine = match_dictionaries(usae_atoms, random_like(independent_atoms, rng))
        corr_usae, corr_independent, corr = hungarian_match(correlations[name])
        by_usae = dict(zip(corr_usae.tolist(), zip(corr_independent.tolist(), corr.tolist())))
        matched = pd.DataFrame(
            {
                "usae_concept": usae_index,
                "independent_concept": independent_index,
                "cosine": cosine,
                "activation_match": [by_usae[k][0] for k in usae_index],
                "activation_correlation": [by_usae[k][1] for k in usae_index],
                "top_cofiring": [k in cofiring for k in usae_index],
            }
        )
        write_csv(matched, pairs_file)
        i = names.index(name)
        gallery_pairs += [
            (name, pair) for pair in extreme_pairs(matched, tops[0].fires[i].numpy(), tops[1].fires[i].numpy())
        ]
        in_top = matched["top_cofiring"].to_numpy()
        matched_by_label[name], matched_by_label[f"random ({name})"] = cosine, random_cosine
        restricted_by_label[name] = cosine[in_top]
        restricted_by_label[f"random ({name})"] = random_cosine[in_top]
        for label, values, activation in [(name, cosine, corr), (f"random ({name})", random_cosine, None)]:
            rows.append(
                {
                    "model": label,
                    "share_cosine_above_0.5": float((values > 0.5).mean()),
                    "mean_cosine": float(values.mean()),
                    "auc": auc_above(values),
                    f"auc_top{top_cofiring}_cofiring": auc_above(values[in_top]),
                    "mean_activation_correlation": float(activation.mean()) if activation is not None else np.nan,
                }
            )
    summary = pd.DataFrame(rows)
    write_table(summary, table)
    matching_figure(
        matched_by_label, fig7, "Independent SAE vs USAE concepts, Hungarian matching by atom cosine (Fig. 7)", labels
    )
    matching_figure(restricted_by_label, fig16, restricted_title(len(cofiring), usae.n_concepts), labels)
    if manifest:
        matched_pairs_gallery(usae, saes, batches, manifest, tops, gallery_pairs, gallery_images, fig7b, labels)
    else:
        log.info("Fig. 7b (matched-pairs gallery) skipped: no images (dataset.source: activations)")
    return summary

"""The baseline stage: match each model's independent-SAE concepts to the USAE's (Figs. 7 and 16)."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from usae.checkpoint import load_trained
from usae.concepts import ConceptAccumulator
from usae.figures import concept_gallery, matching_figure, short
from usae.gallery import concept_rows
from usae.manifest import write_csv
from usae.matching import CodeCorrelation, auc_above, hungarian_match, match_dictionaries, random_like
from usae.report import write_table


@torch.no_grad()
def paired_statistics(usae, saes, batches, batch_images, top_images):
    """One pass over the evaluation tokens with both the USAE and the independent SAEs.

    Returns
    -------
    correlations : dict of str to numpy.ndarray
        Per model, the ``(m, m)`` correlation of USAE codes with independent-SAE codes on the same tokens.
    usae_top, independent_top : usae.concepts.ConceptAccumulator
        Top-activating images of every concept of each (each model encoding its own tokens).
    """
    names = usae.names
    correlations = {name: CodeCorrelation(usae.n_concepts, saes[name].n_concepts) for name in names}
    usae_top = ConceptAccumulator(names, usae.n_concepts, top_images=top_images)
    independent_top = ConceptAccumulator(names, usae.n_concepts, top_images=top_images)
    for first_image, batch in zip(range(0, batches.n_images, batch_images), batches.sequential(batch_images)):
        usae_codes = {name: usae.encode(name, batch[name])[1] for name in names}
        independent_codes = {name: saes[name].encode(batch[name])[1] for name in names}
        for name in names:
            correlations[name].update(usae_codes[name], independent_codes[name])
        usae_top.update(usae_codes, first_image, batches.tokens)
        independent_top.update(independent_codes, first_image, batches.tokens)
    return {name: c.correlation() for name, c in correlations.items()}, usae_top, independent_top


def extreme_pairs(pairs, usae_fires, independent_fires):
    """The highest- and the lowest-cosine matched pairs among concepts that fire in both SAEs."""
    alive = pairs[(usae_fires[pairs["usae_concept"]] > 0) & (independent_fires[pairs["independent_concept"]] > 0)]
    ranked = alive.sort_values("cosine")
    return [] if ranked.empty else [ranked.iloc[-1], ranked.iloc[0]]


def matched_pairs_gallery(usae, saes, batches, manifest_file, tops, chosen, n_images, png_path):
    """Top images of matched USAE / independent concepts side by side (one block per pair)."""
    usae_top, independent_top = tops
    grid = tuple(batches.stores[usae.names[0]].meta["grid"])
    panels = []
    for name, pair in chosen:
        i = usae.names.index(name)
        k, j = int(pair["usae_concept"]), int(pair["independent_concept"])
        usae_rows = concept_rows(usae.encode, [name], batches, manifest_file, usae_top.top_indices[i:i + 1].numpy(),
                                 k, n_images, grid)
        independent_rows = concept_rows(lambda model, x: saes[model].encode(x), [name], batches, manifest_file,
                                        independent_top.top_indices[i:i + 1].numpy(), j, n_images, grid)
        panels.append({"concept": k, "label": f"{short(name)}: USAE {k} / independent {j}, cos {pair['cosine']:.2f}",
                       "rows": {"USAE": usae_rows[name], "independent": independent_rows[name]}})
    concept_gallery(panels, ["USAE", "independent"], png_path,
                    "Matched pairs: USAE concept (top) and its independent-SAE twin (bottom), highest and lowest cosine")


def baseline_stage(config, dataset_name, usae_dir, independent_dir, concepts_csv, out_dir, figures_dir, tables_dir):
    """Match concepts per model by atoms and by activations; write pairs, a table and Figs. 7 and 16.

    Returns
    -------
    pandas.DataFrame
        The summary table (one row per model and per random baseline).
    """
    from usae.stages import evaluation_batches, manifest_path

    out_dir = Path(out_dir)
    usae, meta = load_trained(usae_dir)
    saes, _ = load_trained(independent_dir)
    names = usae.names
    batches = evaluation_batches(config, dataset_name, meta)
    correlations, *tops = paired_statistics(usae, saes, batches, config["metrics"]["batch_images"],
                                            config["figures"]["gallery_images"])
    top = config["baseline"]["top_cofiring"]
    cofiring = set(pd.read_csv(concepts_csv).sort_values("cofires", ascending=False)["concept"].head(top))
    rng = np.random.default_rng(config["seed"])
    rows, matched_by_label, restricted_by_label, gallery_pairs = [], {}, {}, []
    for name in names:
        usae_atoms = usae.saes[name].dictionary().detach().numpy()
        independent_atoms = saes[name].dictionary().detach().numpy()
        usae_index, independent_index, cosine = match_dictionaries(usae_atoms, independent_atoms, f"model {name}")
        _, random_index, random_cosine = match_dictionaries(usae_atoms, random_like(independent_atoms, rng))
        corr_usae, corr_independent, corr = hungarian_match(correlations[name])
        by_usae = dict(zip(corr_usae.tolist(), zip(corr_independent.tolist(), corr.tolist())))
        pairs = pd.DataFrame({"usae_concept": usae_index, "independent_concept": independent_index, "cosine": cosine,
                              "activation_match": [by_usae[k][0] for k in usae_index],
                              "activation_correlation": [by_usae[k][1] for k in usae_index],
                              "top_cofiring": [k in cofiring for k in usae_index]})
        write_csv(pairs, out_dir / f"pairs_{name}.csv")
        i = names.index(name)
        gallery_pairs += [(name, pair) for pair in extreme_pairs(pairs, tops[0].fires[i].numpy(), tops[1].fires[i].numpy())]
        in_top = pairs["top_cofiring"].to_numpy()
        matched_by_label[name], matched_by_label[f"random ({name})"] = cosine, random_cosine
        restricted_by_label[name] = cosine[in_top]
        restricted_by_label[f"random ({name})"] = random_cosine[in_top]
        for label, values, activation in [(name, cosine, corr), (f"random ({name})", random_cosine, None)]:
            rows.append({"model": label, "share_cosine_above_0.5": float((values > 0.5).mean()),
                         "mean_cosine": float(values.mean()), "auc": auc_above(values),
                         f"auc_top{top}_cofiring": auc_above(values[in_top]),
                         "mean_activation_correlation": float(activation.mean()) if activation is not None else np.nan})
    table = pd.DataFrame(rows)
    write_table(table, Path(tables_dir) / "baseline_matching")
    matching_figure(matched_by_label, Path(figures_dir) / "fig7_matching.png",
                    "Independent SAE vs USAE concepts, Hungarian matching by atom cosine (Fig. 7)")
    matching_figure(restricted_by_label, Path(figures_dir) / "fig16_matching_top_cofiring.png",
                    f"Matching restricted to the top {top} co-firing USAE concepts (Fig. 16)")
    matched_pairs_gallery(usae, saes, batches, manifest_path(config, dataset_name, "val"), tops, gallery_pairs,
                          config["figures"]["gallery_images"], Path(figures_dir) / "fig7b_matched_pairs.png")
    return table

"""The baseline stage: match each model's independent-SAE concepts to the USAE's (Figs. 7 and 16)."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from usae.batches import TokenBatches
from usae.checkpoint import load_trained
from usae.figures import matching_figure
from usae.manifest import write_csv
from usae.matching import CodeCorrelation, auc_above, hungarian_match, match_dictionaries, random_like
from usae.report import write_table
from usae.store import ActivationStore


@torch.no_grad()
def code_correlations(usae, saes, batches, batch_images):
    """Per model, the ``(m, m)`` correlation of USAE codes with independent-SAE codes on the same tokens."""
    accumulators = {name: CodeCorrelation(usae.n_concepts, saes[name].n_concepts) for name in usae.names}
    for batch in batches.sequential(batch_images):
        for name in usae.names:
            _, usae_codes = usae.encode(name, batch[name])
            _, independent_codes = saes[name].encode(batch[name])
            accumulators[name].update(usae_codes, independent_codes)
    return {name: accumulator.correlation() for name, accumulator in accumulators.items()}


def baseline_stage(config, dataset_name, usae_dir, independent_dir, concepts_csv, out_dir, figures_dir, tables_dir):
    """Match concepts per model by atoms and by activations; write pairs, a table and Figs. 7 and 16.

    Returns
    -------
    pandas.DataFrame
        The summary table (one row per model and per random baseline).
    """
    from usae.stages import store_path

    out_dir = Path(out_dir)
    usae, meta = load_trained(usae_dir)
    saes, _ = load_trained(independent_dir)
    names = usae.names
    stores = {name: ActivationStore(store_path(config, dataset_name, "val", name)) for name in names}
    batches = TokenBatches(stores, batch_images=1, stats={name: tuple(meta["stats"][name]) for name in names})
    correlations = code_correlations(usae, saes, batches, config["metrics"]["batch_images"])
    top = config["baseline"]["top_cofiring"]
    cofiring = set(pd.read_csv(concepts_csv).sort_values("cofires", ascending=False)["concept"].head(top))
    rng = np.random.default_rng(config["seed"])
    rows, matched_by_label, restricted_by_label = [], {}, {}
    for name in names:
        usae_atoms = usae.saes[name].dictionary().numpy()
        independent_atoms = saes[name].dictionary().numpy()
        usae_index, independent_index, cosine = match_dictionaries(usae_atoms, independent_atoms, f"model {name}")
        _, random_index, random_cosine = match_dictionaries(usae_atoms, random_like(independent_atoms, rng))
        corr_usae, corr_independent, corr = hungarian_match(correlations[name])
        by_usae = dict(zip(corr_usae.tolist(), zip(corr_independent.tolist(), corr.tolist())))
        pairs = pd.DataFrame({"usae_concept": usae_index, "independent_concept": independent_index, "cosine": cosine,
                              "activation_match": [by_usae[k][0] for k in usae_index],
                              "activation_correlation": [by_usae[k][1] for k in usae_index],
                              "top_cofiring": [k in cofiring for k in usae_index]})
        write_csv(pairs, out_dir / f"pairs_{name}.csv")
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
    return table

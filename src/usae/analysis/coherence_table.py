"""Label coherence as ``concepts.csv`` columns and as the summary the scorecard judges (``coherence.json``)."""

import numpy as np
import pandas as pd

from usae.analysis.coherence import agreement, agreement_test, chance_all_agree, coherence
from usae.analysis.kinds import UNIVERSAL, specific_model

COHERENCE_COLUMNS = ("label", "label_share", "label_enrichment", "label_p", "coherent")


def coherence_columns(result, names, m):
    """Per-concept columns: per model ``label_<name>``, ``label_share_<name>``, ``label_enrichment_<name>``,
    ``label_p_<name>``, ``coherent_<name>``; then ``label_agreement`` (models sharing the most common top label)
    and ``agreed_label``. Empty (NaN, "") where coherence was not run or a concept not tested."""
    columns = {}
    if result["problem"]:
        for name in names:
            columns.update({f"{column}_{name}": np.full(m, np.nan) for column in COHERENCE_COLUMNS})
            columns[f"label_{name}"] = np.full(m, "", dtype=object)
        return pd.DataFrame({**columns, "label_agreement": np.zeros(m, np.int64), "agreed_label": ""})
    vocabulary = np.array([*result["vocabulary"], ""], dtype=object)  # code -1 reads as ""
    for i, name in enumerate(names):
        columns[f"label_{name}"] = vocabulary[result["label"][i]]
        columns[f"label_share_{name}"] = result["share"][i]
        columns[f"label_enrichment_{name}"] = result["enrichment"][i]
        columns[f"label_p_{name}"] = result["p"][i]
        columns[f"coherent_{name}"] = result["coherent"][i]
    agreeing, agreed = agreement(result["label"], result["tested"])
    return pd.DataFrame({**columns, "label_agreement": agreeing, "agreed_label": vocabulary[agreed]})


def _kind_figures(result, mask_Mm):
    """Tested pairs, coherent share and mean top-label share over the (model, concept) pairs of ``mask_Mm``."""
    tested = mask_Mm & result["tested"]
    count = int(tested.sum())
    return {
        "tested": count,
        "coherent_share": float(result["coherent"][tested].mean()) if count else None,
        "label_share_mean": float(result["share"][tested].mean()) if count else None,
    }


def share_distribution(shares_K, n):
    """Top-label shares (multiples of ``1 / n``) as a distribution: entry k is the share of them equal to k / n
    (k = 0..n)."""
    counts = np.bincount(np.rint(np.asarray(shares_K) * n).astype(np.int64), minlength=n + 1)
    return (counts / max(len(shares_K), 1)).tolist()


def coherence_summary(result, names, kinds_m, labels_N, options):
    """What ``coherence.json`` holds: the settings, the labels, and per model, per kind and across models the
    figures the scorecard judges (docs/concept_evidence.md).

    Parameters
    ----------
    result : dict
        :func:`usae.analysis.coherence.coherence`.
    names : list of str
    kinds_m : numpy.ndarray
        :func:`usae.analysis.kinds.concept_kinds`.
    labels_N : sequence of str
        The images' labels.
    options : usae.options.MetricsOptions
    """
    labels, counts = np.unique(np.asarray(labels_N, dtype=str), return_counts=True)
    head = {
        "top_images": options.coherence_images,
        "permutations": options.permutations,
        "fdr": options.fdr,
        "images": len(labels_N),
        "labels": {str(label): int(count) for label, count in zip(labels, counts)},
    }
    if result["problem"]:
        return {"run": False, "reason": result["problem"], **head}
    n_models, m = result["tested"].shape
    universal = np.broadcast_to(kinds_m == UNIVERSAL, (n_models, m))
    own = specific_model(kinds_m, names)
    specific = own[None, :] == np.arange(n_models)[:, None]  # a specific concept, in its own model
    every = np.ones((n_models, m), dtype=bool)
    in_all = (kinds_m == UNIVERSAL) & result["tested"].all(0)
    agreeing, _ = agreement(result["label"], result["tested"])
    chance = chance_all_agree(result["null_label_probability"], n_models)
    share, p = agreement_test(agreeing[in_all] == n_models, chance)
    return {
        "run": True,
        "reason": None,
        **head,
        "null_label_share_mean": float(result["null_share"].mean()),
        "null_label_share_95": float(np.quantile(result["null_share"], 0.95)),
        "null_label_share_distribution": share_distribution(result["null_share"], options.coherence_images),
        "all": _kind_figures(result, every),
        "per_model": {
            name: _kind_figures(result, every & (np.arange(n_models) == i)[:, None]) for i, name in enumerate(names)
        },
        "universal": _kind_figures(result, universal),
        "specific": _kind_figures(result, specific),
        "agreement": {
            "concepts": int(in_all.sum()),
            "all_agree_share": share,
            "chance": chance,
            "p": p,
        },
    }


def coherence_table(summary, labels=None):
    """``coherence.json`` as a table: per group (all concepts, universal, specific, each model) the share of
    coherent (model, concept) pairs and the mean top-label share beside the null's, then the models' agreement on
    a universal concept's label beside its chance. One row saying why, where coherence was not run.

    Parameters
    ----------
    summary : dict
        :func:`coherence_summary`.
    labels : dict, optional
        Each model's display name.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``statistic``, ``pairs`` (tested pairs, or concepts for the agreement), ``value``,
        ``chance`` and ``p``.
    """
    columns = ["group", "statistic", "pairs", "value", "chance", "p"]
    if not summary["run"]:
        return pd.DataFrame([["all", f"not run ({summary['reason']})", 0, None, None, None]], columns=columns)
    groups = {"all": summary["all"], "universal": summary["universal"], "specific (own model)": summary["specific"]}
    groups.update({(labels or {}).get(name, name): figures for name, figures in summary["per_model"].items()})
    null = summary["null_label_share_mean"]
    rows = []
    for group, figures in groups.items():
        rows.append([group, f"coherent share (q <= {summary['fdr']:g})", figures["tested"], figures["coherent_share"]])
        rows.append([group, "mean top-label share", figures["tested"], figures["label_share_mean"], null])
    agreement = summary["agreement"]
    rows.append(
        [
            "universal",
            "all models agree on the top label",
            agreement["concepts"],
            agreement["all_agree_share"],
            agreement["chance"],
            agreement["p"],
        ]
    )
    return pd.DataFrame(rows, columns=columns)


def measure_coherence(top_arrays, labels_N, names, kinds_m, options, seed):
    """Coherence of one run on one split: ``(columns, summary)`` (:func:`coherence_columns`,
    :func:`coherence_summary`)."""
    n = options.coherence_images
    result = coherence(
        top_arrays["indices"], top_arrays["values"], labels_N, n, options.permutations, options.fdr, seed
    )
    return coherence_columns(result, names, len(kinds_m)), coherence_summary(result, names, kinds_m, labels_N, options)

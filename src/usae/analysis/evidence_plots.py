"""Figures of the concept evidence (beyond the paper): label coherence against its null, seed stability by kind."""

import numpy as np
import seaborn as sns

from usae.analysis.coherence_table import share_distribution
from usae.analysis.kinds import UNIVERSAL, specific_model
from usae.analysis.plots import label_of, message_figure, plt, save_figure

COHERENCE_TITLE = "Label coherence against its permutation null (beyond the paper)"
STABILITY_TITLE = "Seed stability by concept kind (beyond the paper)"
METHODS = ("atoms", "joint", "codes", "random")
KINDS = ("all", "universal", "specific")


def at_least(distribution_K):
    """A distribution over ``0, 1/n, ..., 1`` as the share at or above each of ``1/n, ..., 1`` (NaN where none
    is: a log scale has no 0)."""
    shares = np.asarray(distribution_K)[::-1].cumsum()[::-1][1:]
    return np.where(shares > 0, shares, np.nan)


def model_panels(names):
    """A figure of one panel per model, side by side, sharing the y axis: ``(figure, axes)``."""
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(
        1, len(names), figsize=(3.3 * len(names) + 0.6, 3.6), sharey=True, squeeze=False, layout="constrained"
    )
    return figure, axes[0]


def coherence_null_figure(frame, evidence, names, paths, labels=None):
    """Per model, the share of concepts whose top-label share reaches each value, for all tested concepts, the
    universal ones and the ones specific to that model, beside the same curve of the permutation null.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``concepts.csv`` with ``kind`` and the coherence columns (``label_share_<model>``; NaN: not tested).
    evidence : dict
        ``coherence.json`` (:func:`usae.analysis.coherence_table.coherence_summary`); not run: a figure that
        says why.
    names : list of str
    paths : list of path
        PNG and PDF.
    labels : dict, optional
        Each model's display name.
    """
    if not evidence["run"]:
        message_figure(paths, COHERENCE_TITLE, f"Label coherence not run: {evidence['reason']}.")
        return
    n = evidence["top_images"]
    shares = np.arange(1, n + 1) / n
    null = at_least(evidence["null_label_share_distribution"])
    kinds = frame["kind"].to_numpy(dtype=object)
    own = specific_model(kinds, names)
    figure, axes = model_panels(names)
    for i, (axis, name) in enumerate(zip(axes, names)):
        share = frame[f"label_share_{name}"].to_numpy(dtype=float)
        tested = np.isfinite(share)
        axis.plot(shares, null, color="black", linestyle="--", marker="o", markersize=3, label="permutation null")
        groups = {"all tested": tested, "universal": tested & (kinds == UNIVERSAL), "specific": tested & (own == i)}
        for (group, mask), color in zip(groups.items(), sns.color_palette("deep")):
            if mask.any():
                axis.plot(
                    shares,
                    at_least(share_distribution(share[mask], n)),
                    color=color,
                    marker="o",
                    markersize=3,
                    label=f"{group} ({mask.sum()})",
                )
        model = evidence["per_model"][name]
        found = "none tested" if not model["tested"] else f"{model['coherent_share']:.0%} of {model['tested']} coherent"
        axis.set(title=f"{label_of(name, labels)}\n{found}", xlabel=f"top-label share of its top {n} images")
        axis.set(yscale="log", ylim=(0.5 / max(tested.sum(), 1), 1.5), xlim=(0.5 / n, 1 + 0.5 / n))
        axis.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("share of concepts at or above")
    figure.suptitle(f"{COHERENCE_TITLE}\nq <= {evidence['fdr']:g} (Benjamini-Hochberg) is coherent")
    save_figure(figure, paths)


def stability_figure(table, names, paths, labels=None):
    """Per model, the mean matched similarity of every matching (atoms, joint, codes, random) by concept kind, as
    bars over the pairs of runs (mean, and sd with three runs or more).

    Parameters
    ----------
    table : pandas.DataFrame
        The stability stage's pairs table (:func:`usae.analysis.stability.pair_rows` of every pair).
    names : list of str
    paths : list of path
        PNG and PDF.
    labels : dict, optional
        Each model's display name.
    """
    figure, axes = model_panels(names)
    for axis, name in zip(axes, names):
        rows = table[table["model"] == name].dropna(subset=["mean"])
        sns.barplot(rows, x="method", y="mean", hue="kind", order=METHODS, hue_order=KINDS, errorbar="sd", ax=axis)
        axis.set(title=label_of(name, labels), xlabel="", ylabel="mean matched similarity", ylim=(0, 1))
        axis.legend(fontsize=7, title=None, loc="upper right")
    pairs = table["pair"].nunique()
    figure.suptitle(
        f"{STABILITY_TITLE}, {pairs} pair{'s' if pairs != 1 else ''} of runs\n"
        "atoms, joint, random: cosine of matched atoms; codes: correlation of matched codes"
    )
    save_figure(figure, paths)

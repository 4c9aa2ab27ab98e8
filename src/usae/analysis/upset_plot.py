"""The firing-set figure: concepts counted by the set of models they fire in, drawn as an UpSet plot."""

import numpy as np

from usae.analysis.plots import label_of, message_figure, plt, save_figure, sns

TITLE = "Concepts by the set of models they fire in"


def firing_sets_figure(sets, names, paths, labels=None, families=None, shown=20, min_cofiring=None):
    """Bars of concepts per set (most first, at most ``shown``), over a matrix of the models in each set.

    Parameters
    ----------
    sets : pandas.DataFrame
        :func:`usae.analysis.firing_sets.firing_sets`.
    names : list of str
        The models, in the matrix's row order (:func:`usae.analysis.firing_sets.ordered_by_family`).
    paths : list of path
        PNG and PDF.
    labels, families : dict, optional
        Each model's display name and family (row labels read "name (family)").
    shown : int
        Sets drawn; the title says how many there are.
    min_cofiring : float, optional
        The rule the sets were counted by (``metrics.set_cofiring``), said under the title.
    """
    if sets.empty:
        message_figure(paths, TITLE, "No concept fires in any model on this evaluation.")
        return
    drawn = sets.head(shown)
    sns.set_theme(style="whitegrid", context="paper")
    figure, (bars, matrix) = plt.subplots(
        2,
        1,
        figsize=(max(4.5, 0.42 * len(drawn) + 2.8), 3.2 + 0.3 * len(names)),
        sharex=True,
        height_ratios=[2.2, 0.3 * len(names) + 0.4],
        layout="constrained",
    )
    x = np.arange(len(drawn))
    bars.bar(x, drawn["concepts"], color="C0")
    for position, count in zip(x, drawn["concepts"]):
        bars.annotate(str(count), (position, count), ha="center", va="bottom", fontsize=7)
    bars.set(ylabel="concepts", ylim=(0, drawn["concepts"].max() * 1.15))
    of = f" (the {len(drawn)} largest of {len(sets)} sets)" if len(sets) > len(drawn) else ""
    rule = (
        f"\na model counts when its firings have cosine \u2265 {min_cofiring:g} with the most-firing model's"
        if min_cofiring is not None
        else ""
    )
    bars.set_title(TITLE + of + rule)
    rows = {name: row for row, name in enumerate(names)}
    for column, models in enumerate(drawn["models"]):
        members = sorted(rows[name] for name in models)
        matrix.scatter([column] * len(names), range(len(names)), s=36, color="lightgray", zorder=1)
        matrix.scatter([column] * len(members), members, s=36, color="black", zorder=3)
        if len(members) > 1:
            matrix.plot([column, column], [members[0], members[-1]], color="black", linewidth=1.5, zorder=2)
    family = families or {}
    matrix.set_yticks(
        range(len(names)),
        [label_of(name, labels) + (f" ({family[name]})" if name in family else "") for name in names],
    )
    matrix.set(ylim=(len(names) - 0.5, -0.5), xticks=[], xlim=(-0.6, len(drawn) - 0.4))
    matrix.grid(False)
    save_figure(figure, paths)

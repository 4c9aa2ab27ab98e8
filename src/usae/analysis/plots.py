"""Figures (seaborn/matplotlib), each a function from data to PNG + PDF files."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from usae.io import atomic_path  # noqa: E402

# Byte-reproducible files: no creation date in PDFs (PNGs carry none; both name the matplotlib version).
METADATA = {"png": {}, "pdf": {"CreationDate": None}}


def save_figure(figure, paths):
    """Write ``figure`` to each of ``paths`` in the format of its suffix (``.png``, ``.pdf``), atomically; close it.

    The same figure gives the same bytes on every save with the same matplotlib.
    """
    for path in paths:
        kind = str(path).rsplit(".", 1)[-1]
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=kind, dpi=150, bbox_inches="tight", metadata=METADATA[kind])
    plt.close(figure)


def training_curves(log, paths, title, window=20, labels=None):
    """Loss, R2 of every encoder->decoder pair, L0, dead share and learning rate against the step.

    Parameters
    ----------
    log : pandas.DataFrame
        A training ``log.csv``.
    paths : list of path
        PNG and PDF files to write.
    title : str
    window : int
        Rolling-mean window (steps) for the noisy per-step series.
    labels : dict, optional
        Each model's name in the legends (:func:`label_of`); the log's columns name the models.
    """
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(1, 4, figsize=(17, 4.6), layout="constrained")
    axes[0].plot(log["step"], log["loss"].rolling(window, min_periods=1).mean())
    axes[0].set(title="loss (sum over decoders)", xlabel="step")
    r2_columns = [c for c in log.columns if c.startswith("r2_")]
    for column in r2_columns:
        series = log[["step", column]].dropna()
        axes[1].plot(
            series["step"],
            series[column].rolling(max(window // 3, 1), min_periods=1).mean(),
            label=" \u2192 ".join(label_of(name, labels) for name in column[3:].split("->")),
        )
    axes[1].set(title="R\u00b2 (encoder \u2192 decoder)", xlabel="step")
    # Legends below their panels, outside the data: one entry per encoder -> decoder pair.
    axes[1].legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    for prefix, axis, label in [
        ("l0", axes[2], "L0 (active concepts per token)"),
        ("dead", axes[3], "not fired this epoch"),
    ]:
        columns = [c for c in log.columns if c == prefix or c.startswith(prefix + "_")]
        for column in columns:
            axis.plot(
                log["step"],
                log[column],
                label=prefix if column == prefix else f"{prefix} {label_of(column[len(prefix) + 1 :], labels)}",
            )
        top = float(log[columns].max().max()) if columns else 1.0
        axis.set(title=label, xlabel="step", ylim=(0, max(top * 1.1, 1e-6)))  # from 0: a flat L0 of k reads as flat
    twin = axes[3].twinx()
    twin.plot(log["step"], log["lr"], color="gray", linestyle=":", label="lr")
    twin.set_ylabel("learning rate")
    handles = [handle for axis in (axes[3], twin) for handle in axis.get_legend_handles_labels()[0]]
    axes[3].legend(handles=handles, fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False, ncol=2)
    figure.suptitle(title)
    save_figure(figure, paths)


def training_curves_file(log_csv, paths, title, labels=None):
    """:func:`training_curves` from a ``log.csv`` path."""
    training_curves(pd.read_csv(log_csv), paths, title, labels=labels)


def label_of(name, labels=None):
    """A model's name in figures: ``labels[name]`` (:func:`usae.models.registry.display_names`), else ``name``."""
    return (labels or {}).get(name, name)


def r2_heatmap(r2_MM, names, paths, title="Cross-reconstruction R\u00b2 (Fig. 5)", labels=None):
    """Fig. 5: R2 matrix, rows = encoder, columns = decoder, values written in the cells.

    The colour scale runs from 0 to 1 (viridis) while every value is positive, and turns diverging,
    centred on 0 (blue below, red above), as soon as one is negative, so that a negative R2 stands out.
    """
    import numpy as np

    sns.set_theme(style="white", context="paper")
    r2_MM = np.asarray(r2_MM, dtype=float)
    figure, axis = plt.subplots(figsize=(1.3 * len(names) + 2.6, 1.1 * len(names) + 1.6), layout="constrained")
    shown = [label_of(n, labels) for n in names]
    scale = (
        {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
        if r2_MM.min() >= 0
        else {"cmap": "vlag", "center": 0.0, "vmin": -max(1.0, -r2_MM.min()), "vmax": 1.0}
    )
    sns.heatmap(
        pd.DataFrame(r2_MM, index=shown, columns=shown),
        annot=True,
        fmt=".2f",
        square=True,
        ax=axis,
        cbar_kws={"label": "R\u00b2"},
        **scale,
    )
    axis.set(xlabel="decoder (target model)", ylabel="encoder (source model)", title=title)
    axis.tick_params(axis="x", labelrotation=30)
    for tick in axis.get_xticklabels():
        tick.set_horizontalalignment("right")
    axis.tick_params(axis="y", labelrotation=0)
    save_figure(figure, paths)


def entropy_histogram(entropy, paths, n_models, title="Firing entropy (Fig. 6a)"):
    """Fig. 6a: the 20-bin histogram of firing entropy over concepts that fire, as the scorecard judges it.

    Dashed lines mark the entropy of a concept shared equally by k of the M models (log k / log M,
    2 <= k < M); triangles mark the modes found by :func:`usae.analysis.entropy_modes.histogram_modes`.
    """
    from usae.analysis.entropy_modes import BINS, histogram_modes, shared_by_k_positions

    if len(entropy) == 0:
        message_figure(paths, title, "No concept fires on this evaluation, so no concept has a firing entropy.")
        return
    sns.set_theme(style="whitegrid", context="paper")
    figure, axis = plt.subplots(figsize=(5, 3.4), layout="constrained")
    sns.histplot(entropy, bins=BINS, binrange=(0, 1), ax=axis)
    for k, position in enumerate(shared_by_k_positions(n_models), start=2):
        label = f"shared equally by k of {n_models} models" if k == 2 else None
        axis.axvline(position, color="gray", linestyle="--", linewidth=0.8, label=label)
        axis.annotate(
            f"{k}",
            (position, 1),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="bottom",
            fontsize=7,
            color="gray",
        )
    modes = histogram_modes(entropy)
    if modes:
        axis.plot(
            [mode.centre for mode in modes],
            [mode.height for mode in modes],
            "v",
            color="C3",
            label="modes (prominence criterion)",
        )
    axis.set(xlabel="firing entropy", ylabel="concepts", xlim=(0, 1))
    axis.set_title(title, pad=11)  # room for the k labels above the axes
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7, loc="upper left")
    save_figure(figure, paths)


def cofire_proportion_curves(
    frame, names, paths, top=1000, title="Co-fire proportion, top concepts by energy (Fig. 6b)", labels=None
):
    """Fig. 6b: co-fire proportion of the top concepts by energy, per model, in energy order, with means."""
    sns.set_theme(style="whitegrid", context="paper")
    ranked = frame.sort_values("energy_total", ascending=False).head(top).reset_index(drop=True)
    figure, axis = plt.subplots(figsize=(6, 3.6))
    for name in names:
        values = ranked[f"cofire_proportion_{name}"]
        axis.plot(
            ranked.index,
            values.rolling(max(len(values) // 50, 1), min_periods=1).mean(),
            label=f"{label_of(name, labels)} (mean {values.mean():.3f})",
        )
    axis.set(xlabel="concept rank by energy", ylabel="co-fire proportion", title=title, ylim=(0, 1))
    axis.legend()
    save_figure(figure, paths)


def cofire_energy_scatter(frame, fits, min_cofires, paths, title="Co-firing vs energy (Fig. 6c)"):
    """Fig. 6c: log-log co-fire count against energy, with fits over all and over frequent concepts."""
    import numpy as np

    shown = frame[(frame["cofires"] > 0) & (frame["energy_total"] > 0)]
    if shown.empty:
        message_figure(paths, title, "No concept co-fires in two or more models on this evaluation.")
        return
    sns.set_theme(style="whitegrid", context="paper")
    figure, axis = plt.subplots(figsize=(5, 4), layout="constrained")
    axis.scatter(shown["cofires"], shown["energy_total"], s=4, alpha=0.5)
    for (label, fit, subset), color in zip(
        [
            ("all", fits["all"], shown),
            (f"co-fires \u2265 {min_cofires:.0f}", fits["frequent"], shown[shown["cofires"] >= min_cofires]),
        ],
        ["C1", "C2"],
    ):
        if len(subset) >= 3 and np.isfinite(fit["r"]):
            lx, ly = np.log10(subset["cofires"]), np.log10(subset["energy_total"])
            slope, intercept = np.polyfit(lx, ly, 1)
            xs = np.linspace(lx.min(), lx.max(), 20)
            axis.plot(
                10**xs,
                10 ** (slope * xs + intercept),
                color=color,
                label=f"{label}: r = {fit['r']:.2f}, slope {slope:.2f}",
            )
        else:  # a correlation over fewer than 3 points, or of constant values, is undefined: say so
            axis.plot([], [], color=color, label=f"{label}: r undefined ({len(subset)} concepts)")
    axis.set(xscale="log", yscale="log", xlabel="co-fire count", ylabel="energy (summed over models)", title=title)
    axis.legend(fontsize=7)
    save_figure(figure, paths)


def message_figure(paths, title, message):
    """A figure that says in words why it has nothing to show (an empty gallery, too few concepts, ...)."""
    figure, axis = plt.subplots(figsize=(6, 1.6))
    axis.axis("off")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=9)
    figure.suptitle(title)
    save_figure(figure, paths)


def concept_gallery(panels, names, paths, title, empty="no concept was chosen", labels=None):
    """Top-activating images of concepts with each model's heatmap over its token grid.

    Parameters
    ----------
    panels : list of dict
        One per concept: ``{"concept": k, "label": str, "rows": {model: [(image HxWx3 uint8, heat HxW), ...]}}``.
    names : list of str
        Models: one row per model within each concept's block.
    empty : str
        What the figure says when there is no image to show (no panel, or panels without top images).
    labels : dict, optional
        Display names of the rows' models.
    """
    import numpy as np
    from matplotlib.cm import ScalarMappable

    columns = max((len(items) for panel in panels for items in panel["rows"].values()), default=0)
    if columns == 0:
        message_figure(paths, title, empty)
        return
    n_rows = len(panels) * len(names)
    figure, axes = plt.subplots(
        n_rows, columns, figsize=(1.6 * columns + 3.2, 1.6 * n_rows + 0.8), squeeze=False, layout="constrained"
    )
    for p, panel in enumerate(panels):
        for m, name in enumerate(names):
            row = p * len(names) + m
            for c in range(columns):
                axis = axes[row, c]
                axis.set_xticks([])
                axis.set_yticks([])
                items = panel["rows"][name]
                if c < len(items):
                    image, heat = items[c]
                    axis.imshow(image)
                    axis.imshow(
                        heat,
                        cmap="inferno",
                        alpha=0.55,
                        extent=(0, image.shape[1], image.shape[0], 0),
                        vmin=0,
                        vmax=max(float(np.max(heat)), 1e-6),
                        interpolation="bilinear",
                    )
                elif c == 0 and not items:  # keep the axis: it carries the row's label
                    for spine in axis.spines.values():
                        spine.set_visible(False)
                    axis.text(
                        0.5,
                        0.5,
                        "never fires\nin this model",
                        ha="center",
                        va="center",
                        fontsize=7,
                        transform=axis.transAxes,
                    )
                else:
                    axis.axis("off")
            axes[row, 0].set_ylabel(
                f"{panel['label']}\n{label_of(name, labels)}", fontsize=7, rotation=0, ha="right", va="center"
            )
    figure.colorbar(
        ScalarMappable(cmap="inferno"),
        ax=axes,
        shrink=min(1.0, 3 / n_rows),
        aspect=30,
        label="concept code (0 to the image's maximum)",
    )
    figure.suptitle(title)
    save_figure(figure, paths)


def matching_figure(matched_by_label, paths, title, labels=None):
    """Fig. 7 / 16: matched-cosine distributions (left) and share of pairs above each threshold (right).

    Parameters
    ----------
    matched_by_label : dict of str to numpy.ndarray
        Matched cosines per model; labels starting with "random" are drawn dashed.
    labels : dict, optional
        Display names of the models.
    """
    import numpy as np

    from usae.analysis.matching import auc_above, fraction_above

    sns.set_theme(style="whitegrid", context="paper")
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    thresholds = np.linspace(0, 1, 101)
    models = [label for label in matched_by_label if not label.startswith("random")]
    for label, values in matched_by_label.items():
        dashed = label.startswith("random")
        owner = label[len("random (") : -1] if dashed else label
        color = f"C{models.index(owner) if owner in models else len(models)}"
        shown = f"random ({label_of(owner, labels)})" if dashed else label_of(label, labels)
        sns.kdeplot(
            values,
            ax=left,
            label=shown,
            color=color,
            linestyle="--" if dashed else "-",
            clip=(-1, 1),
            warn_singular=False,
        )
        right.plot(
            thresholds,
            fraction_above(values, thresholds),
            color=color,
            linestyle="--" if dashed else "-",
            label=f"{shown} (AUC {auc_above(values):.2f})",
        )
    lowest = min((float(np.min(values)) for values in matched_by_label.values() if len(values)), default=0.0)
    left.set(xlabel="cosine similarity of matched atoms", ylabel="density", xlim=(min(0.0, lowest), 1))
    right.set(xlabel="cosine threshold", ylabel="share of concepts above", ylim=(0, 1))
    right.legend(fontsize=7)
    left.legend(fontsize=7)
    figure.suptitle(title)
    save_figure(figure, paths)


def actmax_figure(images, table, concepts, names, paths, labels=None):
    """Fig. 8: rows = concepts, columns = models; each image titled with its achieved activation.

    Parameters
    ----------
    images : dict of (int, str) to torch.Tensor
        ``(concept, model) -> (1, 3, H, W)`` image in [0, 1].
    table : pandas.DataFrame
        Cross-activation table (columns ``concept``, ``optimised_for`` and one per model).
    concepts : list of (int, str)
    labels : dict, optional
        Display names of the models.
    """
    if not concepts:
        message_figure(
            paths,
            "Coordinated activation maximisation (Fig. 8)",
            "No concept was chosen: this run has no universal concept with enough co-fires and no model-specific\n"
            "one. List concepts under actmax.concepts to render them.",
        )
        return
    figure, axes = plt.subplots(
        len(concepts),
        len(names),
        figsize=(2.3 * len(names) + 2.2, 2.4 * len(concepts) + 0.6),
        squeeze=False,
        layout="constrained",
    )
    for r, (concept, label) in enumerate(concepts):
        for c, name in enumerate(names):
            axis = axes[r, c]
            axis.imshow(images[(concept, name)][0].permute(1, 2, 0).clamp(0, 1).numpy())
            axis.set_xticks([])
            axis.set_yticks([])
            row = table[(table["concept"] == concept) & (table["optimised_for"] == name)].iloc[0]
            axis.set_title(f"{label_of(name, labels)}: {row[name]:.2f}", fontsize=8)
        axes[r, 0].set_ylabel(label.replace(" (", "\n("), fontsize=8)
    figure.suptitle("Coordinated activation maximisation (Fig. 8):\nmean concept code per model", fontsize=10)
    save_figure(figure, paths)


def sweep_figure(frame, keys, metrics, paths, title):
    """A sweep's metrics against each swept key: one row of panels per key, one panel per metric.

    Each panel shows every point (dots) and, where other keys vary too, the mean over them (line).
    """
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(
        len(keys), len(metrics), figsize=(2.3 * len(metrics), 2.1 * len(keys)), squeeze=False, constrained_layout=True
    )
    for row, key in zip(axes, keys):
        order = list(dict.fromkeys(frame[key].tolist()))
        position = frame[key].map({value: index for index, value in enumerate(order)})
        for axis, metric in zip(row, metrics):
            axis.scatter(position, frame[metric], s=14, color="tab:blue", alpha=0.6)
            means = frame.groupby(position)[metric].mean()
            axis.plot(means.index, means.to_numpy(), color="tab:blue")
            axis.set_xticks(range(len(order)), [str(value) for value in order])
            axis.set(xlabel=key, title=metric.replace("_", " "))
    figure.suptitle(title)
    save_figure(figure, paths)

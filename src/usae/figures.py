"""Figures (seaborn/matplotlib), each a function from data to PNG + PDF files."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from usae.io import atomic_path  # noqa: E402


def save_figure(figure, png_path):
    """Write ``figure`` as PNG at ``png_path`` and as PDF beside it, atomically; close it."""
    for path, kind in [(png_path, "png"), (str(png_path)[: -len(".png")] + ".pdf", "pdf")]:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=kind, dpi=150, bbox_inches="tight")
    plt.close(figure)


def training_curves(log, png_path, title, window=20):
    """Loss, R2 of every encoder->decoder pair, L0, dead share and learning rate against the step.

    Parameters
    ----------
    log : pandas.DataFrame
        A training ``log.csv``.
    png_path : path
    title : str
    window : int
        Rolling-mean window (steps) for the noisy per-step series.
    """
    sns.set_theme(style="whitegrid", context="paper")
    figure, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    axes[0].plot(log["step"], log["loss"].rolling(window, min_periods=1).mean())
    axes[0].set(title="loss (sum over decoders)", xlabel="step")
    r2_columns = [c for c in log.columns if c.startswith("r2_")]
    for column in r2_columns:
        series = log[["step", column]].dropna()
        axes[1].plot(series["step"], series[column].rolling(max(window // 3, 1), min_periods=1).mean(),
                     label=column[3:].replace("->", " \u2192 "))
    axes[1].set(title="R\u00b2 (encoder \u2192 decoder)", xlabel="step")
    axes[1].legend(fontsize=6, ncol=1 if len(r2_columns) < 5 else 2)
    for prefix, axis, label in [("l0", axes[2], "L0 (active concepts per token)"), ("dead", axes[3], "not fired this epoch")]:
        for column in [c for c in log.columns if c == prefix or c.startswith(prefix + "_")]:
            axis.plot(log["step"], log[column], label=column)
        axis.set(title=label, xlabel="step")
    twin = axes[3].twinx()
    twin.plot(log["step"], log["lr"], color="gray", linestyle=":", label="lr")
    twin.set_ylabel("learning rate")
    axes[3].legend(fontsize=6)
    figure.suptitle(title)
    save_figure(figure, png_path)


def training_curves_file(log_csv, png_path, title):
    """:func:`training_curves` from a ``log.csv`` path."""
    training_curves(pd.read_csv(log_csv), png_path, title)

"""The headline numbers a run is compared by (``dvc exp show``), and a sweep's summary: one row of them per point."""

import numpy as np
import pandas as pd

# The headline metrics, in the order of the sweep table and the sweep figure's panels.
HEADLINE_METRICS = (
    "usae_self_r2",
    "usae_cross_r2",
    "dead_share",
    "entropy_above_0.9_share",
    "top_cofire_proportion",
    "fig7_matched_share",
)


def headline_metrics(matrices, summary, baseline=None):
    """A run's headline numbers (:data:`HEADLINE_METRICS`): the USAE's self and cross R2 (means over models
    and pairs), dead share, share of firing concepts with entropy > 0.9, mean co-fire proportion of the top
    concepts (mean over models) and Fig. 7's matched share (mean over models; None without a baseline).

    Parameters
    ----------
    matrices, summary : dict
        The run's ``matrices.json`` and ``summary.json`` (of the experiment's dataset).
    baseline : pandas.DataFrame, optional
        The baseline matching table.
    """
    r2 = np.array(matrices["r2"], dtype=float)
    off = r2[~np.eye(len(r2), dtype=bool)]
    models = None if baseline is None else baseline[~baseline["model"].str.startswith("random (")]
    return {
        "usae_self_r2": float(r2.diagonal().mean()),
        "usae_cross_r2": float(off.mean()) if off.size else np.nan,
        "dead_share": summary["dead_share"],
        "entropy_above_0.9_share": summary["entropy_above_0.9_share"],
        "top_cofire_proportion": float(np.mean(list(summary["top_cofire_proportion_mean"].values()))),
        "fig7_matched_share": None if models is None else float(models["share_cosine_above_0.5"].mean()),
    }


def point_row(values, matrices, summary, baseline, scorecard):
    """One point's row: its swept values, its :func:`headline_metrics` and the claims it holds.

    Parameters
    ----------
    values : dict
        The point's train values.
    matrices, summary, scorecard : dict
        The point's ``matrices.json``, ``summary.json`` and ``scorecard.json``.
    baseline : pandas.DataFrame
        The point's baseline matching table.
    """
    judged = scorecard["claims_holding"] + scorecard["claims_not_holding"]
    held = [claim["id"] for claim in scorecard["claims"] if claim["holds"] == "yes"]
    return {
        **values,
        **headline_metrics(matrices, summary, baseline),
        "claims_holding": f"{len(held)}/{judged}",
        "claims_held": " ".join(held),
    }


def sweep_frame(points, rows):
    """The summary table: a ``point`` column (the point's folder name) and :func:`point_row` of each point."""
    return pd.DataFrame([{"point": point, **row} for point, row in zip(points, rows)])

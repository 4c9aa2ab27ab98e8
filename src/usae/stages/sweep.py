"""Stage sweep: one sweep's summary table and figure, from the metrics, baseline and scorecard of its points."""

import pandas as pd

from usae.analysis.plots import sweep_figure
from usae.analysis.scorecard import json_records
from usae.analysis.sweep_summary import HEADLINE_METRICS, point_row, sweep_frame
from usae.io import read_json, write_json, write_table


def sweep(summaries, matrices, scorecards, baselines, table, metrics, figure, *, name, points):
    """Write the summary of sweep ``name`` (a row per point) and its figure; return the table.

    Parameters
    ----------
    summaries, matrices, scorecards, baselines : list of path
        Each point's ``summary.json``, ``matrices.json``, ``scorecard.json`` and baseline matching table,
        in the order of ``points``.
    table : list of path
        CSV and Markdown of the summary.
    metrics : path
        The summary as JSON by point (``dvc metrics show``).
    figure : list of path
        PNG and PDF of the main metrics against each swept key.
    name : str
    points : dict of str to dict
        Each point's folder name and its train values, in the grid's order.
    """
    if not len(summaries) == len(matrices) == len(scorecards) == len(baselines) == len(points):
        raise ValueError(f"sweep {name}: one summary, matrices, scorecard and baseline table per point")
    rows = [
        point_row(values, read_json(m), read_json(s), pd.read_csv(b), read_json(c))
        for values, m, s, b, c in zip(points.values(), matrices, summaries, baselines, scorecards)
    ]
    frame = sweep_frame(list(points), rows)
    write_table(frame, table)
    write_json(metrics, {row.pop("point"): row for row in json_records(frame)})
    keys = list(next(iter(points.values())))
    sweep_figure(frame, keys, HEADLINE_METRICS, figure, f"sweep {name}: {len(points)} points")
    return frame

"""Stage replicates: the scorecard over an experiment's replicate runs (``train.replicates`` of 2 or more)."""

from usae.analysis.replicate_scorecard import (
    replicate_counts,
    replicate_scorecard,
    replicate_scorecard_markdown,
    with_stability,
)
from usae.analysis.scorecard import json_records
from usae.io import read_json, write_json, write_table, write_text


def replicates(scorecards, stability, table, scorecard_md, scorecard_json, *, runs, seeds, experiment):
    """Write each claim's spread over the runs and in how many it holds; return the table.

    Parameters
    ----------
    scorecards : list of path
        Each run's ``scorecard.json`` (written by its tables job), in the order of ``runs``.
    stability : path
        The stability stage's ``stability.json``: the seed-stability claims, judged over the pairs of runs.
    table : list of path
        CSV and Markdown of every claim's per-run values, mean, sd, range and verdict count.
    scorecard_md, scorecard_json : path
        The experiment's scorecard over the runs, as Markdown and as JSON (counts for ``dvc metrics``,
        then every claim with its per-run values).
    runs : list of str
    seeds : list of int
        Each run's training seed.
    experiment : str
        The experiment's dataset.
    """
    if len(scorecards) != len(runs):
        raise ValueError(f"{', '.join(map(str, scorecards))}: one scorecard per run of {runs}")
    frame = replicate_scorecard({run: read_json(path)["claims"] for run, path in zip(runs, scorecards)})
    frame = with_stability(frame, read_json(stability), runs)
    write_table(frame, table)
    write_text(scorecard_md, replicate_scorecard_markdown(frame, experiment, runs, seeds))
    write_json(
        scorecard_json,
        {
            **replicate_counts(frame),
            "experiment": experiment,
            "runs": runs,
            "seeds": seeds,
            "claims": json_records(frame),
        },
    )
    return frame

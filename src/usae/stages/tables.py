"""Stage tables: Table 1, the universality table, the concept tables and the scorecard beside the paper."""

import pandas as pd

from usae.analysis.coherence_table import coherence_table as label_coherence_table
from usae.analysis.firing_sets import firing_set_table, ordered_by_family
from usae.analysis.firing_sets import firing_sets as firing_sets_of
from usae.analysis.report import reconstruction_table, universality_table
from usae.analysis.scorecard import displayed, json_records, scorecard, scorecard_counts, scorecard_markdown
from usae.analysis.sweep_summary import headline_metrics
from usae.io import read_json, write_csv, write_json, write_table, write_text


def tables(
    matrices,
    summaries,
    concepts,
    reconstruction,
    universality,
    concepts_all,
    concepts_top25,
    scorecard_md,
    scorecard_json,
    headline,
    coherence_table=(),
    firing_sets=(),
    *,
    datasets,
    experiment,
    baseline=(),
    coherence=None,
    replicated=False,
    labels=None,
    families=None,
    set_cofiring=0.5,
):
    """Write every table and the scorecard from the metrics of each evaluated dataset.

    Parameters
    ----------
    matrices, summaries : list of path
        ``matrices.json`` and ``summary.json`` of each evaluated dataset, in the order of ``datasets``.
    concepts : path
        The experiment's ``concepts.csv``.
    reconstruction, universality : list of path
        CSV and Markdown of Table 1 (R2 and MSE per model and dataset) and of the universality figures.
    concepts_all : path
        CSV of every concept's statistics (the experiment's dataset).
    concepts_top25 : path
        Markdown of the 25 concepts of highest energy.
    scorecard_md, scorecard_json : path
        The scorecard as Markdown, and as JSON its counts (``dvc metrics``), the experiment's summary and
        every claim with its value (what the scorecard over replicates reads).
    headline : path
        JSON of the run's headline numbers (:func:`usae.analysis.sweep_summary.headline_metrics`) and the
        scorecard's counts: the few columns of ``dvc exp show``.
    coherence_table : sequence of path
        CSV and Markdown of label coherence (:func:`usae.analysis.coherence_table.coherence_table`), written
        with ``coherence``.
    firing_sets : sequence of path
        CSV and Markdown of the concepts counted by the set of models they fire in
        (:func:`usae.analysis.firing_sets.firing_set_table`).
    datasets : list of str
        Evaluated datasets, the experiment's first.
    experiment : str
        The experiment's dataset.
    baseline : sequence of path
        The baseline's matching table (CSV), when the baseline ran: the scorecard's Fig. 7 lines.
    coherence : path, optional
        The experiment's ``coherence.json``: the label-coherence lines (beyond the paper).
    replicated : bool
        ``train.replicates`` is 2 or more (the seed-stability lines say where they are judged; its count is not
        a param, so that one more replicate leaves the runs' tables as they are).
    labels : dict, optional
        Each model's display name, which the scorecard's texts use (:func:`usae.jobs.model_labels`).
    families : dict, optional
        Each model's family (:func:`usae.jobs.families`): the firing sets' order and the families they cover.
    set_cofiring : float
        The firing sets' co-firing level (``metrics.set_cofiring``, :func:`usae.analysis.firing_sets.firing_sets`).
    """
    if not len(matrices) == len(summaries) == len(datasets):
        raise ValueError(f"{', '.join(matrices)}: one matrices.json and summary.json per dataset of {datasets}")
    matrices_by = {name: read_json(path) for name, path in zip(datasets, matrices)}
    summaries_by = {name: read_json(path) for name, path in zip(datasets, summaries)}
    table1 = reconstruction_table(matrices_by)
    write_table(table1, reconstruction)
    write_table(universality_table(summaries_by), universality)
    frame = pd.read_csv(concepts)
    write_csv(frame, concepts_all)
    if firing_sets:
        names = read_json(matrices[0])["models"]
        ordered = ordered_by_family(names, families)
        sets = firing_sets_of(frame, ordered, set_cofiring)
        write_table(firing_set_table(sets, labels, families), firing_sets)
    top = frame.sort_values("energy_total", ascending=False).head(25)
    write_text(concepts_top25, top.to_markdown(index=False, floatfmt=".3f") + "\n")
    matching = pd.read_csv(baseline[0]) if baseline else None
    evidence = read_json(coherence) if coherence else None
    if evidence is not None:
        write_table(label_coherence_table(evidence, labels), coherence_table)
    card = scorecard(matrices_by[experiment], summaries_by[experiment], frame, table1, matching, evidence, replicated)
    card = displayed(card, labels or {})
    summary = summaries_by[experiment]
    names = summary["models"]
    shown = [(labels or {}).get(name, name) for name in names]
    write_text(scorecard_md, scorecard_markdown(card, experiment, shown, summary["tokens"]))
    r2 = {encoder: dict(zip(names, row)) for encoder, row in zip(names, matrices_by[experiment]["r2"])}
    write_json(
        scorecard_json,
        {
            **scorecard_counts(card),
            "experiment": experiment,
            "summary": summary,
            "r2": r2,
            "claims": json_records(card),
        },
    )
    write_json(headline, {**headline_metrics(matrices_by[experiment], summary, matching), **scorecard_counts(card)})
    return card

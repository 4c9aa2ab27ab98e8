"""The scorecard over replicate runs: each claim's spread, and in how many runs it holds."""

import numpy as np
import pandas as pd

from usae.analysis.scorecard import EVIDENCE, NOT_JUDGED, NOT_RUN, STABILITY_CLAIMS, VERDICTS, few_of_each


def _unjudged(verdicts, gates):
    """The verdict over runs of a claim judged in none: not run (in every run), not judged (a gate failed) or n/a."""
    return NOT_RUN if set(verdicts) == {NOT_RUN} else (NOT_JUDGED if gates else "n/a")


def replicate_scorecard(claims_by_run):
    """Each claim over replicate runs: its value's mean, sd and range, and in how many runs it holds.

    Parameters
    ----------
    claims_by_run : dict of str to list of dict
        Per run, the :func:`usae.analysis.scorecard.json_records` of its scorecard. Claims are matched
        by ``id``; a claim's text is the first run's (texts may quote a run's own chance level).

    Returns
    -------
    pandas.DataFrame
        One row per claim: ``id``, source, claim, paper, per-run ``value`` columns (``value:<run>``),
        ``mean``, ``sd`` (sample, ddof 1; NaN for one value), ``min``, ``max``, ``runs_holding`` and
        ``runs_judged`` (runs where it holds, and where it could be judged), ``holds`` ("2/3"; "not
        judged" when a gate failed in every run, "not run" when its stage ran in none, "n/a" when there was
        nothing to judge), ``gates``
        (each run's failed gate, ``run: gate``; empty when none failed) and ``fragile`` (it holds in
        some judged runs but not all).
    """
    runs = list(claims_by_run)
    by_id = {}
    for run in runs:
        for record in claims_by_run[run]:
            entry = by_id.setdefault(record["id"], {"record": record, "values": {}, "verdicts": {}, "gates": {}})
            entry["values"][run] = record["value"]
            entry["verdicts"][run] = record["holds"]
            if record.get("gate"):
                entry["gates"][run] = record["gate"]
    rows = []
    for key, entry in by_id.items():
        values = np.array([np.nan if entry["values"].get(run) is None else entry["values"][run] for run in runs], float)
        finite = values[np.isfinite(values)]
        verdicts = [entry["verdicts"].get(run, "n/a") for run in runs]
        judged, holding = sum(v in ("yes", "no") for v in verdicts), verdicts.count("yes")
        record = entry["record"]
        rows.append(
            {
                "id": key,
                "source": record["source"],
                "claim": record["claim"],
                "paper": record["paper"],
                **{f"value:{run}": value for run, value in zip(runs, values)},
                "mean": finite.mean() if finite.size else np.nan,
                "sd": finite.std(ddof=1) if finite.size > 1 else np.nan,
                "min": finite.min() if finite.size else np.nan,
                "max": finite.max() if finite.size else np.nan,
                "runs_holding": holding,
                "runs_judged": judged,
                "holds": f"{holding}/{judged}" if judged else _unjudged(verdicts, entry["gates"]),
                "gates": "; ".join(f"{run}: {gate}" for run, gate in entry["gates"].items()),
                "fragile": 0 < holding < judged,
            }
        )
    return pd.DataFrame(rows)


def stability_rows(summary, runs):
    """The seed-stability claims, judged once over every pair of runs (``stability.json``), as rows of
    :func:`replicate_scorecard`'s table (``mean`` is the value; ``holds`` yes or no, or not judged)."""
    universal, specific = summary["universal"], summary["specific"]
    few = few_of_each({"universal": universal["concepts"], "specific": specific["concepts"]}, "concepts")
    margin = summary["margin_above_random"]
    difference = None if few else universal["mean"] - specific["mean"]
    rows = []
    for key, value, gate in [
        ("stability_above_random", margin, None),
        ("stability_universal_vs_specific", difference, few),
    ]:
        verdict = NOT_JUDGED if gate else VERDICTS[None if value is None else value > 0]
        rows.append(
            {
                "id": key,
                "source": EVIDENCE,
                "claim": STABILITY_CLAIMS[key] + f" (pairs {', '.join(summary['pairs'])})",
                "paper": "—",
                **{f"value:{run}": np.nan for run in runs},
                "mean": np.nan if value is None else value,
                "sd": np.nan,
                "min": np.nan if value is None else value,
                "max": np.nan if value is None else value,
                "runs_holding": int(verdict == "yes"),
                "runs_judged": int(verdict in ("yes", "no")),
                "holds": verdict,
                "gates": gate or "",
                "fragile": False,
            }
        )
    return rows


def with_stability(table, summary, runs):
    """``table`` with its seed-stability rows (each run's says "not run") replaced by :func:`stability_rows`."""
    kept = table[~table["id"].isin(list(STABILITY_CLAIMS))]
    return pd.concat([kept, pd.DataFrame(stability_rows(summary, runs))], ignore_index=True)


def replicate_scorecard_markdown(table, experiment, runs, seeds):
    """The scorecard over replicates as a Markdown page: mean ± sd (min to max), and in how many runs it holds."""

    def shown(row):
        if not np.isfinite(row["mean"]):
            return "—"
        spread = f" ± {row['sd']:.3f}" if np.isfinite(row["sd"]) else ""
        return f"{row['mean']:.3f}{spread} ({row['min']:.3f} to {row['max']:.3f})"

    card = pd.DataFrame(
        {
            "source": table["source"],
            "claim": table["claim"],
            "paper": table["paper"],
            "mean ± sd (min to max)": table.apply(shown, axis=1),
            "holds": table["holds"],
            "fragile": table["fragile"].map({True: "fragile", False: ""}),
            "not judged in": table["gates"],
        }
    )
    header = (
        f"# Scorecard over {len(runs)} replicates\n\nDataset `{experiment}`; runs "
        f"{', '.join(f'{run} (seed {seed})' for run, seed in zip(runs, seeds))}, trained on the same stores. "
        "Each claim's value is the number the per-run scorecards judge it by (a margin where a claim "
        "compares several numbers); 'holds' counts the runs where its direction holds among those where "
        "it could be judged, and a claim that holds in some runs but not all is flagged fragile. 'not "
        "judged in' names the runs where a precondition of the claim's test failed, and which.\n\n"
    )
    return header + card.to_markdown(index=False) + "\n"


def replicate_counts(table):
    """Claims holding in every judged run, in some but not all (fragile), and in none; and those judged in no
    run, apart: a gate failed (not judged), nothing to judge (n/a), or not run (for ``dvc metrics``)."""
    judged = table[table["runs_judged"] > 0]
    unjudged = table.loc[table["runs_judged"] == 0, "holds"].value_counts()
    return {
        "claims_holding_every_run": int((judged["runs_holding"] == judged["runs_judged"]).sum()),
        "claims_fragile": int(judged["fragile"].sum()),
        "claims_holding_in_no_run": int((judged["runs_holding"] == 0).sum()),
        "claims_not_judged": int(unjudged.get(NOT_JUDGED, 0)),
        "claims_not_applicable": int(unjudged.get("n/a", 0)),
        "claims_not_run": int(unjudged.get(NOT_RUN, 0)),
    }

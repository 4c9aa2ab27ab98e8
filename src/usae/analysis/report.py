"""Tables (CSV + Markdown) and the scorecard beside the paper's claims, from the metrics files."""

import numpy as np
import pandas as pd

# Paper, Table 1 (USAE R2 on ImageNet / DTD / CelebA) and Fig. 6b (mean co-fire proportion, top 1000).
PAPER_TABLE1 = {"siglip_vitb16": (0.61, 0.54, 0.52), "dinov2_vits14": (0.77, 0.69, 0.75), "vit_b16": (0.59, 0.46, 0.45)}
PAPER_TABLE1_DATASETS = ("imagenet", "dtd", "celeba")
PAPER_INDEPENDENT_R2 = {"dinov2_vits14": 0.8, "siglip_vitb16": 0.7, "vit_b16": 0.7}
PAPER_MATCH_SHARE = {"vit_b16": 0.38, "siglip_vitb16": 0.23, "dinov2_vits14": 0.26}
PAPER_CFP = {"siglip_vitb16": 0.344, "dinov2_vits14": 0.266, "vit_b16": 0.326}
# The scorecard's columns as shown; its frame also has each claim's stable ``id`` and numeric ``value``.
CARD_COLUMNS = ("source", "claim", "paper", "this run", "holds")


def reconstruction_table(matrices_by_dataset):
    """Table 1 layout: one row per model, self R2 / MSE of the USAE (and of the independent SAE) per dataset."""
    rows = []
    for dataset, matrices in matrices_by_dataset.items():
        for i, name in enumerate(matrices["models"]):
            cross = [matrices["r2"][i][j] for j in range(len(matrices["models"])) if j != i]
            row = {"dataset": dataset, "model": name, "usae_r2": matrices["r2"][i][i], "usae_mse": matrices["mse"][i][i],
                   "usae_cross_r2_mean": float(np.mean(cross)) if cross else float("nan")}
            independent = matrices["independent"].get(name)
            if independent:
                row.update({"independent_r2": independent["r2"], "independent_mse": independent["mse"]})
            rows.append(row)
    return pd.DataFrame(rows)


def universality_table(summaries):
    """One row per dataset: dead share, share of firing concepts with entropy > 0.9, co-fire means, fits."""
    rows = []
    for dataset, summary in summaries.items():
        row = {"dataset": dataset, "tokens": summary["tokens"], "dead_share": summary["dead_share"],
               "entropy_above_0.9_share": summary["entropy_above_0.9_share"]}
        row.update({f"cfp_top{summary['top_concepts']}_{name}": value
                    for name, value in summary["top_cofire_proportion_mean"].items()})
        row.update({"r_cofire_energy_all": summary["cofire_energy_all"]["r"],
                    "slope_all": summary["cofire_energy_all"]["slope"],
                    "r_cofire_energy_frequent": summary["cofire_energy_frequent"]["r"],
                    "slope_frequent": summary["cofire_energy_frequent"]["slope"],
                    "min_cofires_scaled": summary["min_cofires_scaled"]})
        rows.append(row)
    return pd.DataFrame(rows)


def chance_cofire_proportion(frame, names, n_tokens, top):
    """Mean co-fire proportion of the top concepts if models fired independently: prod_{j != i} P(fire_j)."""
    ranked = frame.sort_values("energy_total", ascending=False).head(top)
    rates = ranked[[f"fires_{name}" for name in names]].to_numpy(dtype=float) / n_tokens
    return {name: float(np.prod(np.delete(rates, i, axis=1), axis=1).mean()) for i, name in enumerate(names)}


def entropy_modes(entropy, bins=20):
    """Centres of the histogram's local maxima (descending by height) of the firing entropies."""
    counts, edges = np.histogram(entropy, bins=bins, range=(0, 1))
    centres = (edges[:-1] + edges[1:]) / 2
    padded = np.concatenate([[-1], counts, [-1]])
    peaks = [i for i in range(bins) if padded[i + 1] > padded[i] and padded[i + 1] >= padded[i + 2] and counts[i] > 0]
    return [float(centres[i]) for i in sorted(peaks, key=lambda i: -counts[i])]


def _fmt(value):
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"


def scorecard(matrices, summary, frame, table1=None, baseline=None):
    """Each quantitative claim of the paper beside this run's value, as a table.

    Parameters
    ----------
    matrices, summary : dict
        ``matrices.json`` and ``summary.json`` of the experiment's dataset.
    frame : pandas.DataFrame
        ``concepts.csv`` of that dataset.
    table1 : pandas.DataFrame, optional
        :func:`reconstruction_table` over every evaluated dataset.
    baseline : pandas.DataFrame, optional
        The baseline matching table (one row per model and per random baseline).
    """
    names = matrices["models"]
    r2 = np.array(matrices["r2"])
    rows = []

    def claim(key, source, text, paper, ours, holds, value):
        rows.append((key, source, text, paper, ours, {True: "yes", False: "no", None: "n/a"}[holds],
                     float("nan") if value is None else float(value)))

    off = r2[~np.eye(len(names), dtype=bool)]
    margins = [r2[i, i] - np.delete(r2[i], i).max() for i in range(len(names))] if len(names) > 1 else [0.0]
    claim("fig5_diagonal", "Fig. 5", "each encoder reconstructs its own model best (diagonal highest in its row)",
          "yes", ", ".join(f"{n}: {r2[i, i]:.2f}" for i, n in enumerate(names)),
          bool(all(r2[i, i] >= r2[i].max() for i in range(len(names)))), min(margins))
    claim("fig5_cross_positive", "Fig. 5", "cross-reconstruction is clearly positive (off-diagonal R2 > 0)", "yes",
          f"min {off.min():.2f}, mean {off.mean():.2f}", bool(off.min() > 0), off.min() if off.size else None)
    dinov2 = [name for name in names if name.startswith("dinov2")]
    if dinov2:
        best = names[int(np.argmax(r2.diagonal()))]
        ours = [i for i, name in enumerate(names) if name in dinov2]
        others = [r2[i, i] for i in range(len(names)) if i not in ours]
        claim("fig5_dinov2_best", "Fig. 5", "DinoV2 has the best self-reconstruction", "dinov2_vits14", best,
              best in dinov2, max(r2[i, i] for i in ours) - max(others) if others else None)
    else:
        claim("fig5_dinov2_best", "Fig. 5", "DinoV2 has the best self-reconstruction", "dinov2_vits14",
              "DinoV2 not in this run", None, None)
    independent = matrices["independent"]
    for name in names:
        paper = PAPER_INDEPENDENT_R2.get(name)
        ours = independent.get(name, {}).get("r2")
        holds = None if ours is None else bool(ours >= r2[names.index(name), names.index(name)])
        claim(f"fig5_independent_r2:{name}", "Fig. 5", f"independent SAE self R2 of {name} (at least the USAE's)",
              _fmt(paper), _fmt(ours), holds, ours)
    if table1 is not None:
        for _, row in table1.iterrows():
            paper_values = PAPER_TABLE1.get(row["model"])
            column = PAPER_TABLE1_DATASETS.index(row["dataset"]) if row["dataset"] in PAPER_TABLE1_DATASETS else None
            paper = paper_values[column] if paper_values and column is not None else None
            claim(f"table1_r2:{row['model']}:{row['dataset']}", "Table 1", f"USAE R2, {row['model']} on {row['dataset']}",
                  _fmt(paper), _fmt(row["usae_r2"]), None if paper is None else bool(abs(row["usae_r2"] - paper) <= 0.05),
                  row["usae_r2"])
    modes = entropy_modes(frame.loc[~frame["dead"], "entropy"])
    two_of_m = np.log(2) / np.log(len(names))
    claim("fig6a_bimodal", "Fig. 6a", f"firing entropy is bimodal, peaks near 1.0 and {two_of_m:.2f} (2 of {len(names)} models)",
          "peaks 1.0, 0.63", ", ".join(f"{m:.2f}" for m in modes[:3]) or "—",
          bool(modes and modes[0] > 0.9 and any(abs(m - two_of_m) <= 0.08 for m in modes)),
          min(modes[1:], key=lambda m: abs(m - two_of_m)) if len(modes) > 1 else None)
    chance = chance_cofire_proportion(frame, names, summary["tokens"], summary["top_concepts"])
    for name in names:
        ours = summary["top_cofire_proportion_mean"][name]
        claim(f"fig6b_cfp:{name}", "Fig. 6b", f"mean co-fire proportion of the top {summary['top_concepts']} concepts, "
              f"{name} (above chance {chance[name]:.3f})", _fmt(PAPER_CFP.get(name)), _fmt(ours),
              bool(ours > chance[name]), ours)
    fits = summary["cofire_energy_all"], summary["cofire_energy_frequent"]
    claim("fig6c_r_all", "Fig. 6c", "co-fire count and energy correlate (log-log Pearson r, all concepts)", "0.63",
          _fmt(fits[0]["r"]), bool(fits[0]["r"] > 0) if np.isfinite(fits[0]["r"]) else None, fits[0]["r"])
    claim("fig6c_r_frequent", "Fig. 6c", f"stronger among frequent co-firers (>= {summary['min_cofires_scaled']:.0f} "
          "co-fires)", "0.89", _fmt(fits[1]["r"]),
          bool(fits[1]["r"] > fits[0]["r"]) if np.isfinite(fits[1]["r"]) else None, fits[1]["r"])
    if baseline is None:
        claim("fig7_share", "Fig. 7", "independent-SAE concepts matched to USAE concepts with cosine > 0.5",
              "ViT 38%, SigLIP 23%, DinoV2 26%", "baseline not run (train.independent is off)", None, None)
    else:
        shares = dict(zip(baseline["model"], baseline["share_cosine_above_0.5"]))
        aucs = dict(zip(baseline["model"], baseline["auc"]))
        for name in names:
            claim(f"fig7_share:{name}", "Fig. 7",
                  f"share of {name}'s independent concepts matched with cosine > 0.5 (above random)",
                  _fmt(PAPER_MATCH_SHARE.get(name)), _fmt(shares[name]), bool(shares[name] > shares[f"random ({name})"]),
                  shares[name])
        random_auc = float(np.mean([aucs[f"random ({name})"] for name in names]))
        claim("fig7_random_auc", "Fig. 7", "AUC of the random baseline", "0.13", _fmt(random_auc), None, random_auc)
    return pd.DataFrame(rows, columns=["id", *CARD_COLUMNS, "value"])


def scorecard_markdown(card, dataset, names, tokens):
    """The scorecard as a Markdown page with a header saying what was evaluated."""
    header = (f"# Scorecard: this run beside the paper\n\nDataset `{dataset}`, models {', '.join(names)}; "
              f"{tokens} evaluation tokens. 'holds' says whether the claim's direction holds here; "
              "for runs on other models or data the numbers are not expected to match the paper's.\n\n")
    return header + card[list(CARD_COLUMNS)].to_markdown(index=False) + "\n"


def scorecard_counts(card):
    """How many claims hold, do not hold, or cannot be judged here (for ``dvc metrics``)."""
    counts = card["holds"].value_counts()
    return {"claims_holding": int(counts.get("yes", 0)), "claims_not_holding": int(counts.get("no", 0)),
            "claims_not_judged": int(counts.get("n/a", 0))}


def json_records(card):
    """The scorecard's claims as JSON-ready records (``id``, source, claim, paper, this run, holds, ``value``;
    a value that cannot be computed is None)."""
    return [{key: (None if isinstance(value, float) and not np.isfinite(value) else value) for key, value in row.items()}
            for row in card.to_dict("records")]


def replicate_scorecard(claims_by_run):
    """Each claim over replicate runs: its value's mean, sd and range, and in how many runs it holds.

    Parameters
    ----------
    claims_by_run : dict of str to list of dict
        Per run, the :func:`json_records` of its scorecard. Claims are matched by ``id``; a claim's text
        is the first run's (texts may quote a run's own chance level).

    Returns
    -------
    pandas.DataFrame
        One row per claim: ``id``, source, claim, paper, per-run ``value`` columns (``value:<run>``),
        ``mean``, ``sd`` (sample, ddof 1; NaN for one value), ``min``, ``max``, ``holds`` ("2/3": runs
        where it holds over runs where it could be judged; "n/a" when none could) and ``fragile``
        (it holds in some judged runs but not all).
    """
    runs = list(claims_by_run)
    by_id = {}
    for run in runs:
        for record in claims_by_run[run]:
            by_id.setdefault(record["id"], {"record": record, "values": {}, "verdicts": {}})
            by_id[record["id"]]["values"][run] = record["value"]
            by_id[record["id"]]["verdicts"][run] = record["holds"]
    rows = []
    for key, entry in by_id.items():
        values = np.array([np.nan if entry["values"].get(run) is None else entry["values"][run] for run in runs], float)
        finite = values[np.isfinite(values)]
        verdicts = [entry["verdicts"].get(run, "n/a") for run in runs]
        judged, holding = sum(v in ("yes", "no") for v in verdicts), verdicts.count("yes")
        record = entry["record"]
        rows.append({"id": key, "source": record["source"], "claim": record["claim"], "paper": record["paper"],
                     **{f"value:{run}": value for run, value in zip(runs, values)},
                     "mean": finite.mean() if finite.size else np.nan,
                     "sd": finite.std(ddof=1) if finite.size > 1 else np.nan,
                     "min": finite.min() if finite.size else np.nan, "max": finite.max() if finite.size else np.nan,
                     "holds": f"{holding}/{judged}" if judged else "n/a", "fragile": 0 < holding < judged})
    return pd.DataFrame(rows)


def replicate_scorecard_markdown(table, experiment, runs, seeds):
    """The scorecard over replicates as a Markdown page: mean ± sd (min to max), and in how many runs it holds."""
    def shown(row):
        if not np.isfinite(row["mean"]):
            return "—"
        spread = f" ± {row['sd']:.3f}" if np.isfinite(row["sd"]) else ""
        return f"{row['mean']:.3f}{spread} ({row['min']:.3f} to {row['max']:.3f})"

    card = pd.DataFrame({"source": table["source"], "claim": table["claim"], "paper": table["paper"],
                         "mean ± sd (min to max)": table.apply(shown, axis=1), "holds": table["holds"],
                         "fragile": table["fragile"].map({True: "fragile", False: ""})})
    header = (f"# Scorecard over {len(runs)} replicates\n\nDataset `{experiment}`; runs "
              f"{', '.join(f'{run} (seed {seed})' for run, seed in zip(runs, seeds))}, trained on the same stores. "
              "Each claim's value is the number the per-run scorecards judge it by (a margin where a claim "
              "compares several numbers); 'holds' counts the runs where its direction holds among those where "
              "it could be judged, and a claim that holds in some runs but not all is flagged fragile.\n\n")
    return header + card.to_markdown(index=False) + "\n"


def replicate_counts(table):
    """Claims holding in every judged run, in some but not all (fragile), and in none (for ``dvc metrics``)."""
    judged = table[table["holds"] != "n/a"]
    holding = judged["holds"].map(lambda text: text.split("/")[0] == text.split("/")[1])
    none = judged["holds"].map(lambda text: text.startswith("0/"))
    return {"claims_holding_every_run": int(holding.sum()), "claims_fragile": int(judged["fragile"].sum()),
            "claims_holding_in_no_run": int(none.sum()), "claims_not_judged": int(len(table) - len(judged))}

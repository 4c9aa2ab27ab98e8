"""The scorecard: each quantitative claim of the paper beside this run's value, judged only where it can be.

Every claim has a test (its direction here) and a gate (the preconditions under which that test means
something). A claim whose gate fails is "not judged", and its ``gate`` column says which precondition
failed; "n/a" means there is nothing to judge (no direction to test, or an input that was not made).
Every claim with its test and gate: docs/scorecard.md.
"""

import re

import numpy as np
import pandas as pd

from usae.analysis.entropy_modes import bimodal_verdict, distinct_positions, histogram_modes, prominence_shares
from usae.analysis.report import chance_cofire_proportion

# Paper, Table 1 (USAE R2 on ImageNet / DTD / CelebA) and Fig. 6b (mean co-fire proportion, top 1000).
PAPER_TABLE1 = {"siglip_vitb16": (0.61, 0.54, 0.52), "dinov2_vits14": (0.77, 0.69, 0.75), "vit_b16": (0.59, 0.46, 0.45)}
PAPER_TABLE1_DATASETS = ("imagenet", "dtd", "celeba")
PAPER_INDEPENDENT_R2 = {"dinov2_vits14": 0.8, "siglip_vitb16": 0.7, "vit_b16": 0.7}
PAPER_MATCH_SHARE = {"vit_b16": 0.38, "siglip_vitb16": 0.23, "dinov2_vits14": 0.26}
PAPER_CFP = {"siglip_vitb16": 0.344, "dinov2_vits14": 0.266, "vit_b16": 0.326}
# Gates and margins (docs/scorecard.md).
MATCHING_MIN_R2 = 0.2  # Fig. 7: both SAEs of a model must explain this much variance for their atoms to mean much
MATCH_SHARE_MARGIN = 0.02  # Fig. 7: "above random" means at least 2 points of share above the random atoms' share
TABLE1_TOLERANCE = 0.05  # Table 1: our R2 within this of the paper's
MIN_FIT_CONCEPTS = 10  # Fig. 6c: concepts behind a log-log correlation
MIN_HISTOGRAM_CONCEPTS = 100  # Fig. 6a: firing concepts behind the 20-bin histogram
# The scorecard's columns as shown; its frame also has each claim's stable ``id``, ``gate`` and numeric ``value``.
CARD_COLUMNS = ("source", "claim", "paper", "this run", "holds")
VERDICTS = {True: "yes", False: "no", None: "n/a"}
NOT_JUDGED = "not judged"
NOT_RUN = "not run"  # the claim needs a stage this run did not run (the baseline without independent SAEs)
NO_INDEPENDENT = "no independent SAEs: train.independent is off"


def _paper(values, name):
    """The paper's value for model ``name`` (its torch.hub twin ``<name>_hub`` included), or None."""
    return values.get(name.removesuffix("_hub"))


def _fmt(value):
    return "—" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"


def _nonpositive(r2_by_name):
    """The gate text for R2 claims: which of ``{name: self R2}`` are not positive (None when all are)."""
    bad = [name for name, value in r2_by_name.items() if not value > 0]
    return f"self R2 <= 0: {', '.join(bad)}" if bad else None


class _Claims:
    """Rows of the scorecard as they are judged."""

    def __init__(self):
        self.rows = []

    def add(self, key, source, text, paper, ours, holds, value, gate=None):
        """One claim; ``gate`` (a failed precondition, in words) makes it "not judged" whatever ``holds`` is."""
        self.rows.append(
            {
                "id": key,
                "source": source,
                "claim": text,
                "paper": paper,
                "this run": ours,
                "holds": NOT_JUDGED if gate else VERDICTS[holds],
                "gate": gate or "",
                "value": float("nan") if value is None else float(value),
            }
        )

    def not_applicable(self, key, source, text, paper, ours, value, reason):
        """A claim with nothing to judge here: "n/a", and ``reason`` in the gate column."""
        self.add(key, source, text, paper, ours, None, value)
        self.rows[-1]["gate"] = reason

    def not_run(self, key, source, text, paper, reason):
        """A claim whose stage did not run: no value, "not run", and ``reason`` in the gate column."""
        self.rows.append(
            {
                "id": key,
                "source": source,
                "claim": text,
                "paper": paper,
                "this run": NOT_RUN,
                "holds": NOT_RUN,
                "gate": reason,
                "value": float("nan"),
            }
        )


def _diagonal_margin(r2):
    """The smallest gap between a row's diagonal and its best other entry (0.0 for one model)."""
    return min(r2[i, i] - np.delete(r2[i], i).max() for i in range(len(r2))) if len(r2) > 1 else 0.0


def _fig5(claims, names, r2, independent, r2_channel=None):
    self_r2 = {name: r2[i, i] for i, name in enumerate(names)}
    gate = _nonpositive(self_r2)
    off = r2[~np.eye(len(names), dtype=bool)]
    claims.add(
        "fig5_diagonal",
        "Fig. 5",
        "each encoder reconstructs its own model best (diagonal highest in its row)",
        "yes",
        ", ".join(f"{n}: {r2[i, i]:.2f}" for i, n in enumerate(names)),
        bool(_diagonal_margin(r2) >= 0),
        _diagonal_margin(r2),
        gate,
    )
    if r2_channel is not None:
        claims.add(
            "fig5_diagonal_over_channel_means",
            "Fig. 5 (beyond)",
            "the same, with R2 over each channel's "
            "own mean (what an encoder explains beyond constant per-channel offsets)",
            "—",
            ", ".join(f"{n}: {r2_channel[i, i]:.2f}" for i, n in enumerate(names)),
            bool(_diagonal_margin(r2_channel) >= 0),
            _diagonal_margin(r2_channel),
            _nonpositive({name: r2_channel[i, i] for i, name in enumerate(names)}),
        )
    claims.add(
        "fig5_cross_positive",
        "Fig. 5",
        "cross-reconstruction is clearly positive (off-diagonal R2 > 0)",
        "yes",
        f"min {off.min():.2f}, mean {off.mean():.2f}" if off.size else "—",
        bool(off.size and off.min() > 0),
        off.min() if off.size else None,
        gate if off.size else "needs 2 or more models",
    )
    dinov2 = [i for i, name in enumerate(names) if name.startswith("dinov2")]
    others = [r2[i, i] for i in range(len(names)) if i not in dinov2]
    if dinov2 and others:
        best = names[int(np.argmax(r2.diagonal()))]
        claims.add(
            "fig5_dinov2_best",
            "Fig. 5",
            "DinoV2 has the best self-reconstruction",
            "DinoV2",
            best,
            int(np.argmax(r2.diagonal())) in dinov2,
            max(r2[i, i] for i in dinov2) - max(others),
            gate,
        )
    else:
        claims.not_applicable(
            "fig5_dinov2_best",
            "Fig. 5",
            "DinoV2 has the best self-reconstruction",
            "DinoV2",
            "—",
            None,
            "DinoV2 and another model not both in this run",
        )
    for name in names:
        ours = independent.get(name, {}).get("r2")
        if not independent:
            claims.not_run(
                f"fig5_independent_r2:{name}",
                "Fig. 5",
                f"independent SAE self R2 of {name} (at least the USAE's)",
                _fmt(_paper(PAPER_INDEPENDENT_R2, name)),
                NO_INDEPENDENT,
            )
            continue
        gate = None if ours is None else _nonpositive({f"{name} (USAE)": self_r2[name], f"{name} (independent)": ours})
        claims.add(
            f"fig5_independent_r2:{name}",
            "Fig. 5",
            f"independent SAE self R2 of {name} (at least the USAE's)",
            _fmt(_paper(PAPER_INDEPENDENT_R2, name)),
            _fmt(ours),
            None if ours is None else bool(ours >= self_r2[name]),
            ours,
            gate,
        )


def _table1(claims, table1):
    for _, row in table1.iterrows():
        paper_values = _paper(PAPER_TABLE1, row["model"])
        column = PAPER_TABLE1_DATASETS.index(row["dataset"]) if row["dataset"] in PAPER_TABLE1_DATASETS else None
        paper = paper_values[column] if paper_values and column is not None else None
        key, text = f"table1_r2:{row['model']}:{row['dataset']}", f"USAE R2, {row['model']} on {row['dataset']}"
        if paper is None:
            missing = row["model"] if not paper_values else row["dataset"]
            reason = f"the paper reports no R2 for {missing}"
            claims.not_applicable(key, "Table 1", text, "—", _fmt(row["usae_r2"]), row["usae_r2"], reason)
            continue
        claims.add(
            key,
            "Table 1",
            text,
            _fmt(paper),
            _fmt(row["usae_r2"]),
            bool(abs(row["usae_r2"] - paper) <= TABLE1_TOLERANCE),
            row["usae_r2"],
            _nonpositive({row["model"]: row["usae_r2"]}),
        )


def _fig6(claims, names, summary, frame):
    entropy = frame.loc[~frame["dead"], "entropy"]
    modes = histogram_modes(entropy)
    positions = distinct_positions(len(names))
    holds, strength = bimodal_verdict(modes, len(names))
    if len(names) < 3:
        gate = f"needs 3 or more models (with {len(names)}, a concept shared by 2 has entropy 1.0)"
    elif len(entropy) < MIN_HISTOGRAM_CONCEPTS:
        gate = f"{len(entropy)} firing concepts (needs {MIN_HISTOGRAM_CONCEPTS})"
    else:
        gate = None
    claims.add(
        "fig6a_bimodal",
        "Fig. 6a",
        "firing entropy has a mode near 1.0 (all models) and one near "
        f"{' or '.join(f'{p:.2f}' for p in positions) or 'log k / log M'} (shared by k of {len(names)})",
        "modes 1.0, 0.63",
        _modes_text(modes),
        holds,
        strength,
        gate,
    )
    chance = chance_cofire_proportion(frame, names, summary["tokens"], summary["top_concepts"])
    for name in names:
        ours = summary["top_cofire_proportion_mean"][name]
        claims.add(
            f"fig6b_cfp:{name}",
            "Fig. 6b",
            f"mean co-fire proportion of the top {summary['top_concepts']} "
            f"concepts, {name} (above chance {chance[name]:.3f})",
            _fmt(PAPER_CFP.get(name)),
            _fmt(ours),
            bool(ours > chance[name]),
            ours,
        )
    every, frequent = summary["cofire_energy_all"], summary["cofire_energy_frequent"]
    for key, fit, text, paper, holds in [
        (
            "fig6c_r_all",
            every,
            "co-fire count and energy correlate (log-log Pearson r, all concepts)",
            "0.63",
            every["r"] > 0,
        ),
        (
            "fig6c_r_frequent",
            frequent,
            f"stronger among frequent co-firers (>= {summary['min_cofires_scaled']:.0f} co-fires)",
            "0.89",
            frequent["r"] > every["r"],
        ),
    ]:
        n = fit.get("n", 0)
        gate = f"{n} concepts in the fit (needs {MIN_FIT_CONCEPTS})" if n < MIN_FIT_CONCEPTS else None
        claims.add(
            key, "Fig. 6c", text, paper, _fmt(fit["r"]), bool(holds) if np.isfinite(fit["r"]) else None, fit["r"], gate
        )


def _fig7(claims, names, r2, independent, baseline):
    if baseline is None:
        for name in names:
            claims.not_run(
                f"fig7_share:{name}",
                "Fig. 7",
                f"share of {name}'s independent concepts matched with cosine > 0.5",
                _fmt(_paper(PAPER_MATCH_SHARE, name)),
                NO_INDEPENDENT,
            )
        claims.not_run("fig7_random_auc", "Fig. 7", "AUC of the random baseline", "0.13", NO_INDEPENDENT)
        return
    shares = dict(zip(baseline["model"], baseline["share_cosine_above_0.5"]))
    aucs = dict(zip(baseline["model"], baseline["auc"]))
    for i, name in enumerate(names):
        fits = {"USAE": r2[i, i], "independent": independent.get(name, {}).get("r2", float("nan"))}
        weak = [f"{kind} {value:.2f}" for kind, value in fits.items() if not value > MATCHING_MIN_R2]
        random_share = shares[f"random ({name})"]
        claims.add(
            f"fig7_share:{name}",
            "Fig. 7",
            f"share of {name}'s independent concepts matched with cosine > 0.5 "
            f"(at least {MATCH_SHARE_MARGIN:.2f} above random's {random_share:.3f})",
            _fmt(_paper(PAPER_MATCH_SHARE, name)),
            _fmt(shares[name]),
            bool(shares[name] >= random_share + MATCH_SHARE_MARGIN),
            shares[name],
            f"self R2 <= {MATCHING_MIN_R2}: {', '.join(weak)}" if weak else None,
        )
    random_auc = float(np.mean([aucs[f"random ({name})"] for name in names]))
    claims.not_applicable(
        "fig7_random_auc",
        "Fig. 7",
        "AUC of the random baseline",
        "0.13",
        _fmt(random_auc),
        random_auc,
        "reported, not a claim",
    )


EVIDENCE = "Concepts (beyond the paper)"
MIN_TESTED = 20  # label coherence: (model, concept) pairs behind the share coherent
MIN_KIND = 5  # label coherence and agreement: concepts of a kind behind a comparison
AGREEMENT_ALPHA = 0.05  # the models' agreement: level of the one-sided binomial test against chance
NOT_JUDGED_OVER_RUNS = "judged over the replicates: results/scorecard.md"


def few_of_each(counts, noun):
    """The gate of a comparison between kinds: ``"<noun>: specific 2 (needs 5 of each)"`` when a kind in
    ``counts`` (kind to count) has fewer than :data:`MIN_KIND`, else None."""
    few = [f"{kind} {count}" for kind, count in counts.items() if count < MIN_KIND]
    return f"{noun}: {', '.join(few)} (needs {MIN_KIND} of each)" if few else None


def _coherence(claims, coherence):
    texts = {
        "coherence_above_chance": "concepts are label-coherent above chance (share of tested (model, concept) pairs "
        f"coherent at FDR {coherence['fdr']:g}, Benjamini-Hochberg, above {coherence['fdr']:g})",
        "coherence_universal_vs_specific": "universal concepts are at least as label-coherent as model-specific ones "
        "(mean share of the top label)",
        "label_agreement": "the models agree on a universal concept's top label above chance (all models; "
        f"one-sided binomial test, p < {AGREEMENT_ALPHA})",
    }
    if not coherence["run"]:
        for key, text in texts.items():
            claims.not_run(key, EVIDENCE, text, "—", coherence["reason"])
        return
    every, fdr = coherence["all"], coherence["fdr"]
    share = every["coherent_share"]
    claims.add(
        "coherence_above_chance",
        EVIDENCE,
        texts["coherence_above_chance"],
        "—",
        f"{_fmt(share)} of {every['tested']}",
        None if share is None else bool(share > fdr),
        share,
        f"{every['tested']} pairs tested (needs {MIN_TESTED})" if every["tested"] < MIN_TESTED else None,
    )
    universal, specific = coherence["universal"], coherence["specific"]
    few = few_of_each({"universal": universal["tested"], "specific": specific["tested"]}, "pairs tested")
    margin = None if few else universal["label_share_mean"] - specific["label_share_mean"]
    claims.add(
        "coherence_universal_vs_specific",
        EVIDENCE,
        texts["coherence_universal_vs_specific"],
        "—",
        f"universal {_fmt(universal['label_share_mean'])} ({universal['tested']}), "
        f"specific {_fmt(specific['label_share_mean'])} ({specific['tested']})",
        None if margin is None else bool(margin >= 0),
        margin,
        few,
    )
    agreement = coherence["agreement"]
    judged = agreement["concepts"] >= MIN_KIND
    claims.add(
        "label_agreement",
        EVIDENCE,
        texts["label_agreement"],
        "—",
        f"all agree on {_fmt(agreement['all_agree_share'])} of {agreement['concepts']} (chance "
        f"{agreement['chance']:.3f}, p {agreement['p']:.2g})"
        if agreement["concepts"]
        else "no universal concept tested",
        bool(agreement["p"] < AGREEMENT_ALPHA) if judged else None,
        None if not agreement["concepts"] else agreement["all_agree_share"] - agreement["chance"],
        None if judged else f"{agreement['concepts']} universal concepts tested in every model (needs {MIN_KIND})",
    )


STABILITY_CLAIMS = {
    "stability_above_random": "concepts reproduce across seeds above random (mean matched atom cosine between "
    "replicates, every model and pair, above the random atoms')",
    "stability_universal_vs_specific": "universal concepts are more stable across seeds than model-specific ones "
    "(mean matched atom cosine)",
}


def _stability_not_run(claims, replicated):
    reason = NOT_JUDGED_OVER_RUNS if replicated else "replicates: 1"
    for key, text in STABILITY_CLAIMS.items():
        claims.not_run(key, EVIDENCE, text, "—", reason)


def scorecard(matrices, summary, frame, table1=None, baseline=None, coherence=None, replicated=False):
    """Each quantitative claim of the paper beside this run's value, as a table.

    Parameters
    ----------
    matrices, summary : dict
        ``matrices.json`` and ``summary.json`` of the experiment's dataset.
    frame : pandas.DataFrame
        ``concepts.csv`` of that dataset.
    table1 : pandas.DataFrame, optional
        :func:`usae.analysis.report.reconstruction_table` over every evaluated dataset.
    baseline : pandas.DataFrame, optional
        The baseline matching table (one row per model and per random baseline).
    coherence : dict, optional
        ``coherence.json`` of the experiment's dataset: the label-coherence claims (beyond the paper).
    replicated : bool
        ``train.replicates`` is 2 or more: the seed-stability claims are judged over replicates, never in one
        run's card.

    Returns
    -------
    pandas.DataFrame
        One row per claim: ``id``, the :data:`CARD_COLUMNS`, ``gate`` (the failed precondition of a
        claim not judged, else empty) and ``value`` (the number the claim is judged by).
    """
    names = matrices["models"]
    r2 = np.array(matrices["r2"], dtype=float)
    claims = _Claims()
    channel = matrices.get("r2_over_channel_means")
    _fig5(claims, names, r2, matrices["independent"], None if channel is None else np.array(channel, dtype=float))
    if table1 is not None:
        _table1(claims, table1)
    _fig6(claims, names, summary, frame)
    _fig7(claims, names, r2, matrices["independent"], baseline)
    if coherence is not None:
        _coherence(claims, coherence)
    _stability_not_run(claims, replicated)
    return pd.DataFrame(claims.rows, columns=["id", *CARD_COLUMNS, "gate", "value"])


def shown_verdict(holds, gate):
    """The verdict as the Markdown tables show it: ``not judged (<gate>)`` for a gated claim, ``not run
    (<reason>)`` for one whose stage did not run, ``n/a (<reason>)`` for one with nothing to judge."""
    return f"{holds} ({gate})" if holds in (NOT_JUDGED, NOT_RUN) or (holds == "n/a" and gate) else holds


def displayed(card, labels):
    """``card`` with every model name in its texts (claim, paper, this run, gate) written as its display name
    (``labels``); the claims' ids keep the names."""
    if not labels:
        return card
    names = sorted(labels, key=len, reverse=True)  # the longer first: no name inside another is replaced
    pattern = re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?![\w-])")
    texts = {
        column: card[column].map(lambda text: pattern.sub(lambda match: labels[match.group(1)], text))
        for column in ("claim", "paper", "this run", "gate")
    }
    return card.assign(**texts)


def scorecard_markdown(card, dataset, names, tokens):
    """The scorecard as a Markdown page with a header saying what was evaluated (``names``: the models as the
    reader knows them)."""
    header = (
        f"# Scorecard: this run beside the paper\n\nDataset `{dataset}`, models {', '.join(names)}; "
        f"{tokens} evaluation tokens. 'holds' says whether the claim's direction holds here; a claim is "
        "'not judged' when a precondition for its test fails (named in brackets), and 'n/a' when there is "
        "nothing to judge. Every claim's test and gate: docs/scorecard.md in the usae repository. For runs "
        "on other models or data the numbers are not expected to match the paper's.\n\n"
    )
    shown = card[list(CARD_COLUMNS)].assign(holds=[shown_verdict(h, g) for h, g in zip(card["holds"], card["gate"])])
    return header + shown.to_markdown(index=False) + "\n"


def _modes_text(modes):
    """Fig. 6a's modes as the scorecard shows them: centre, and prominence in concepts and as a share of the
    tallest mode's height (the share the claim is judged by)."""
    return (
        ", ".join(
            f"{mode.centre:.3f} (prominence {mode.prominence:.0f} concepts, {share:.2f} of the tallest mode)"
            for mode, share in zip(modes, prominence_shares(modes))
        )
        or "no mode"
    )


def scorecard_counts(card):
    """How many claims hold, do not hold, are not judged (a gate failed), have nothing to judge (n/a) or were
    not run (for ``dvc metrics``)."""
    counts = card["holds"].value_counts()
    return {
        "claims_holding": int(counts.get("yes", 0)),
        "claims_not_holding": int(counts.get("no", 0)),
        "claims_not_judged": int(counts.get(NOT_JUDGED, 0)),
        "claims_not_applicable": int(counts.get("n/a", 0)),
        "claims_not_run": int(counts.get(NOT_RUN, 0)),
    }


def json_records(card):
    """A table's rows as JSON-ready records (a value that cannot be computed is None)."""
    return [
        {key: (None if isinstance(value, float) and not np.isfinite(value) else value) for key, value in row.items()}
        for row in card.to_dict("records")
    ]

import numpy as np
import pandas as pd

from usae.analysis.plots import (
    cofire_energy_scatter,
    cofire_proportion_curves,
    concept_gallery,
    entropy_histogram,
    r2_heatmap,
)
from usae.analysis.report import (
    chance_cofire_proportion,
    entropy_modes,
    json_records,
    reconstruction_table,
    replicate_counts,
    replicate_scorecard,
    scorecard,
)

NAMES = ["a", "b", "c"]


def _frame(rng, m=60):
    fires = rng.integers(0, 50, size=(m, 3))
    frame = pd.DataFrame({"concept": np.arange(m)})
    for i, name in enumerate(NAMES):
        frame[f"fires_{name}"] = fires[:, i]
    frame["cofires"] = fires.min(1)
    frame["entropy"] = rng.uniform(0, 1, m)
    for name in NAMES:
        frame[f"cofire_proportion_{name}"] = rng.uniform(0, 1, m)
        frame[f"energy_{name}"] = rng.uniform(0, 1, m)
    frame["energy_total"] = frame[[f"energy_{n}" for n in NAMES]].sum(axis=1)
    frame["dead"] = fires.sum(1) == 0
    return frame


def test_entropy_modes_find_both_peaks():
    entropy = np.concatenate([np.full(50, 0.97), np.full(20, 0.62), np.full(5, 0.3)])
    modes = entropy_modes(entropy)
    assert modes[0] > 0.9 and abs(modes[1] - 0.625) < 0.03


def test_chance_cofire_is_product_of_other_rates():
    frame = pd.DataFrame({"fires_a": [50], "fires_b": [20], "fires_c": [10], "energy_total": [1.0]})
    chance = chance_cofire_proportion(frame, NAMES, n_tokens=100, top=10)
    assert chance["a"] == 0.2 * 0.1 and chance["c"] == 0.5 * 0.2


def test_scorecard_flags_directions(rng):
    matrices = {"models": NAMES, "r2": [[0.8, 0.5, 0.4], [0.3, 0.7, 0.2], [0.1, 0.6, 0.5]],
                "mse": [[0.2] * 3] * 3, "independent": {"a": {"r2": 0.9, "mse": 0.1}}}
    frame = _frame(rng)
    summary = {"tokens": 1000, "top_concepts": 1000, "min_cofires_scaled": 10.0,
               "top_cofire_proportion_mean": {n: 0.3 for n in NAMES},
               "cofire_energy_all": {"r": 0.5, "slope": 1.0, "n": 40},
               "cofire_energy_frequent": {"r": 0.7, "slope": 1.0, "n": 20}}
    card = scorecard(matrices, summary, frame, reconstruction_table({"toy": matrices}))
    lines = dict(zip(card["claim"], card["holds"]))
    assert lines["each encoder reconstructs its own model best (diagonal highest in its row)"] == "no"
    assert lines["cross-reconstruction is clearly positive (off-diagonal R2 > 0)"] == "yes"
    assert lines["DinoV2 has the best self-reconstruction"] == "n/a"
    assert lines["independent SAE self R2 of a (at least the USAE's)"] == "yes"
    assert lines["stronger among frequent co-firers (>= 10 co-fires)"] == "yes"


def _files(folder, stem):
    return [folder / f"{stem}.png", folder / f"{stem}.pdf"]


def test_figure_functions_write_png_and_pdf(tmp_path, rng):
    frame = _frame(rng)
    r2_heatmap([[0.8, 0.5, 0.4], [0.3, 0.7, 0.2], [0.1, 0.6, 0.5]], NAMES, _files(tmp_path, "r2"))
    entropy_histogram(frame["entropy"], _files(tmp_path, "fe"), 3)
    cofire_proportion_curves(frame, NAMES, _files(tmp_path, "cfp"), top=30)
    cofire_energy_scatter(frame, {"all": {"r": 0.5}, "frequent": {"r": 0.6}}, 20, _files(tmp_path, "ce"))
    image = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
    panels = [{"concept": 3, "label": "concept 3", "rows": {n: [(image, rng.random((4, 4)))] * 2 for n in NAMES}}]
    concept_gallery(panels, NAMES, _files(tmp_path, "gallery"), "test")
    for stem in ["r2", "fe", "cfp", "ce", "gallery"]:
        assert (tmp_path / f"{stem}.png").stat().st_size > 1000
        assert (tmp_path / f"{stem}.pdf").exists()


def test_any_dinov2_entry_counts_for_the_dinov2_claim(rng):
    names = ["dinov2_vits14_imgfocus_block8", "b", "c"]
    matrices = {"models": names, "r2": [[0.8, 0.5, 0.4], [0.3, 0.7, 0.2], [0.1, 0.6, 0.5]], "mse": [[0.2] * 3] * 3,
                "independent": {}}
    frame = _frame(rng).rename(columns=lambda c: c[:-2] + "_" + names[0] if c.endswith("_a") else c)
    summary = {"tokens": 1000, "top_concepts": 1000, "min_cofires_scaled": 10.0,
               "top_cofire_proportion_mean": {n: 0.3 for n in names},
               "cofire_energy_all": {"r": 0.5, "slope": 1.0, "n": 40},
               "cofire_energy_frequent": {"r": 0.7, "slope": 1.0, "n": 20}}
    card = scorecard(matrices, summary, frame)
    assert dict(zip(card["claim"], card["holds"]))["DinoV2 has the best self-reconstruction"] == "yes"


def _claim(key, value, holds, text="a claim"):
    return {"id": key, "source": "Fig. 7", "claim": text, "paper": "0.26", "this run": f"{value}", "holds": holds,
            "value": value}


def test_replicate_scorecard_counts_spread_and_fragile_claims():
    claims = {
        "r0": [_claim("steady", 0.30, "yes", "text of r0"), _claim("fragile", 0.10, "yes"), _claim("never", -1.0, "no"),
               _claim("unjudged", 0.5, "n/a")],
        "r1": [_claim("steady", 0.40, "yes", "text of r1"), _claim("fragile", -0.10, "no"), _claim("never", -2.0, "no"),
               _claim("unjudged", None, "n/a")],
        "r2": [_claim("steady", 0.50, "yes"), _claim("fragile", 0.20, "yes"), _claim("never", -3.0, "no"),
               _claim("unjudged", 0.7, "n/a")],
    }
    table = replicate_scorecard(claims).set_index("id")
    assert table.loc["steady", "holds"] == "3/3" and not table.loc["steady", "fragile"]
    assert table.loc["steady", "claim"] == "text of r0"
    np.testing.assert_allclose(table.loc["steady", ["mean", "sd", "min", "max"]].astype(float), [0.4, 0.1, 0.3, 0.5])
    assert table.loc["fragile", "holds"] == "2/3" and table.loc["fragile", "fragile"]
    assert table.loc["never", "holds"] == "0/3"
    assert table.loc["unjudged", "holds"] == "n/a" and table.loc["unjudged", "mean"] == 0.6
    assert np.isnan(table.loc["unjudged", "value:r1"])
    assert replicate_counts(table.reset_index()) == {"claims_holding_every_run": 1, "claims_fragile": 1,
                                                     "claims_holding_in_no_run": 1, "claims_not_judged": 1}


def test_every_scorecard_claim_has_a_stable_id_and_a_json_value(rng):
    frame = _frame(rng)
    matrices = {"models": NAMES, "r2": np.eye(3).tolist(), "mse": np.eye(3).tolist(), "independent": {}}
    summary = {"tokens": 1000, "top_concepts": 10, "top_cofire_proportion_mean": dict.fromkeys(NAMES, 0.2),
               "cofire_energy_all": {"r": 0.5, "slope": 1.0}, "cofire_energy_frequent": {"r": float("nan"), "slope": 1.0},
               "min_cofires_scaled": 3.0}
    records = json_records(scorecard(matrices, summary, frame))
    ids = [record["id"] for record in records]
    assert len(ids) == len(set(ids)) and "fig5_diagonal" in ids and "fig6b_cfp:a" in ids
    by_id = {record["id"]: record for record in records}
    assert by_id["fig5_diagonal"]["value"] == 1.0 and by_id["fig6c_r_frequent"]["value"] is None

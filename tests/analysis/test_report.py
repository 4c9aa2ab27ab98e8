import numpy as np
import pandas as pd

from usae.analysis.plots import (
    cofire_energy_scatter,
    cofire_proportion_curves,
    concept_gallery,
    entropy_histogram,
    r2_heatmap,
)
from usae.analysis.report import chance_cofire_proportion, entropy_modes, reconstruction_table, scorecard

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

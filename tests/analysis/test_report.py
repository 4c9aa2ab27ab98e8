import matplotlib
import numpy as np
import pandas as pd

from tests.analysis.frames import NAMES, concept_frame
from usae.analysis import plots
from usae.analysis.plots import (
    cofire_energy_scatter,
    cofire_proportion_curves,
    concept_gallery,
    entropy_histogram,
    r2_heatmap,
)
from usae.analysis.report import chance_cofire_proportion


def test_chance_cofire_is_product_of_other_rates():
    frame = pd.DataFrame({"fires_a": [50], "fires_b": [20], "fires_c": [10], "energy_total": [1.0]})
    chance = chance_cofire_proportion(frame, NAMES, n_tokens=100, top=10)
    assert chance["a"] == 0.2 * 0.1 and chance["c"] == 0.5 * 0.2


def _files(folder, stem):
    return [folder / f"{stem}.png", folder / f"{stem}.pdf"]


def test_figure_functions_write_png_and_pdf(tmp_path, rng):
    frame = concept_frame(rng)
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


def test_degenerate_results_give_figures_that_say_so(tmp_path, rng, monkeypatch):
    texts = {}
    original = plots.save_figure

    def keep_texts(figure, paths):
        texts[paths[0].stem] = " ".join(t.get_text() for t in figure.findobj(matplotlib.text.Text))
        original(figure, paths)

    monkeypatch.setattr(plots, "save_figure", keep_texts)
    dead = concept_frame(rng)
    dead[["cofires", "energy_total"]] = 0
    dead["dead"] = True
    entropy_histogram(dead.loc[~dead["dead"], "entropy"], _files(tmp_path, "entropy"), 3)
    cofire_energy_scatter(dead, {"all": {"r": np.nan}, "frequent": {"r": np.nan}}, 20, _files(tmp_path, "dead"))
    few = concept_frame(rng).head(2)
    cofire_energy_scatter(few, {"all": {"r": np.nan}, "frequent": {"r": np.nan}}, 20, _files(tmp_path, "few"))
    concept_gallery([], NAMES, _files(tmp_path, "gallery"), "Fig. 4", "No universal concept.")
    assert "No concept fires" in texts["entropy"] and "No concept co-fires" in texts["dead"]
    assert "r undefined (2 concepts)" in texts["few"] and "No universal concept." in texts["gallery"]
    assert all((tmp_path / f"{stem}.png").stat().st_size > 1000 for stem in texts)

"""Stage figures: every figure of the figures rule, PNG and PDF."""

import pandas as pd

from usae import jobs
from usae.layout import FIGURES
from usae.options import FiguresOptions
from usae.stages.figures import figures


def test_every_figure_is_written(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    files = {figure: [tmp_path / f"{figure}.png", tmp_path / f"{figure}.pdf"] for figure in FIGURES}
    curves = [tmp_path / "curves_usae.png", tmp_path / "curves_usae.pdf"]
    labels = {model: f"Model {i}" for i, model in enumerate(config["models"])}
    figures(
        *(layout.metrics(name, f) for f in ("matrices.json", "summary.json", "concepts.csv", "top_images.npz")),
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        jobs.stores(config, layout, name, "val"),
        jobs.manifest(config, name, "val"),
        **files,
        coherence=layout.metrics(name, "coherence.json"),
        logs=[layout.run_files("usae")["log_csv"]],
        curves=curves,
        options=FiguresOptions.from_config(config),
        top_concepts=config["metrics"]["top_concepts"],
        labels=labels,
        kinds=["usae"],
    )
    for paths in [*files.values(), curves]:
        assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"


def test_galleries_without_any_concept_say_so_and_do_not_crash(tiny_evaluated, tmp_path):
    # No concept specific to one model (equal firings) and none universal (entropy <= 0.9): both galleries empty.
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    frame = pd.read_csv(layout.metrics(name, "concepts.csv"))
    for model in config["models"]:
        frame[f"fires_{model}"] = 5
    frame["entropy"] = 0.5
    frame.to_csv(tmp_path / "concepts.csv", index=False)
    files = {figure: [tmp_path / f"{figure}.png", tmp_path / f"{figure}.pdf"] for figure in FIGURES}
    figures(
        layout.metrics(name, "matrices.json"),
        layout.metrics(name, "summary.json"),
        tmp_path / "concepts.csv",
        layout.metrics(name, "top_images.npz"),
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        jobs.stores(config, layout, name, "val"),
        jobs.manifest(config, name, "val"),
        **files,
        coherence=layout.metrics(name, "coherence.json"),
        options=FiguresOptions.from_config(config),
        top_concepts=config["metrics"]["top_concepts"],
    )
    for figure in ("fig4_universal_concepts", "fig9_model_specific_concepts"):
        assert files[figure][0].stat().st_size > 1000 and files[figure][1].exists()

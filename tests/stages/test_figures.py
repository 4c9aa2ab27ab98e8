"""Stage figures: every figure of the figures rule, PNG and PDF."""

from usae.layout import FIGURES
from usae.stages.figures import figures


def test_every_figure_is_written(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    files = {figure: [tmp_path / f"{figure}.png", tmp_path / f"{figure}.pdf"] for figure in FIGURES}
    figures(*(layout.metrics(name, f) for f in ("matrices.json", "summary.json", "concepts.csv", "top_images.npz")),
            layout.run_files("usae")["weights"], layout.run_files("usae")["meta"],
            [layout.store(name, "val", m) for m in config["models"]], layout.manifest(name, "val"), **files,
            options=config["figures"], top_concepts=config["metrics"]["top_concepts"])
    for paths in files.values():
        assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and paths[1].read_bytes()[:5] == b"%PDF-"

"""Stage explorer: the site of the tiny run, from the metrics, the trained USAE and its val stores."""

from usae import jobs
from usae.options import ExplorerOptions
from usae.stages.explorer import explorer


def test_site_of_the_tiny_run(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    site = explorer(
        *(layout.metrics(name, f) for f in ("matrices.json", "summary.json", "concepts.csv", "top_images.npz")),
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        jobs.stores(config, layout, name, "val"),
        jobs.manifest(config, name, "val"),
        [],
        tmp_path / "none.csv",
        tmp_path / "none",
        tmp_path / "site",
        options=ExplorerOptions.from_config(config),
    )
    assert (site / "index.html").exists() and (site / "data" / "index.js").exists()
    thumbnails = list(site.rglob("*.jpg"))
    assert 0 < len(thumbnails) <= config["dataset"]["embedded"]["n_val"]

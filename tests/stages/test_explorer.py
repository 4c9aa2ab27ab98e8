"""Stage explorer: the site of the tiny run, from the metrics, the trained USAE and its val stores."""

from usae import jobs
from usae.options import ExplorerOptions
from usae.stages.explorer import explorer

METRICS = {"matrices": "json", "summary": "json", "concepts": "csv", "top_images": "npz"}


def test_site_of_the_tiny_run(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    site = explorer(
        tmp_path / "site",
        **{key: layout.metrics(name, f"{key}.{ext}") for key, ext in METRICS.items()},
        usae_weights=layout.run_files("usae")["weights"],
        usae_meta=layout.run_files("usae")["meta"],
        stores=jobs.stores(config, layout, name, "val"),
        manifest=jobs.manifest(config, name, "val"),
        figures=[],
        actmax_table=tmp_path / "none.csv",
        actmax_images=tmp_path / "none",
        options=ExplorerOptions.from_config(config),
    )
    assert (site / "index.html").exists() and (site / "data" / "index.js").exists()
    thumbnails = list(site.rglob("*.jpg"))
    assert 0 < len(thumbnails) <= config["dataset"]["embedded"]["n_val"]

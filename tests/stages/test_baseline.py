"""Stage baseline: matched pairs per model, the matching table and Figs. 7, 7b and 16."""

import numpy as np
import pandas as pd
import torch

from usae import jobs
from usae.activations.batches import evaluation_batches
from usae.sae.checkpoint import load_trained
from usae.stages.baseline import baseline, restricted_title


def test_baseline_files(tiny_evaluated, tmp_path):
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    pairs = [tmp_path / f"pairs_{model}.csv" for model in config["models"]]
    figures = {key: [tmp_path / f"{key}.png", tmp_path / f"{key}.pdf"] for key in ("fig7", "fig16", "fig7b")}
    table = baseline(
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        layout.run_files("independent")["weights"],
        layout.run_files("independent")["meta"],
        layout.metrics(name, "concepts.csv"),
        jobs.stores(config, layout, name, "val"),
        jobs.manifest(config, name, "val"),
        pairs,
        tmp_path / "top.npz",
        [tmp_path / "t.csv", tmp_path / "t.md"],
        **figures,
        top_cofiring=10,
        batch_images=2,
        gallery_images=2,
        seed=0,
    )
    assert list(table["model"]) == [label for m in config["models"] for label in (m, f"random ({m})")]
    for path in pairs:
        matched = pd.read_csv(path)
        assert sorted(matched["usae_concept"]) == list(range(config["train"]["n_concepts"]))
        assert matched["cosine"].between(-1, 1).all()
    for paths in figures.values():
        assert all(path.stat().st_size > 1000 for path in paths)
    assert len(pd.read_csv(tmp_path / "t.csv")) == len(table) and (tmp_path / "t.md").read_text().startswith("| model")


def test_baseline_keeps_each_independent_concepts_top_images(tiny_evaluated, tmp_path):
    """independent_top_images.npz: per model and independent concept, the 2 images with its largest code
    over their tokens (the explorer's twin images), checked against encoding every val image directly."""
    config, layout = tiny_evaluated
    name = config["dataset"]["name"]
    stores = jobs.stores(config, layout, name, "val")
    figures = {key: [tmp_path / f"{key}.png", tmp_path / f"{key}.pdf"] for key in ("fig7", "fig16")}
    baseline(
        layout.run_files("usae")["weights"],
        layout.run_files("usae")["meta"],
        layout.run_files("independent")["weights"],
        layout.run_files("independent")["meta"],
        layout.metrics(name, "concepts.csv"),
        stores,
        None,
        [tmp_path / f"p_{model}.csv" for model in config["models"]],
        tmp_path / "top.npz",
        [tmp_path / "t.csv", tmp_path / "t.md"],
        **figures,
        top_cofiring=10,
        batch_images=3,
        gallery_images=2,
        seed=0,
    )
    _, meta = load_trained(layout.run_files("usae")["weights"], layout.run_files("usae")["meta"])
    saes, _ = load_trained(layout.run_files("independent")["weights"], layout.run_files("independent")["meta"])
    batches = evaluation_batches(stores, meta)
    with np.load(tmp_path / "top.npz") as top:
        assert top["models"].tolist() == config["models"]
        assert top["image_ids"].tolist() == [str(i) for i in batches.stores[config["models"][0]].image_ids]
        for i, model in enumerate(config["models"]):
            with torch.no_grad():
                per_image_Nm = torch.cat(
                    [
                        saes[model].encode(batch[model])[1].view(-1, batches.tokens, saes[model].n_concepts).amax(1)
                        for batch in batches.sequential(3, "test")
                    ]
                )
            best = torch.topk(per_image_Nm, 2, dim=0)
            assert np.allclose(top["values"][i], best.values.numpy(), atol=1e-6)
            # Each kept image has that code (ties at 0, concepts firing on fewer images, may pick any image).
            kept = torch.from_numpy(top["indices"][i])
            assert np.allclose(torch.gather(per_image_Nm, 0, kept).numpy(), top["values"][i], atol=1e-6)
            assert (top["values"][i] > 0).any()


def test_fig16_says_when_its_subset_is_most_of_the_concepts():
    assert restricted_title(1000, 6144).startswith(
        "Matching restricted to the top 1000 co-firing USAE concepts of 6144"
    )
    assert "\n" not in restricted_title(1000, 6144)
    near_all = restricted_title(1000, 1024)
    assert "1000 co-firing USAE concepts of 1024 (98%" in near_all and "nearly Fig. 7" in near_all

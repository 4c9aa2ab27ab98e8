"""The figures stage: the paper's figures from the metrics of the experiment's dataset."""

from pathlib import Path

import numpy as np
import pandas as pd

from usae.checkpoint import load_trained
from usae.figures import (concept_gallery, cofire_energy_scatter, cofire_proportion_curves, entropy_histogram,
                          r2_heatmap)
from usae.gallery import concept_rows, model_specific_concepts, universal_concepts
from usae.io import read_json

FIGURES = ("fig5_r2", "fig6a_entropy", "fig6b_cofire_proportion", "fig6c_cofire_energy",
           "fig4_universal_concepts", "fig9_model_specific_concepts")


def figures_stage(config, dataset_name, metrics_dir, usae_dir, out_dir):
    """Write every figure (PNG + PDF) of ``FIGURES`` into ``out_dir``."""
    from usae.stages import evaluation_batches, manifest_path

    options = config["figures"]
    metrics_dir, out_dir = Path(metrics_dir), Path(out_dir)
    matrices = read_json(metrics_dir / "matrices.json")
    summary = read_json(metrics_dir / "summary.json")
    frame = pd.read_csv(metrics_dir / "concepts.csv")
    names = matrices["models"]
    r2_heatmap(matrices["r2"], names, out_dir / "fig5_r2.png")
    entropy_histogram(frame.loc[~frame["dead"], "entropy"], out_dir / "fig6a_entropy.png", len(names))
    cofire_proportion_curves(frame, names, out_dir / "fig6b_cofire_proportion.png", config["metrics"]["top_concepts"])
    cofire_energy_scatter(frame, {"all": summary["cofire_energy_all"], "frequent": summary["cofire_energy_frequent"]},
                          summary["min_cofires_scaled"], out_dir / "fig6c_cofire_energy.png")

    usae, meta = load_trained(usae_dir)
    batches = evaluation_batches(config, dataset_name, meta)
    grid = tuple(batches.stores[names[0]].meta["grid"])
    top = np.load(metrics_dir / "top_images.npz")["indices"]
    manifest = manifest_path(config, dataset_name, "val")

    def panels(chosen):
        return [{"concept": k, "label": label, "rows": concept_rows(usae.encode, names, batches, manifest, top, k,
                                                                   options["gallery_images"], grid)}
                for k, label in chosen]

    universal = [(k, f"concept {k}") for k in universal_concepts(frame, options["universal_concepts"])]
    concept_gallery(panels(universal) or _empty(names), names, out_dir / "fig4_universal_concepts.png",
                    "Universal concepts: top images per model (Fig. 4)")
    specific = [(k, f"concept {k}\n({name} only)") for k, name in
                model_specific_concepts(frame, names, options["specific_per_model"])]
    concept_gallery(panels(specific) or _empty(names), names, out_dir / "fig9_model_specific_concepts.png",
                    "Model-specific concepts: top images per model (Figs. 9-12)")


def _empty(names):
    return [{"concept": -1, "label": "none found", "rows": {name: [] for name in names}}]

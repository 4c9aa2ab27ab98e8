"""The metrics stage: evaluate the trained USAE (and independent SAEs) on one dataset's val split."""

from pathlib import Path

import numpy as np
import pandas as pd

from usae.checkpoint import load_trained
from usae.concepts import loglog_fit
from usae.evaluate import evaluate_independent, evaluate_usae
from usae.extract import pick_device
from usae.io import atomic_path, write_json
from usae.manifest import write_csv


def concept_frame(table, names):
    """Per-concept statistics as a DataFrame, one row per concept."""
    frame = pd.DataFrame({"concept": np.arange(len(table["entropy"]))})
    for i, name in enumerate(names):
        frame[f"fires_{name}"] = table["fires"][i].astype(np.int64)
    frame["cofires"] = table["cofires"].astype(np.int64)
    frame["entropy"] = table["entropy"]
    for i, name in enumerate(names):
        frame[f"cofire_proportion_{name}"] = table["cofire_proportion"][i]
    for i, name in enumerate(names):
        frame[f"energy_{name}"] = table["energy"][i]
    frame["energy_total"] = table["energy_total"]
    frame["dead"] = table["dead"]
    return frame


def universality_summary(frame, names, n_tokens, options):
    """Scalar universality figures: shares, means of the top concepts by energy, co-fire/energy fits."""
    top = frame.sort_values("energy_total", ascending=False).head(options["top_concepts"])
    min_cofires = options["min_cofires"] * n_tokens / options["reference_tokens"]
    frequent = frame[frame["cofires"] >= min_cofires]
    alive = frame[~frame["dead"]]
    return {
        "tokens": int(n_tokens),
        "concepts": int(len(frame)),
        "dead_share": float(frame["dead"].mean()),
        "dead_share_per_model": {name: float((frame[f"fires_{name}"] == 0).mean()) for name in names},
        "entropy_above_0.9_share": float((alive["entropy"] > 0.9).mean()) if len(alive) else float("nan"),
        "top_concepts": int(len(top)),
        "top_cofire_proportion_mean": {name: float(top[f"cofire_proportion_{name}"].mean()) for name in names},
        "min_cofires_scaled": float(min_cofires),
        "cofire_energy_all": loglog_fit(frame["cofires"], frame["energy_total"]),
        "cofire_energy_frequent": loglog_fit(frequent["cofires"], frequent["energy_total"]),
    }


def metrics_stage(config, dataset_name, usae_dir, independent_dir, out_dir):
    """Evaluate on ``dataset_name``'s val split and write the metrics files.

    Writes ``matrices.json`` (R2 and MSE matrices, independent SAEs' self R2/MSE), ``concepts.csv``,
    ``top_images.npz`` and ``summary.json`` under ``out_dir``.
    """
    from usae.stages import evaluation_batches

    options = config["metrics"]
    out_dir = Path(out_dir)
    usae, meta = load_trained(usae_dir)
    batches = evaluation_batches(config, dataset_name, meta)
    device = pick_device(options["device"])
    result = evaluate_usae(usae, batches, options["batch_images"], options["threshold"], options["top_images"], device)
    norms = np.stack([usae.saes[name].dictionary().detach().cpu().norm(dim=1).numpy() for name in usae.names])
    frame = concept_frame(result["concepts"].table(norms, options["energy_power"]), usae.names)
    independent = {}
    if independent_dir is not None:
        saes, _ = load_trained(independent_dir)
        independent = {name: {"r2": r2, "mse": mse} for name, (r2, mse) in
                       evaluate_independent(saes, batches, options["batch_images"], device).items()}
    write_json(out_dir / "matrices.json", {"dataset": dataset_name, "models": usae.names, "images": batches.n_images,
                                           "r2": result["r2"].tolist(), "mse": result["mse"].tolist(),
                                           "independent": independent})
    write_csv(frame, out_dir / "concepts.csv")
    concepts = result["concepts"]
    with atomic_path(out_dir / "top_images.npz") as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, indices=concepts.top_indices.numpy(), values=concepts.top_values.numpy(),
                     models=np.array(usae.names), image_ids=np.array(batches.stores[usae.names[0]].image_ids))
    summary = universality_summary(frame, usae.names, concepts.n_tokens, options)
    write_json(out_dir / "summary.json", {"dataset": dataset_name, "models": usae.names, **summary})
    return summary

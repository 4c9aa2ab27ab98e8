"""Tables (CSV + Markdown) from the metrics files: Table 1, the universality table, and chance co-firing."""

import numpy as np
import pandas as pd


def reconstruction_table(matrices_by_dataset):
    """Table 1 layout: one row per model, self R2 / MSE of the USAE (and of the independent SAE) per dataset."""
    rows = []
    for dataset, matrices in matrices_by_dataset.items():
        for i, name in enumerate(matrices["models"]):
            cross = [matrices["r2"][i][j] for j in range(len(matrices["models"])) if j != i]
            row = {
                "dataset": dataset,
                "model": name,
                "usae_r2": matrices["r2"][i][i],
                "usae_mse": matrices["mse"][i][i],
                "usae_cross_r2_mean": float(np.mean(cross)) if cross else float("nan"),
            }
            if "r2_over_channel_means" in matrices:  # metrics files before it was recorded lack it
                row["usae_r2_over_channel_means"] = matrices["r2_over_channel_means"][i][i]
            independent = matrices["independent"].get(name)
            if independent:
                row.update({"independent_r2": independent["r2"], "independent_mse": independent["mse"]})
            rows.append(row)
    return pd.DataFrame(rows)


def universality_table(summaries):
    """One row per dataset: dead share, share of firing concepts with entropy > 0.9, co-fire means, fits."""
    rows = []
    for dataset, summary in summaries.items():
        row = {
            "dataset": dataset,
            "tokens": summary["tokens"],
            "dead_share": summary["dead_share"],
            "entropy_above_0.9_share": summary["entropy_above_0.9_share"],
        }
        row.update(
            {
                f"cfp_top{summary['top_concepts']}_{name}": value
                for name, value in summary["top_cofire_proportion_mean"].items()
            }
        )
        row.update(
            {
                "r_cofire_energy_all": summary["cofire_energy_all"]["r"],
                "slope_all": summary["cofire_energy_all"]["slope"],
                "r_cofire_energy_frequent": summary["cofire_energy_frequent"]["r"],
                "slope_frequent": summary["cofire_energy_frequent"]["slope"],
                "min_cofires_scaled": summary["min_cofires_scaled"],
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def chance_cofire_proportion(frame, names, n_tokens, top):
    """Mean co-fire proportion of the top concepts if models fired independently: prod_{j != i} P(fire_j)."""
    ranked = frame.sort_values("energy_total", ascending=False).head(top)
    rates = ranked[[f"fires_{name}" for name in names]].to_numpy(dtype=float) / n_tokens
    return {name: float(np.prod(np.delete(rates, i, axis=1), axis=1).mean()) for i, name in enumerate(names)}

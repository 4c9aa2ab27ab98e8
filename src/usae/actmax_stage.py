"""The activation-maximisation stage: render chosen concepts for every model, side by side."""

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from usae.actmax import ConceptProbe, natural_magnitude_spectrum, render_concept
from usae.checkpoint import load_trained
from usae.datasets import embedded_photos
from usae.figures import actmax_figure
from usae.gallery import model_specific_concepts, universal_concepts
from usae.models import load_token_model, model_spec
from usae.report import write_table


def chosen_concepts(options, frame, names):
    """``[(concept, label)]``: the configured list, or top universal plus model-specific concepts."""
    if options["concepts"]:
        return [(k, f"concept {k}") for k in options["concepts"]]
    chosen = [(k, f"concept {k} (universal)") for k in universal_concepts(frame, options["universal"])]
    if options["specific_per_model"]:
        chosen += [(k, f"concept {k} ({name})") for k, name in
                   model_specific_concepts(frame, names, options["specific_per_model"])]
    return chosen


def actmax_stage(config, usae_dir, concepts_csv, images_dir, figure_path, tables_dir):
    """Render every chosen concept for every model; write images, Fig. 8 and the cross-activation table.

    Returns
    -------
    pandas.DataFrame
        Cross-activation: one row per (concept, image optimised for model i), one column per model j:
        the mean over tokens of concept k's code in model j on that image.
    """
    options = config["actmax"]
    usae, meta = load_trained(usae_dir)
    names = usae.names
    concepts = chosen_concepts(options, pd.read_csv(concepts_csv), names)
    probes = {name: ConceptProbe(load_token_model(model_spec(name, config["model_zoo"])), usae.saes[name].encoder,
                                 tuple(meta["stats"][name]), config["extract"]["grid"]) for name in names}
    sizes = {name: options["image_size"] or probes[name].token_model.spec.image_size for name in names}
    magnitudes = {name: None for name in names}
    if options["parameterization"] == "maco":
        photos = list(embedded_photos().values())
        magnitudes = {name: natural_magnitude_spectrum(photos, size) for name, size in sizes.items()}
    images, rows = {}, []
    for concept, label in concepts:
        for i, name in enumerate(names):
            image = render_concept(probes[name], concept, sizes[name], options["steps"], options["lr"],
                                   options["parameterization"], config["seed"] + concept * len(names) + i,
                                   magnitudes[name])
            images[(concept, name)] = image
            path = Path(images_dir) / f"concept_{concept:05d}_{name}.png"
            _save_png(image, path)
            row = {"concept": concept, "label": label, "optimised_for": name}
            for other in names:
                resized = torch.nn.functional.interpolate(image, size=probes[other].token_model.spec.image_size,
                                                          mode="bilinear", align_corners=False)
                row[other] = float(probes[other].concept_activation(resized, concept)[0][0])
            start = torch.full_like(image, 0.5)
            row["start_activation"] = float(probes[name].concept_activation(start, concept)[0][0])
            rows.append(row)
    table = pd.DataFrame(rows)
    write_table(table, Path(tables_dir) / "actmax_cross_activation")
    actmax_figure(images, table, concepts, names, figure_path)
    return table


def _save_png(image_13HW, path):
    from PIL import Image

    from usae.io import atomic_path

    pixels = (image_13HW[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")

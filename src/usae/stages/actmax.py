"""Stage actmax: coordinated activation maximisation of chosen concepts in every model (Fig. 8), with lucent."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from usae.analysis.activation_maximisation import ConceptProbe, natural_magnitude_spectrum, render_concept
from usae.analysis.gallery import model_specific_concepts, universal_concepts
from usae.analysis.plots import actmax_figure, label_of
from usae.data.embedded_photos import embedded_photos
from usae.io import atomic_path, read_json, write_table
from usae.models.loaders import load_token_model, model_spec
from usae.progress import Progress
from usae.sae.checkpoint import load_trained

log = logging.getLogger(__name__)


def chosen_concepts(options, frame, names, min_cofires, labels=None):
    """``[(concept, label)]``: the configured list, or top universal plus model-specific concepts (labelled
    with the model's display name, ``labels``)."""
    if options.concepts:
        return [(k, f"concept {k}") for k in options.concepts]
    chosen = [(k, f"concept {k} (universal)") for k in universal_concepts(frame, options.universal, min_cofires)]
    if options.specific_per_model:
        chosen += [
            (k, f"concept {k} ({label_of(name, labels)})")
            for k, name in model_specific_concepts(frame, names, options.specific_per_model)
        ]
    return chosen


def actmax(
    usae_weights, usae_meta, concepts, summary, figure, table, images, *, options, model_zoo, grid, seed, labels=None
):
    """Render every chosen concept for every model; write the images, Fig. 8 and the cross-activation table.

    Parameters
    ----------
    usae_weights, usae_meta : path
        The trained USAE.
    concepts : path
        The experiment's ``concepts.csv``, to choose universal and model-specific concepts.
    summary : path
        The experiment's ``summary.json`` (the co-fires a universal concept needs).
    figure : list of path
        PNG and PDF of Fig. 8.
    table : list of path
        CSV and Markdown of the cross-activation table.
    images : path
        Folder of the images, ``concept_<k>_<model>.png``.
    options : usae.options.ActmaxOptions
    model_zoo : dict
        The config's ``model_zoo`` entries of the run's models (the built-in registry for the others).
    grid : int
        Side of the common token grid (``extract.grid``).
    seed : int
    labels : dict, optional
        Display names of the models in Fig. 8.

    Returns
    -------
    pandas.DataFrame
        Cross-activation: one row per (concept, image optimised for model i), one column per model j:
        the mean over tokens of concept k's code in model j on that image.
    """
    usae, meta = load_trained(usae_weights, usae_meta)
    names = usae.names
    chosen = chosen_concepts(options, pd.read_csv(concepts), names, read_json(summary)["min_cofires_scaled"], labels)
    probes = {
        name: ConceptProbe(
            load_token_model(model_spec(name, model_zoo)), usae.saes[name].encoder, tuple(meta["stats"][name]), grid
        )
        for name in names
    }
    sizes = {name: options.image_size or probes[name].token_model.spec.image_size for name in names}
    magnitudes = {name: None for name in names}
    if options.parameterization == "maco":
        photos = list(embedded_photos().values())
        magnitudes = {name: natural_magnitude_spectrum(photos, size) for name, size in sizes.items()}
    Path(images).mkdir(parents=True, exist_ok=True)
    rendered, rows = {}, []
    with Progress(len(chosen) * len(names), "actmax", unit="image") as progress:
        for concept, label in chosen:
            for i, name in enumerate(names):
                image = render_concept(
                    probes[name],
                    concept,
                    sizes[name],
                    options.steps,
                    options.lr,
                    options.parameterization,
                    seed + concept * len(names) + i,
                    magnitudes[name],
                )
                rendered[(concept, name)] = image
                _save_png(image, Path(images) / f"concept_{concept:05d}_{name}.png")
                rows.append(
                    {
                        "concept": concept,
                        "label": label,
                        "optimised_for": name,
                        **cross_activation(probes, image, concept),
                        "start_activation": float(
                            probes[name].concept_activation(torch.full_like(image, 0.5), concept)[0][0]
                        ),
                    }
                )
                progress.update()
    frame = pd.DataFrame(rows, columns=["concept", "label", "optimised_for", *names, "start_activation"])
    write_table(frame, table)
    actmax_figure(rendered, frame, chosen, names, figure, labels)
    log.info("rendered %d concepts for %d models into %s", len(chosen), len(names), images)
    return frame


def cross_activation(probes, image, concept):
    """Mean top-k code of ``concept`` in every model on one image, resized to each model's input."""
    values = {}
    for name, probe in probes.items():
        resized = torch.nn.functional.interpolate(
            image, size=probe.token_model.spec.image_size, mode="bilinear", align_corners=False
        )
        values[name] = float(probe.concept_activation(resized, concept)[0][0])
    return values


def _save_png(image_13HW, path):
    from PIL import Image

    pixels = (image_13HW[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")

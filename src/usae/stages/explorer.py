"""Stage explorer: a self-contained static site to browse every concept of the trained USAE."""

import logging

from usae.explorer.build import build_explorer

log = logging.getLogger(__name__)


def explorer(
    matrices,
    summary,
    concepts,
    top_images,
    usae_weights,
    usae_meta,
    stores,
    manifest,
    figures,
    actmax_table,
    actmax_images,
    site,
    pairs=(),
    independent_top=None,
    baseline_table=None,
    *,
    options,
    labels=None,
):
    """Build ``site/index.html`` from the experiment's metrics, the trained USAE and its val stores.

    Parameters
    ----------
    matrices, summary, concepts, top_images : path
        The metrics stage's files of the experiment's dataset.
    usae_weights, usae_meta : path
        The trained USAE (heatmaps encode each shown image's tokens).
    stores : list of path
        ``meta.json`` of each model's val store.
    manifest : path or None
        The val manifest (image files and labels); None or empty: no images (imported activations),
        so the site shows heatmaps without thumbnails.
    figures : list of path
        Figure PNGs shown at the top of the site.
    actmax_table, actmax_images : path or None
        The actmax stage's cross-activation CSV and image folder (None or empty: no actmax).
    site : path
        Folder of the site, replaced as a whole.
    pairs : list of path
        The baseline stage's ``pairs_<model>.csv`` in the run's model order (each concept's independent-SAE
        twins); empty: no baseline (``train.independent: false``), which the site says.
    independent_top : path or None
        The baseline stage's ``independent_top_images.npz`` (each twin's own top images); None or empty:
        none.
    baseline_table : path or None
        The baseline's ``baseline_matching.csv`` (its random rows: what a twin's cosine is worth by chance).
    options : usae.options.ExplorerOptions
    labels : dict, optional
        Each model's display name in the site (:func:`usae.jobs.model_labels`).
    """
    if not manifest:
        log.info("explorer: no image thumbnails: no images (dataset.source: activations)")
    built = build_explorer(
        concepts,
        top_images,
        matrices,
        summary,
        manifest or None,
        usae_weights,
        usae_meta,
        stores,
        figures,
        actmax_table or None,
        actmax_images or None,
        site,
        pairs_csvs=pairs,
        independent_top_npz=independent_top or None,
        baseline_csv=baseline_table or None,
        universal_entropy=options.universal_entropy,
        specific_share=options.specific_share,
        gallery_images_per_model=options.gallery_images,
        thumbnail_px=options.thumbnail_px,
        neighbours=options.neighbours,
        chunk_size=options.chunk_size,
        batch_images=options.batch_images,
        device=options.device,
        labels=labels,
    )
    log.info("explorer: open %s/index.html", built)
    return built

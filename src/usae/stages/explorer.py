"""Stage explorer: a self-contained static site to browse every concept of the trained USAE."""

import logging

from usae.explorer.build import ExplorerFiles, build_explorer

log = logging.getLogger(__name__)


def explorer(site, *, options, labels=None, **files):
    """Build ``site/index.html`` from the experiment's metrics, the trained USAE and its val stores.

    Parameters
    ----------
    site : path
        Folder of the site, replaced as a whole.
    options : usae.options.ExplorerOptions
    labels : dict, optional
        Each model's display name in the site (:func:`usae.jobs.model_labels`).
    **files
        The fields of :class:`usae.explorer.build.ExplorerFiles`: the files the site is built from.
    """
    files = ExplorerFiles(**files)
    if not files.manifest:
        log.info("explorer: no image thumbnails: no images (dataset.source: activations)")
    built = build_explorer(files, site, options, labels)
    log.info("explorer: open %s/index.html", built)
    return built

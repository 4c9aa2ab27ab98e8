"""The results layout and the shared cache: every file a stage reads or writes, spelled once.

The Snakemake rules call these with wildcard patterns (``layout.metrics("{dataset}", "summary.json")``)
and the ``usae`` command with real names, so both read and write the same files. Imports nothing heavy:
the Snakefile uses it at parse time.

A stage's outputs live under ``<results>/<stage>/``, except the figures and tables that several stages
write into the shared ``figures/`` and ``tables/`` folders, the scorecard at the top, and the fetched
datasets and activation stores, which live in the :class:`Cache` that experiments share.
"""

import posixpath

# Figures written by the figures stage: the paper's (the baseline and actmax stages write Figs. 7, 7b, 8 and 16),
# and beyond the paper label coherence against its null and the concepts by the set of models they fire in.
FIGURES = (
    "fig5_r2",
    "fig6a_entropy",
    "fig6b_cofire_proportion",
    "fig6c_cofire_energy",
    "fig4_universal_concepts",
    "fig9_model_specific_concepts",
    "coherence_null",
    "firing_sets",
)
# Figures drawn from images or their labels (top-image galleries, label coherence): not drawn for an experiment
# without images.
IMAGE_FIGURES = ("fig4_universal_concepts", "fig9_model_specific_concepts", "coherence_null")
FIGURE_FORMATS = (".png", ".pdf")
TABLE_FORMATS = (".csv", ".md")
SPLITS = ("train", "val")


def manifest_seal(manifest):
    """The seal of a manifest ``<split>.csv``: ``<split>.seal.json`` beside it (its rows and the sha256 of its
    bytes, :func:`usae.data.manifest.write_manifest`)."""
    head, name = posixpath.split(str(manifest))
    return posixpath.join(head, name.rsplit(".", 1)[0] + ".seal.json")


def drawn_figures(images):
    """The figures stage's figures: every one of :data:`FIGURES`, or without :data:`IMAGE_FIGURES` when there are
    no images."""
    return [name for name in FIGURES if images or name not in IMAGE_FIGURES]


def site_figures(images, independent):
    """Figures shown at the top of the explorer: the drawn ones, the baseline's and activation maximisation's."""
    return (
        drawn_figures(images)
        + (["fig7_matching", "fig16_matching_top_cofiring"] if independent else [])
        + (["fig8_actmax"] if images else [])
    )


class Cache:
    """Paths of the folders that experiments share: fetched datasets and activation stores.

    Each folder is named by a content address that :mod:`usae.jobs` computes from the config values its
    bytes depend on (:func:`usae.jobs.data_key`, :func:`usae.jobs.store_digest`): experiments that agree on
    them read the same folder, and a different value gets its own.

    Parameters
    ----------
    data, activations : str
        The config's ``data`` and ``activations`` roots.
    """

    def __init__(self, data, activations):
        self.data = str(data)
        self.activations = str(activations)

    def manifest(self, data, split):
        """Manifest CSV of one split (image_id, path, label, sha256) of data folder ``data``."""
        return posixpath.join(self.data, data, f"{split}.csv")

    def rejects(self, data, split):
        """Images of one split that could not be read, with the reason."""
        return posixpath.join(self.data, data, f"{split}.rejects.csv")

    def images(self, data, split):
        """Folder where sources that materialise images (embedded, imagenet_hf) write one split's files."""
        return posixpath.join(self.data, data, "images", split)

    def packages(self):
        """Photographs fetched from registry packages (``packages`` source), shared by every data folder."""
        return posixpath.join(self.data, "packages")

    def _store_folder(self, data, split, model, digest):
        return posixpath.join(self.activations, data, split, f"{model}-{digest}")

    def store(self, data, split, model, digest):
        """An activation store of ``model`` on a split of data folder ``data``, named by its ``meta.json``
        (written last: the store is complete)."""
        return posixpath.join(self._store_folder(data, split, model, digest), "meta.json")

    def store_part(self, data, split, model, digest, part):
        """One part of a store extracted in parts (``extract.parts``), named by its ``part.json``
        (written last). Its shards go beside it until the merge links them into the store and deletes it."""
        return posixpath.join(self._store_folder(data, split, model, digest), "parts", str(part), "part.json")


class Layout:
    """Paths of one results folder, and of one training run in it.

    Data and activation stores are shared across experiments (:class:`Cache`). What depends on training
    (the run's models, metrics, baseline, activation maximisation, figures, tables, scorecard,
    explorer, and its jobs' logs) lives under the run's folder: the results folder itself for the
    one run of an experiment without replicates, ``replicates/<run>/`` in it for a replicate, and
    ``sweeps/<name>/<point>/`` for a point of a sweep.

    Parameters
    ----------
    results : str
        The config's ``results`` folder.
    run : str, optional
        The run's folder in the results folder (``replicates/r1``, ``sweeps/<name>/<point>``, or a wildcard
        pattern of them); None: the results folder's own run.
    """

    def __init__(self, results, run=None):
        self.root = str(results)
        self.run = run
        self.run_root = self.root if run is None else posixpath.join(self.root, run)

    def for_run(self, run):
        """The layout of run ``run`` in the same results folder (same stores)."""
        return Layout(self.root, run)

    def _path(self, *parts):
        return posixpath.join(self.root, *parts)

    def _run_path(self, *parts):
        return posixpath.join(self.run_root, *parts)

    def resolved_config(self):
        """The experiment's config as resolved (every key, defaults included), written by the record stage once
        the run's outputs exist."""
        return self._path("config.yaml")

    def imported_store(self, dataset, split, model):
        """An imported activation store (dataset source ``activations``: no images, so no content address),
        named by its ``meta.json``."""
        return self._path("activations", dataset, split, model, "meta.json")

    # train
    def run_files(self, kind):
        """The files of a training run of ``kind``: ``weights``, ``meta`` and ``log_csv`` (its curves are a figure).

        Its resume and milestone checkpoints go to ``checkpoints/`` beside the weights.
        """
        folder = self._run_path("train", kind)
        return {
            "weights": posixpath.join(folder, "model.safetensors"),
            "meta": posixpath.join(folder, "model.json"),
            "log_csv": posixpath.join(folder, "log.csv"),
        }

    # metrics
    def metrics(self, dataset, name):
        """A metrics file of one evaluated dataset: matrices.json, concepts.csv, top_images.npz, summary.json."""
        return self._run_path("metrics", dataset, name)

    # baseline
    def pairs(self, model):
        """Matched (USAE, independent) concept pairs of one model."""
        return self._run_path("baseline", f"pairs_{model}.csv")

    def independent_top_images(self):
        """Top images of every independent SAE's concepts on the val split (as ``top_images.npz``)."""
        return self._run_path("baseline", "independent_top_images.npz")

    # actmax
    def actmax_images(self):
        """Folder of the activation-maximisation images, one PNG per (concept, model)."""
        return self._run_path("actmax", "images")

    # shared folders
    def figure(self, name):
        """Stem of a figure; add :data:`FIGURE_FORMATS` (``multiext`` in rules, :meth:`figure_files`)."""
        return self._run_path("figures", name)

    def figure_files(self, name):
        """The PNG and PDF of a figure."""
        return [self.figure(name) + suffix for suffix in FIGURE_FORMATS]

    def table(self, name):
        """Stem of a table; add :data:`TABLE_FORMATS`."""
        return self._run_path("tables", name)

    def table_files(self, name):
        """The CSV and Markdown of a table."""
        return [self.table(name) + suffix for suffix in TABLE_FORMATS]

    def scorecard(self, suffix=".md"):
        """Each claim of the paper beside this run's value (``.md``) and as JSON for ``dvc metrics``."""
        return self._run_path(f"scorecard{suffix}")

    def headline(self):
        """The run's headline numbers and claim counts (JSON, the metrics of ``dvc exp show``)."""
        return self._run_path("headline.json")

    def sweep_table(self, name):
        """CSV and Markdown of sweep ``name``'s summary: one row per point."""
        return [self._path("sweeps", name, "summary" + suffix) for suffix in TABLE_FORMATS]

    def sweep_metrics(self, name):
        """JSON of sweep ``name``'s summary by point, for ``dvc metrics show``."""
        return self._path("sweeps", name, "summary.json")

    def sweep_figure(self, name):
        """PNG and PDF of sweep ``name``'s main metrics against each swept key."""
        return [self._path("sweeps", name, "metrics" + suffix) for suffix in FIGURE_FORMATS]

    def explorer(self):
        """Folder of the concept explorer site."""
        return self._run_path("explorer")

    def log(self, rule, *names):
        """Log file of one job of ``rule``."""
        return (
            self._run_path("logs", rule, "_".join(names) + ".log") if names else self._run_path("logs", f"{rule}.log")
        )

    def benchmark(self, rule, *names):
        """Snakemake benchmark file of one job of ``rule``."""
        stem = "_".join(names) if names else rule
        return self._run_path("benchmarks", rule, f"{stem}.tsv")

"""The ``usae`` command: run one pipeline stage outside Snakemake, or import your own activations.

Each stage subcommand calls the same function as the Snakemake rule of that name, on the files of
:mod:`usae.layout` and the parameters of the config, for every job the rule would run.
"""

import argparse
import sys
import traceback
from pathlib import Path

from usae.errors import UserError

DEFAULT_CONFIG = "config/config.yaml"


def _setup(args):
    """Validated config, its results layout, and this process's logging and threads."""
    from usae.config import load_config
    from usae.layout import Layout
    from usae.runtime import configure

    config = load_config(args.config)
    configure(threads=config["threads"])
    return config, Layout(config["results"])


def _require(stage, *paths):
    """Stop with one line naming the first missing input file, written by ``usae <stage>``."""
    for path in paths:
        if not Path(path).exists():
            raise UserError(f"{path}: missing; run 'usae {stage}' first")


def _val_manifest(layout, config):
    """The experiment's val manifest, or None when its dataset has no images (imported activations)."""
    from usae.config import has_images

    if not has_images(config["dataset"]):
        return None
    manifest = layout.manifest(config["dataset"]["name"], "val")
    _require("fetch", manifest)
    return manifest


def _run_files(layout, kind):
    return {"weights": layout.trained(kind, "model.safetensors"), "meta": layout.trained(kind, "model.json")}


def _trained(layout, kind):
    files = _run_files(layout, kind)
    _require("train", *files.values())
    return files


def _metrics(layout, name, *files):
    paths = [layout.metrics(name, f) for f in files]
    _require("metrics", *paths)
    return paths


def cmd_fetch(args):
    """Write the manifests of the datasets' splits (datasets with images; imported activations have none)."""
    from usae.config import all_datasets, has_images
    from usae.errors import ConfigError
    from usae.stages.fetch import fetch

    config, layout = _setup(args)
    datasets = all_datasets(config)
    if args.dataset and args.dataset not in datasets:
        raise ConfigError(f"{args.config}: no dataset named '{args.dataset}' (known: {', '.join(datasets)})")
    for name, (key, dataset) in datasets.items():
        if (args.dataset and name != args.dataset) or not has_images(dataset):
            continue
        for split in args.split or (["train", "val"] if key == "dataset" else ["val"]):
            fetch(layout.manifest(name, split), layout.rejects(name, split), layout.images(name, split),
                  dataset=dataset, key=key, split=split, seed=config["seed"], cache=layout.package_cache())


def cmd_extract(args):
    """Extract activation stores for the configured models."""
    from usae.config import all_datasets, has_images
    from usae.errors import ConfigError
    from usae.stages.extract import extract

    config, layout = _setup(args)
    dataset = args.dataset or config["dataset"]["name"]
    key, entry = all_datasets(config).get(dataset, (None, None))
    if entry is not None and not has_images(entry):
        raise ConfigError(f"{args.config}: {key}.source is 'activations': its stores are imported, not extracted")
    for model in args.model or config["models"]:
        for split in args.split or ["train", "val"]:
            _require("fetch", layout.manifest(dataset, split))
            extract(layout.manifest(dataset, split), layout.store(dataset, split, model), model=model,
                    zoo_entry=config["model_zoo"].get(model), options=config["extract"], seed=config["seed"])


def cmd_train(args):
    """Train the USAE or the independent SAEs (resumes from the last checkpoint)."""
    from usae.layout import FIGURE_FORMATS
    from usae.stages.train import train

    config, layout = _setup(args)
    for kind in args.kind or (["usae", "independent"] if config["train"]["independent"] else ["usae"]):
        trained = _run_files(layout, kind)
        train(layout.stores(config["dataset"]["name"], "train", config["models"]), trained["weights"], trained["meta"],
              layout.trained(kind, "log.csv"), [layout.trained(kind, "curves") + s for s in FIGURE_FORMATS],
              kind=kind, options=config["train"], seed=config["seed"])


def cmd_metrics(args):
    """Evaluate the trained USAE (and independent SAEs) on every dataset's val split."""
    from usae.config import all_datasets
    from usae.stages.metrics import metrics

    config, layout = _setup(args)
    usae = _trained(layout, "usae")
    independent = list(_trained(layout, "independent").values()) if config["train"]["independent"] else []
    for name in all_datasets(config):
        metrics(usae["weights"], usae["meta"], layout.stores(name, "val", config["models"]),
                *(layout.metrics(name, f) for f in ("matrices.json", "concepts.csv", "top_images.npz", "summary.json")),
                dataset=name, options=config["metrics"], independent=independent)


def cmd_baseline(args):
    """Match independent-SAE concepts to USAE concepts (Figs. 7, 7b and 16)."""
    from usae.stages.baseline import baseline

    config, layout = _setup(args)
    name = config["dataset"]["name"]
    usae, independent = _trained(layout, "usae"), _trained(layout, "independent")
    table = baseline(usae["weights"], usae["meta"], independent["weights"], independent["meta"],
                     *_metrics(layout, name, "concepts.csv"), layout.stores(name, "val", config["models"]),
                     _val_manifest(layout, config), [layout.pairs(model) for model in config["models"]],
                     layout.table_files("baseline_matching"), layout.figure_files("fig7_matching"),
                     layout.figure_files("fig16_matching_top_cofiring"), fig7b=layout.figure_files("fig7b_matched_pairs"),
                     top_cofiring=config["baseline"]["top_cofiring"], batch_images=config["metrics"]["batch_images"],
                     gallery_images=config["figures"]["gallery_images"], seed=config["seed"])
    print(table.to_string(index=False))


def cmd_actmax(args):
    """Coordinated activation maximisation of the chosen concepts (Fig. 8)."""
    from usae.config import has_images
    from usae.errors import ConfigError
    from usae.stages.actmax import actmax

    config, layout = _setup(args)
    if not has_images(config["dataset"]):
        raise ConfigError(f"{args.config}: dataset.source is 'activations': no model to optimise images for")
    usae = _trained(layout, "usae")
    table = actmax(usae["weights"], usae["meta"], *_metrics(layout, config["dataset"]["name"], "concepts.csv"),
                   layout.figure_files("fig8_actmax"), layout.table_files("actmax_cross_activation"),
                   layout.actmax_images(), options=config["actmax"], model_zoo=config["model_zoo"],
                   grid=config["extract"]["grid"], seed=config["seed"])
    print(table.to_string(index=False))


def cmd_figures(args):
    """The paper's figures from the experiment's metrics (without images, no galleries)."""
    from usae.config import has_images
    from usae.layout import drawn_figures
    from usae.stages.figures import figures

    config, layout = _setup(args)
    name = config["dataset"]["name"]
    usae = _trained(layout, "usae")
    files = _metrics(layout, name, "matrices.json", "summary.json", "concepts.csv", "top_images.npz")
    figures(*files, usae["weights"], usae["meta"], layout.stores(name, "val", config["models"]),
            _val_manifest(layout, config),
            **{figure: layout.figure_files(figure) for figure in drawn_figures(has_images(config["dataset"]))},
            options=config["figures"], top_concepts=config["metrics"]["top_concepts"])


def cmd_tables(args):
    """Tables and the scorecard from every dataset's metrics (and the baseline table, if any)."""
    from usae.config import all_datasets
    from usae.stages.tables import tables

    config, layout = _setup(args)
    datasets, name = list(all_datasets(config)), config["dataset"]["name"]
    baseline = layout.table("baseline_matching") + ".csv"
    tables([path for d in datasets for path in _metrics(layout, d, "matrices.json")],
           [path for d in datasets for path in _metrics(layout, d, "summary.json")], *_metrics(layout, name, "concepts.csv"), layout.table_files("reconstruction"), layout.table_files("universality"),
           layout.table("concepts") + ".csv", layout.table("concepts_top25") + ".md", layout.scorecard(".md"),
           layout.scorecard(".json"), datasets=datasets, experiment=name,
           baseline=[baseline] if Path(baseline).exists() else [])
    print(layout.scorecard(".md"))


def cmd_explorer(args):
    """The concept explorer site (results/explorer/index.html)."""
    from usae.layout import site_figures
    from usae.stages.explorer import explorer

    config, layout = _setup(args)
    name = config["dataset"]["name"]
    usae = _trained(layout, "usae")
    files = _metrics(layout, name, "matrices.json", "summary.json", "concepts.csv", "top_images.npz")
    figures = [layout.figure(figure) + ".png" for figure in site_figures(True, True)]
    site = explorer(*files, usae["weights"], usae["meta"], layout.stores(name, "val", config["models"]),
                    _val_manifest(layout, config), [path for path in figures if Path(path).exists()],
                    layout.table("actmax_cross_activation") + ".csv", layout.actmax_images(), layout.explorer(),
                    options=config["explorer"])
    print(f"{site}/index.html")


def cmd_import_acts(args):
    """Write a (N, T, D) .npy array of your own model's activations as an activation store."""
    import numpy as np

    from usae.activations.store import write_store

    acts_NTD = np.load(args.acts, mmap_mode="r")
    with open(args.ids) as handle:
        image_ids = [line.strip() for line in handle if line.strip()]
    meta = write_store(args.out, acts_NTD, image_ids, args.model, grid=tuple(args.grid) if args.grid else None,
                       shard_images=args.shard_images, dtype=args.dtype, stat_images=args.stat_images,
                       seed=args.seed, source={"imported_from": str(args.acts)})
    print(f"{args.out}: {meta['n_images']} images x {meta['tokens']} tokens x {meta['dim']}")


def positive_int(text):
    """An integer of at least 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser():
    """The argument parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(
        prog="usae", description="Universal Sparse Autoencoders pipeline. Stages: fetch -> extract -> train -> "
        "metrics -> baseline -> actmax -> figures -> tables -> explorer. "
        "Run the whole DAG with 'snakemake --cores all'.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="STAGE")

    def stage(name, func, help_text):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        command.add_argument("--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})")
        return command

    fetch = stage("fetch", cmd_fetch, "dataset fetch: write split manifests (results/data/<dataset>/<split>.csv)")
    fetch.add_argument("--dataset", help="dataset name (default: every configured dataset)")
    fetch.add_argument("--split", action="append", choices=["train", "val"])
    extract = stage("extract", cmd_extract, "activation extraction into stores (results/activations/...)")
    extract.add_argument("--dataset", help="dataset name (default: the experiment's dataset)")
    extract.add_argument("--split", action="append", choices=["train", "val"])
    extract.add_argument("--model", action="append", help="model name (default: every configured model)")

    train = stage("train", cmd_train, "USAE / independent-SAE training (results/train/<kind>/)")
    train.add_argument("--kind", action="append", choices=["usae", "independent"])

    stage("metrics", cmd_metrics, "universality and importance metrics (results/metrics/<dataset>/)")
    stage("baseline", cmd_baseline, "independent-SAE baseline, Hungarian matching (results/baseline/)")
    stage("actmax", cmd_actmax, "coordinated activation maximisation with lucent (results/actmax/)")
    stage("figures", cmd_figures, "the paper's figures from the metrics (results/figures/)")
    stage("tables", cmd_tables, "tables and the scorecard (results/tables/, results/scorecard.md)")
    stage("explorer", cmd_explorer, "the concept explorer site (results/explorer/index.html)")

    imported = commands.add_parser("import-acts", help="bring your own activations: write a (N, T, D) .npy as a store")
    imported.set_defaults(func=cmd_import_acts)
    imported.add_argument("--acts", required=True, help=".npy file of shape (N, T, D)")
    imported.add_argument("--ids", required=True, help="text file, one image id per line, in array order")
    imported.add_argument("--model", required=True, help="model name recorded in the store")
    imported.add_argument("--out", required=True, help="store folder to write")
    imported.add_argument("--grid", type=int, nargs=2, metavar=("H", "W"), help="token grid (default: square)")
    imported.add_argument("--shard-images", type=positive_int, default=1024)
    imported.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    imported.add_argument("--stat-images", type=positive_int, default=1000)
    imported.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    """Entry point of the ``usae`` command.

    Errors of the user's input (:class:`usae.errors.UserError`: config, dataset, store, checkpoint and
    weight-file errors) end in one line on stderr and exit code 2 (``--debug``: their traceback). Any
    other exception is a bug: its traceback and a request to report it, exit code 1.
    """
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as exc:
        if args.debug:
            raise
        print(f"usae: error: {exc}", file=sys.stderr)
        return 2
    except Exception:
        traceback.print_exc()
        print("usae: internal error: this is a bug in usae, not in your input; please report it with the "
              "traceback above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``usae`` command: run one pipeline stage outside Snakemake, or import your own activations."""

import argparse
import sys

import numpy as np

DEFAULT_CONFIG = "config/config.yaml"


def _config(args):
    from usae.config import load_config

    return load_config(args.config)


def cmd_fetch(args):
    """Write the manifests of a dataset's splits."""
    from usae.stages import all_datasets, fetch_split

    config = _config(args)
    for name in [args.dataset] if args.dataset else list(all_datasets(config)):
        for split in args.split or ["train", "val"]:
            manifest = fetch_split(config, name, split)
            print(f"{name}/{split}: {len(manifest)} images")


def cmd_extract(args):
    """Extract activation stores for the configured models."""
    from usae.stages import extract_split

    config = _config(args)
    dataset = args.dataset or config["dataset"]["name"]
    for model in args.model or config["models"]:
        for split in args.split or ["train", "val"]:
            meta = extract_split(config, dataset, split, model)
            print(f"{dataset}/{split}/{model}: {meta['n_images']} images x {meta['tokens']} tokens x {meta['dim']}")


def cmd_train(args):
    """Train the USAE or the independent SAEs (resumes from the last checkpoint)."""
    from usae.stages import train_stage

    config = _config(args)
    for kind in args.kind or ["usae", "independent"]:
        train_stage(config, kind)
        print(f"{config['results']}/train/{kind}/model.safetensors")


def cmd_metrics(args):
    """Evaluate the trained USAE (and independent SAEs) on every dataset's val split."""
    from usae.evaluation_stage import metrics_stage
    from usae.stages import all_datasets, results_path

    config = _config(args)
    independent = results_path(config, "train", "independent") if config["train"]["independent"] else None
    for name in all_datasets(config):
        summary = metrics_stage(config, name, results_path(config, "train", "usae"), independent,
                                results_path(config, "metrics", name))
        print(f"{name}: {summary['tokens']} tokens, dead share {summary['dead_share']:.3f}")


def cmd_baseline(args):
    """Match independent-SAE concepts to USAE concepts (Figs. 7 and 16)."""
    from usae.baseline_stage import baseline_stage
    from usae.stages import results_path

    config = _config(args)
    name = config["dataset"]["name"]
    table = baseline_stage(config, name, results_path(config, "train", "usae"),
                           results_path(config, "train", "independent"),
                           results_path(config, "metrics", name, "concepts.csv"), results_path(config, "baseline"),
                           results_path(config, "figures"), results_path(config, "tables"))
    print(table.to_string(index=False))


def cmd_actmax(args):
    """Coordinated activation maximisation of the chosen concepts (Fig. 8)."""
    from usae.actmax_stage import actmax_stage
    from usae.stages import results_path

    config = _config(args)
    name = config["dataset"]["name"]
    table = actmax_stage(config, results_path(config, "train", "usae"),
                         results_path(config, "metrics", name, "concepts.csv"), results_path(config, "actmax", "images"),
                         results_path(config, "figures", "fig8_actmax.png"), results_path(config, "tables"))
    print(table.to_string(index=False))


def cmd_report(args):
    """Figures, tables and the scorecard from the metrics (and baseline table, if any)."""
    from usae.figures_stage import figures_stage
    from usae.report import report_stage
    from usae.stages import all_datasets, results_path

    config = _config(args)
    name = config["dataset"]["name"]
    figures_stage(config, name, results_path(config, "metrics", name), results_path(config, "train", "usae"),
                  results_path(config, "figures"))
    baseline = results_path(config, "tables", "baseline_matching.csv")
    report_stage({d: results_path(config, "metrics", d) for d in all_datasets(config)}, name,
                 results_path(config, "tables"), results_path(config, "scorecard.md"),
                 baseline_csv=baseline if baseline.exists() else None)
    print(results_path(config, "scorecard.md"))


def cmd_import_acts(args):
    """Write a (N, T, D) .npy array of your own model's activations as an activation store."""
    from usae.store import write_store

    acts_NTD = np.load(args.acts, mmap_mode="r")
    with open(args.ids) as handle:
        image_ids = [line.strip() for line in handle if line.strip()]
    meta = write_store(args.out, acts_NTD, image_ids, args.model, grid=tuple(args.grid) if args.grid else None,
                       shard_images=args.shard_images, dtype=args.dtype, stat_images=args.stat_images,
                       seed=args.seed, source={"imported_from": str(args.acts)})
    print(f"{args.out}: {meta['n_images']} images x {meta['tokens']} tokens x {meta['dim']}")


def build_parser():
    """The argument parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(
        prog="usae", description="Universal Sparse Autoencoders pipeline. Stages: fetch -> extract -> train -> "
        "metrics -> baseline -> actmax -> report. "
        "Run the whole DAG with 'snakemake --cores all'.")
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
    stage("report", cmd_report, "figures, tables and scorecard (results/figures/, results/tables/)")

    imported = commands.add_parser("import-acts", help="bring your own activations: write a (N, T, D) .npy as a store")
    imported.set_defaults(func=cmd_import_acts)
    imported.add_argument("--acts", required=True, help=".npy file of shape (N, T, D)")
    imported.add_argument("--ids", required=True, help="text file, one image id per line, in array order")
    imported.add_argument("--model", required=True, help="model name recorded in the store")
    imported.add_argument("--out", required=True, help="store folder to write")
    imported.add_argument("--grid", type=int, nargs=2, metavar=("H", "W"), help="token grid (default: square)")
    imported.add_argument("--shard-images", type=int, default=1024)
    imported.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    imported.add_argument("--stat-images", type=int, default=1000)
    imported.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    """Entry point of the ``usae`` command; errors end in one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    from usae.config import ConfigError
    from usae.datasets import DatasetError
    from usae.store import StoreError

    try:
        args.func(args)
    except (ConfigError, DatasetError, StoreError, KeyError, FileNotFoundError, ValueError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"usae: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

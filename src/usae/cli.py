"""The ``usae`` command: run one pipeline stage outside Snakemake, import your own activations, or encode images.

Each stage subcommand calls the same function as the Snakemake rule of that name, on the files and
params of :mod:`usae.jobs` (those the rule uses), for every job of a whole run that the options choose.
"""

import argparse
import sys
import traceback
from pathlib import Path

from usae.errors import UserError
from usae.io import is_plain_name

DEFAULT_CONFIG = "config/config.yaml"
# Stages whose returned table the command prints, and those after which it prints the file to open.
PRINTED_TABLES = ("baseline", "actmax")
WHERE_TO_LOOK = {
    "tables": lambda layout: layout.scorecard(".md"),
    "explorer": lambda layout: f"{layout.explorer()}/index.html",
}


def _setup(args):
    """Validated config, its results layout, and this process's logging and threads."""
    from usae.config import load_config
    from usae.layout import Layout
    from usae.runtime import configure

    config = load_config(args.config)
    configure(threads=config["threads"])
    return config, Layout(config["results"])


def _chosen(job, args):
    """Whether the command line (``--dataset``, ``--split``, ``--model``, ``--kind``) asks for ``job``."""
    for wildcard in ("dataset", "split", "model", "kind"):
        wanted = getattr(args, wildcard, None)
        if wanted and job.names.get(wildcard) not in ([wanted] if isinstance(wanted, str) else wanted):
            return False
    return True


def _no_job(stage, args, config):
    """The one-line reason why ``usae <stage>`` has no job to run with this config and these options."""
    from usae.config import all_datasets
    from usae.errors import ConfigError

    datasets = all_datasets(config)
    dataset = getattr(args, "dataset", None) or (config["dataset"]["name"] if stage == "extract" else None)
    for option, name, known in [
        ("--dataset", dataset, datasets),
        *(("--model", m, config["models"]) for m in getattr(args, "model", None) or []),
    ]:
        if name and name not in known:
            return ConfigError(f"{args.config}: {option} {name!r}: {_unknown(name, option[2:], known)}")
    key = datasets[dataset][0] if dataset else "dataset"
    reasons = {
        "fetch": f"{key}.source is 'activations': it has no images to fetch (its stores are imported)",
        "extract": f"{key}.source is 'activations': its stores are imported, not extracted",
        "actmax": f"{key}.source is 'activations': no model to optimise images for",
        "baseline": "train.independent is false: no independent SAEs to match",
        "released": "released is null: the USAE is trained, not imported",
        "replicates": "train.replicates is 1: no replicate runs to score together",
        "stability": "train.replicates is 1: no replicate runs to match",
        "sweep": "sweeps is empty: no sweep to summarise",
    }
    return ConfigError(f"{args.config}: {reasons.get(stage, 'no job matches the options given')}")


def _unknown(name, kind, known):
    """Why ``name`` names no configured dataset or model: a path where a name belongs, or not one of ``known``."""
    if not is_plain_name(name):
        return f"a {kind} name, not a path"
    return f"no {kind} of that name (known: {', '.join(known)})"


def _require(job, writers):
    """Stop with one line naming the first missing input of ``job`` that another job writes, and its command.

    Inputs no job writes (imported activation stores) are the stage's to check: it says what is wrong.
    """
    for path in job.input_paths():
        if path in writers and not Path(path).exists():
            raise UserError(f"{path}: missing; run 'usae {writers[path]}' first")


def cmd_stage(args):
    """Run the jobs of stage ``args.command`` that the options choose, as the Snakemake rule would."""
    from usae.jobs import planned_jobs

    config, layout = _setup(args)
    jobs = planned_jobs(config, layout)
    chosen = [job for job in jobs if job.module == args.command and _chosen(job, args)]
    if not chosen:
        raise _no_job(args.command, args, config)
    writers = {path: other.module for other in jobs for path in other.output_paths()}
    for job in chosen:
        _require(job, writers)
        result = job.function()(**job.input, **job.output, **job.params())
        if args.command in PRINTED_TABLES:
            print(result.to_string(index=False))
    if args.command in WHERE_TO_LOOK:
        print(WHERE_TO_LOOK[args.command](layout))


def read_image_ids(path):
    """The image ids of a text file, one a line (blank lines skipped); UserError if it is missing or not UTF-8."""
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a UTF-8 text file of image ids ({exc.__class__.__name__})") from None


def cmd_import_acts(args):
    """Write a (N, T, D) .npy array of your own model's activations as an activation store."""
    from usae.activations.store import open_npy, write_store

    acts_NTD = open_npy(args.acts, "activations")
    image_ids = read_image_ids(args.ids)
    meta = write_store(
        args.out,
        acts_NTD,
        image_ids,
        args.model,
        grid=tuple(args.grid) if args.grid else None,
        shard_images=args.shard_images,
        dtype=args.dtype,
        stat_images=args.stat_images,
        seed=args.seed,
        source={"imported_from": str(args.acts)},
    )
    print(f"{args.out}: {meta['n_images']} images x {meta['tokens']} tokens x {meta['dim']}")


def cmd_import_official(args):
    """Write the authors' released USAE (yaml + one .pth per model) as a trained-USAE run folder."""
    from usae.sae.official import import_official

    meta = import_official(args.config_yaml, args.out, checkpoints=args.checkpoints, overrides=args.model or ())
    names = ", ".join(f"{theirs}={ours}" for theirs, ours in meta["official"]["names"].items())
    print(f"{args.out}: USAE of {names}; m = {meta['n_concepts']}, k = {meta['k']}")


def cmd_export_official(args):
    """Write a trained-USAE run folder in the released format (config.yaml + one .pth per model)."""
    from usae.sae.official import export_official

    for path in export_official(args.run_dir, args.out, overrides=args.model or ()):
        print(path)


def cmd_encode(args):
    """Encode images through one model of a trained run; write their codes (and decodings) to an ``.npz``."""
    import numpy as np

    from usae.io import atomic_path
    from usae.sae.trained_run import load

    run = load(args.run, remote_code=args.remote_code)
    for model in [args.model, *args.decode_into]:
        run.check_model(model)
    codes_NTM = run.encode_images(args.model, args.images, device=args.device)
    arrays = {"codes": codes_NTM, "images": np.array(args.images), "model": np.array(args.model)}
    for other in args.decode_into:
        arrays[f"decoded_{other}"] = run.decode(other, codes_NTM)
    with atomic_path(args.out) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    print(
        f"{args.out}: codes of {codes_NTM.shape[0]} images x {codes_NTM.shape[1]} tokens x {run.n_concepts} "
        f"concepts through {args.model}" + "".join(f", decoded into {other}" for other in args.decode_into)
    )


def positive_int(text):
    """An integer of at least 1 (argparse type)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser():
    """The argument parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(
        prog="usae",
        description="Universal Sparse Autoencoders pipeline. Stages: fetch -> extract -> train "
        "(or released) -> metrics -> baseline -> actmax -> figures -> tables -> explorer (-> replicates, sweep). "
        "Run the whole DAG with 'snakemake --cores all'.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="STAGE")

    def stage(name, help_text):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=cmd_stage)
        command.add_argument("--config", default=DEFAULT_CONFIG, help=f"config file (default {DEFAULT_CONFIG})")
        return command

    fetch = stage("fetch", "dataset fetch: write split manifests (<data>/<dataset>-<digest>/<split>.csv, config data)")
    fetch.add_argument("--dataset", help="dataset name (default: every configured dataset)")
    fetch.add_argument("--split", action="append", choices=["train", "val"])
    extract = stage(
        "extract", "activation extraction into stores (<activations>/<dataset>-<digest>/<split>/<model>-<digest>/)"
    )
    extract.add_argument("--dataset", help="dataset name (default: the experiment's dataset)")
    extract.add_argument("--split", action="append", choices=["train", "val"])
    extract.add_argument("--model", action="append", help="model name (default: every configured model)")

    train = stage("train", "USAE / independent-SAE training (results/train/<kind>/)")
    train.add_argument("--kind", action="append", choices=["usae", "independent"])

    stage("released", "the released USAE (config released) as the trained USAE (results/train/usae/)")
    stage("metrics", "universality and importance metrics (results/metrics/<dataset>/)")
    stage("baseline", "independent-SAE baseline, Hungarian matching (results/baseline/)")
    stage("actmax", "coordinated activation maximisation with lucent (results/actmax/)")
    stage("figures", "the paper's figures from the metrics (results/figures/)")
    stage("tables", "tables and the scorecard (results/tables/, results/scorecard.md)")
    stage("explorer", "the concept explorer site (results/explorer/index.html)")
    stage("stability", "seed stability of the concepts over train.replicates runs (results/tables/stability.*)")
    stage("replicates", "the scorecard over train.replicates runs (results/scorecard.md, results/tables/replicates.*)")
    stage("sweep", "each sweep's summary table and figure (results/sweeps/<name>/summary.*)")
    stage("record", "the resolved config beside the run's outputs, once they all exist (results/config.yaml)")

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

    model_help = (
        "the usae model of an official model name, e.g. DinoV2=dinov2_vits14 (repeatable; defaults: "
        "usae.sae.official_yaml.OFFICIAL_MODELS, docs/official_checkpoints.md)"
    )
    official = commands.add_parser("import-official", help="the authors' released USAE (yaml + .pth) as a trained run")
    official.set_defaults(func=cmd_import_official)
    official.add_argument(
        "config_yaml", metavar="CONFIG.yaml", help="the released config (config_dino_siglip_vit.yaml)"
    )
    official.add_argument("--checkpoints", help="folder of the .pth files (default: the yaml's folder)")
    official.add_argument("--out", required=True, help="run folder to write (model.safetensors, model.json)")
    official.add_argument("--model", action="append", metavar="OFFICIAL=USAE", help=model_help)
    exported = commands.add_parser("export-official", help="a trained USAE run in the released format (yaml + .pth)")
    exported.set_defaults(func=cmd_export_official)
    exported.add_argument("run_dir", metavar="RUN_DIR", help="run folder with model.safetensors and model.json")
    exported.add_argument(
        "--out", required=True, help="folder to write (config.yaml, uni_<model>_checkpoint_<epoch>.pth)"
    )
    exported.add_argument("--model", action="append", metavar="OFFICIAL=USAE", help=model_help)
    encode = commands.add_parser("encode", help="images -> a trained run's concept codes (.npz); docs/python_api.md")
    encode.set_defaults(func=cmd_encode)
    encode.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    encode.add_argument(
        "--run", required=True, help="trained run folder (model.safetensors, model.json), e.g. results/train/usae"
    )
    encode.add_argument("--model", required=True, help="the run's model whose encoder reads the images")
    encode.add_argument("--out", required=True, help=".npz to write: codes (images, tokens, concepts), images, model")
    encode.add_argument(
        "--decode-into",
        action="append",
        default=[],
        metavar="MODEL",
        help="also write the codes decoded into this model's activations, decoded_<MODEL> (repeatable)",
    )
    encode.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the vision model runs")
    encode.add_argument(
        "--remote-code",
        action="append",
        default=[],
        metavar="MODEL",
        help="allow this model's loading to run code from its repository (torch.hub hubconf.py, "
        "Hugging Face modelling code), as the config's remote_code list does (repeatable)",
    )
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
        print(
            "usae: internal error: this is a bug in usae, not in your input; please report it with the traceback above",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

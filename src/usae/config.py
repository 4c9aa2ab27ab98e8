"""Load and validate pipeline configs against the JSON schema, filling every default."""

import copy
import difflib
import itertools
import os
import re
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from usae.errors import ConfigError, UserError
from usae.layout import SPLITS
from usae.models.registry import BUILTIN_MODELS
from usae.sae.official_yaml import n_concepts, read_config, released_models, yaml_key

SCHEMA_FILE = "config.schema.yaml"


def load_schema():
    """Return the config JSON schema shipped with the package (a dict)."""
    return yaml.safe_load(resources.files("usae").joinpath(SCHEMA_FILE).read_text())


def _fill_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema and key not in instance:
                    instance[key] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultFillingValidator = _fill_defaults(jsonschema.Draft7Validator)


def did_you_mean(key, known):
    """`` (did you mean 'x'?)`` naming the known key nearest to ``key``, as git does; empty when none is near."""
    near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{near[0]}'?)" if near else ""


def _describe(error):
    where = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - allowed)
        keys = [f"{where}.{k}" if error.absolute_path else k for k in unknown]
        hint = did_you_mean(unknown[0], allowed)
        return [*error.absolute_path, unknown[0]], f"unknown key {', '.join(map(repr, keys))}{hint}"
    return list(error.absolute_path), f"key '{where}': {error.message}"


def semantic_errors(config):
    """Constraints between keys that the schema cannot state: ``[(key path, message)]``."""
    errors = []
    train = config["train"]
    known = {**BUILTIN_MODELS, **config["model_zoo"]}
    if train["k"] > train["n_concepts"]:
        errors.append(
            (
                ["train", "k"],
                f"key 'train.k': {train['k']} active concepts, more than train.n_concepts ({train['n_concepts']})",
            )
        )
    if train["batch_images"] % train["ranks"]:
        errors.append(
            (
                ["train", "ranks"],
                f"key 'train.ranks': {train['ranks']} ranks cannot share train.batch_images "
                f"({train['batch_images']}) equally",
            )
        )
    if config["released"] is None:
        errors += _actmax_errors(config, train["n_concepts"], "train.n_concepts")
    if any(has_images(entry) for entry in [config["dataset"], *config["eval_datasets"]]):
        errors += [
            (
                ["models"],
                f"key 'models': unknown model '{name}' (known: {', '.join(sorted(known))}; add it under model_zoo)",
            )
            for name in config["models"]
            if name not in known
        ]
    if config["dataset"]["source"] == "embedded" and train["batch_images"] > config["dataset"]["embedded"]["n_train"]:
        errors.append(
            (
                ["train", "batch_images"],
                f"key 'train.batch_images': {train['batch_images']} images per "
                f"batch, more than dataset.embedded.n_train "
                f"({config['dataset']['embedded']['n_train']})",
            )
        )
    for name, entry in config["model_zoo"].items():
        if entry["loader"] == "torchhub" and not re.fullmatch(r"[^/:]+/[^/:]+:[^/:]+", entry["arch"]):
            errors.append(
                (
                    ["model_zoo", name, "arch"],
                    f"key 'model_zoo.{name}.arch': a torch.hub model is 'owner/repo:entrypoint', got '{entry['arch']}'",
                )
            )
        if "trust_remote_code" in entry["kwargs"]:
            errors.append(
                (
                    ["model_zoo", name, "kwargs"],
                    f"key 'model_zoo.{name}.kwargs.trust_remote_code': not a "
                    f"loader argument here; list '{name}' under remote_code",
                )
            )
    errors += [
        (
            ["remote_code"],
            f"key 'remote_code': model '{name}' loads with torch.hub, which runs the "
            f"repository's hubconf.py; list '{name}' under remote_code to allow it",
        )
        for name in config["models"]
        if known.get(name, {}).get("loader") == "torchhub" and name not in config["remote_code"]
    ]
    return errors + folder_errors(config) + sweep_errors(config) + released_errors(config)


def _actmax_errors(config, m, source):
    return [
        (["actmax", "concepts"], f"key 'actmax.concepts': concept {concept} does not exist ({source} is {m})")
        for concept in config["actmax"]["concepts"]
        if concept >= m
    ][:1]


def released_errors(config):
    """The ``released`` USAE checked against the rest of the config: ``[(key path, message)]``.

    Its yaml must read, name ``.pth`` files that exist and map onto ``models``; it is one run (no
    replicates, no sweeps), and independent SAEs matched to it must have its m and k.
    """
    released = config["released"]
    if released is None:
        return []
    path = released["config"]
    try:
        official = read_config(path)
        found = released_models(official, path, released["checkpoints"], released["models"])
        m, k = n_concepts(official, path), yaml_key(official, path, "sae_params.top_k", (int,))
    except UserError as exc:
        return [(["released", "config"], f"key 'released.config': {exc}")]
    missing = [(theirs, pth) for theirs, (_, pth) in found.items() if not pth.is_file()]
    if missing:
        theirs, pth = missing[0]
        return [
            (
                ["released", "checkpoints"],
                f"key 'released.checkpoints': {pth} missing ({path}: model_zoo.{theirs}.checkpoint_path)",
            )
        ]
    errors = []
    ours = [name for name, _ in found.values()]
    if sorted(ours) != sorted(config["models"]):
        errors.append(
            (
                ["models"],
                f"key 'models': {', '.join(config['models'])}, but the released USAE ({path}) is "
                f"of {', '.join(ours)} (map official names with released.models)",
            )
        )
    train = config["train"]
    if train["replicates"] > 1:
        errors.append(
            (
                ["train", "replicates"],
                "key 'train.replicates': the released USAE is one run; replicates "
                "train their own (set released to null)",
            )
        )
    if config["sweeps"]:
        errors.append((["sweeps"], "key 'sweeps': a sweep trains its points, and the released USAE is not trained"))
    if train["independent"] and (train["n_concepts"], train["k"]) != (m, k):
        errors.append(
            (
                ["train", "n_concepts"],
                f"key 'train.n_concepts': independent SAEs matched to the released "
                f"USAE need its m = {m} and k = {k} (train.n_concepts "
                f"{train['n_concepts']}, train.k {train['k']})",
            )
        )
    return errors + _actmax_errors(config, m, f"the released USAE's m, from {path},")


def folder_errors(config):
    """The results, data and activations roots checked once, up front: each must be (or be creatable as) a
    folder this process can write."""
    errors = []
    for key in ("results", "data", "activations"):
        path = Path(config[key])
        existing = next(folder for folder in [path, *path.parents] if folder.exists())  # "." or "/" at the latest
        if existing.exists() and not existing.is_dir():
            kind = "is" if existing == path else f"is under '{existing}', which is"
            errors.append(([key], f"key '{key}': '{config[key]}' {kind} a file, not a folder"))
        elif existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
            errors.append(([key], f"key '{key}': cannot write into '{existing}'"))
    return errors


# train keys a sweep may not vary: how many runs there are, whether the baseline runs (its table scores
# every point), and where or how a run is computed or logged, which no result depends on.
STORE_SECTIONS = ("dataset", "models", "model_zoo", "extract", "seed")
NOT_SWEPT = ("replicates", "independent", "device", "checkpoint_epochs", "checkpoint_every", "log_every")


def sweep_errors(config):
    """Each sweep's keys and values checked against the ``train`` schema: ``[(key path, message)]``."""
    properties = load_schema()["properties"]["train"]["properties"]
    errors = []
    for name, sweep in config["sweeps"].items():
        for section in sweep.keys() - {"train", "together"}:
            reason = (
                "its keys change the activation stores, which every point shares"
                if section in STORE_SECTIONS
                else "a sweep varies train keys only"
            )
            errors.append((["sweeps", name, section], f"key 'sweeps.{name}.{section}': {reason}"))
        for key, values in sweep["train"].items():
            where = ["sweeps", name, "train", key]
            dotted = f"sweeps.{name}.train.{key}"
            if key not in properties:
                errors.append(
                    (
                        where,
                        f"unknown key '{dotted}'{did_you_mean(key, properties)} (not a train key; a sweep varies "
                        "training only, so every point shares the experiment's activation stores)",
                    )
                )
            elif key in NOT_SWEPT:
                errors.append((where, f"key '{dotted}': train.{key} cannot be swept"))
            elif len(set(map(repr, values))) != len(values):
                errors.append((where, f"key '{dotted}': a value is listed twice"))
            else:
                for index, value in enumerate(values):
                    problem = next(jsonschema.Draft7Validator(properties[key]).iter_errors(value), None)
                    if problem is not None:
                        errors.append((where, f"key '{dotted}[{index}]': {problem.message}"))
                        break
        if not errors:
            for point, values in sweep_points(config, name).items():
                train = {**config["train"], **values}
                if train["k"] > train["n_concepts"]:
                    errors.append(
                        (
                            ["sweeps", name],
                            f"key 'sweeps.{name}': point {point} has k {train['k']} > n_concepts {train['n_concepts']}",
                        )
                    )
    return errors


def _shown(value):
    """A sweep value as it appears in a point's folder name (``0.001``, ``32``, ``true``, ``l2``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def sweep_points(config, name):
    """The points of sweep ``name``: ``{point name: {train key: value}}``, in the grid's order.

    A point's name joins ``key~value`` over the sweep's keys in sorted order with ``_``
    (``k~16_lr~0.001``), in the spirit of Snakemake's ``Paramspace``: readable and stable.
    """
    grid = config["sweeps"][name]["train"]
    keys = sorted(grid)
    return {
        "_".join(f"{key}~{_shown(value)}" for key, value in zip(keys, values)): dict(zip(keys, values))
        for values in itertools.product(*(grid[key] for key in keys))
    }


def validate_config(config, source):
    """Validate ``config`` in place, filling defaults.

    Parameters
    ----------
    config : dict
        Parsed config; it is modified in place (defaults added).
    source : str or callable
        Where the config came from, used in error messages: a file name, or a function of the offending
        key's path (a list of keys) that names the file which set it (several config files merged).

    Returns
    -------
    dict
        The same ``config``, completed.

    Raises
    ------
    ConfigError
        One line naming the source and the offending key.
    """
    name = source if callable(source) else (lambda path: source)
    if not isinstance(config, dict):
        raise ConfigError(f"{name([])}: the config must be a mapping, got {type(config).__name__}")
    _expand_bases(config, name)
    validator = _DefaultFillingValidator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: len(list(e.absolute_path)))
    problems = [_describe(errors[0])] if errors else semantic_errors(config)
    if problems:
        path, message = problems[0]
        raise ConfigError(f"{name(path)}: {message}")
    return config


def _expand_bases(config, name):
    """Replace each ``model_zoo`` entry's ``base`` with the keys of that built-in model, under the entry's own (before
    the schema fills defaults, which would otherwise win over the built-in's values)."""
    zoo = config.get("model_zoo")
    for model, entry in (zoo if isinstance(zoo, dict) else {}).items():
        if not isinstance(entry, dict) or "base" not in entry:
            continue
        base = entry["base"]
        if not isinstance(base, str) or base not in BUILTIN_MODELS:
            path = ["model_zoo", model, "base"]
            raise ConfigError(
                f"{name(path)}: key 'model_zoo.{model}.base': {base!r} is not a built-in model "
                f"(known: {', '.join(sorted(BUILTIN_MODELS))})"
            )
        zoo[model] = {**copy.deepcopy(BUILTIN_MODELS[base]), **{k: v for k, v in entry.items() if k != "base"}}


EXTENDS = "extends"  # a config file's key naming the file it is layered over (relative to its own folder)
# The key of a file of overrides (params.yaml, which `dvc exp run -S` edits): like extends, but a null in
# it means "the file's own value", so that it can list every key DVC may set.
OVERRIDES = "overrides"


def _read_file(path):
    """One config file's mapping, as written; one-line ConfigError when it is missing, not YAML or not a mapping."""
    try:
        with open(path) as handle:
            values = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: the config must be a mapping, got {type(values).__name__}")
    return values


def read_layers(path):
    """A config file and those it extends, base first: ``[(path, values)]``, ``extends`` removed.

    A file is a whole experiment: the schema's defaults, then each file it names with ``extends``
    (a path relative to the naming file's folder), then its own keys. Nothing else is merged in.
    A file that names its base with ``overrides`` instead is a layer of overrides: its null values
    are dropped (they stand for the base's values).
    """
    layers, current = [], Path(path)
    while True:
        if current.resolve() in [Path(name).resolve() for name, _ in layers]:
            chain = " -> ".join([*(name for name, _ in reversed(layers)), str(current)])
            raise ConfigError(f"{current}: key '{EXTENDS}' makes a loop ({chain})")
        values = dict(_read_file(current))
        if EXTENDS in values and OVERRIDES in values:
            raise ConfigError(f"{current}: keys '{EXTENDS}' and '{OVERRIDES}': name one base file, with one of them")
        key = OVERRIDES if OVERRIDES in values else EXTENDS
        parent = values.pop(key, None)
        layers.insert(0, (str(current), _without_nulls(values) if key == OVERRIDES else values))
        if parent is None:
            return layers
        if not isinstance(parent, str) or not parent:
            raise ConfigError(f"{current}: key '{key}': the path of a config file, got {parent!r}")
        current = current.parent / parent


def _without_nulls(values):
    """A mapping without its null values, at any depth, nor the mappings left empty."""
    out = {}
    for key, value in values.items():
        value = _without_nulls(value) if isinstance(value, dict) else value
        if value is not None and value != {}:
            out[key] = value
    return out


def _merged(base, values):
    """``values`` over ``base``: mappings merged key by key (nested ones too), anything else replaced."""
    out = dict(base)
    for key, value in values.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _set(config, path, value):
    for key in path[:-1]:
        config = config[key]
    config[path[-1]] = value


def _typed_overrides(config, overrides):
    """``config`` with each command-line text typed as the schema wants (Snakemake passes a nested
    value, ``--config 'train={lr: 0.001}'``, as the text '0.001'): a text read as YAML where the schema
    refuses a string."""
    validator = jsonschema.Draft7Validator(load_schema())
    while True:
        for error in validator.iter_errors(config):
            path = list(error.absolute_path)
            if error.validator == "type" and isinstance(error.instance, str) and _has_path(overrides, path):
                try:
                    value = yaml.safe_load(error.instance)
                except yaml.YAMLError:
                    continue
                if not isinstance(value, str):
                    _set(config, path, value)
                    break
        else:
            return config


def resolve_config(files, overrides=None):
    """The validated config of an experiment: ``files`` in order (each over those it extends), then ``overrides``.

    Both entry points resolve a config here: ``usae <stage> --config FILE`` with one file, the Snakefile
    with its ``--configfile`` files (default ``config/config.yaml``) and its ``--config`` values.

    Raises
    ------
    ConfigError
        One line naming the file (or ``--config``) whose value is at fault, and the key.
    """
    layers = [layer for path in files for layer in read_layers(path)]
    layers += [("--config", overrides)] if overrides else []
    config = {}
    for _, values in layers:
        config = _merged(config, values)
    if overrides:
        config = _typed_overrides(copy.deepcopy(config), overrides)

    def source(path):
        found = [name for name, values in layers if _has_path(values, path)]
        return found[-1] if found else ", ".join(map(str, files))

    config = validate_config(config, source)
    problems = root_errors(config)
    if problems:
        path, message = problems[0]
        raise ConfigError(f"{source(path)}: {message}")
    return config


# Dataset sources that read a folder the user names with ``root``.
FOLDER_SOURCES = ("imagenet_folder", "folder")


def root_errors(config):
    """Every dataset folder the config names, checked on disk (from the working folder, as the fetch stage
    reads it): ``[(key path, message)]``. Apart from :func:`validate_config`, which reads no file system."""
    errors = []
    for index, dataset in enumerate([config["dataset"], *config["eval_datasets"]]):
        if dataset["source"] not in FOLDER_SOURCES:
            continue
        path = ["dataset"] if index == 0 else ["eval_datasets", index - 1]
        key = "dataset" if index == 0 else f"eval_datasets[{index - 1}]"
        root = dataset["root"]
        if root is None:
            errors.append(
                ([*path, "source"], f"key '{key}.root': source '{dataset['source']}' reads a folder; name it")
            )
        elif not Path(root).is_dir():
            problem = "is not a folder" if Path(root).exists() else "does not exist"
            errors.append(([*path, "root"], f"key '{key}.root': dataset folder '{root}' {problem}"))
    return errors


def _has_path(values, path):
    for key in path:
        listed = isinstance(values, list) and isinstance(key, int) and key < len(values)
        if not listed and (not isinstance(values, dict) or key not in values):
            return False
        values = values[key]
    return bool(path)


def load_config(path):
    """A config file resolved (with what it ``extends``) and validated, defaults filled.

    Raises
    ------
    ConfigError
        If a file is missing, is not YAML, or does not match the schema.
    """
    return resolve_config([path])


def check_gpu_resource(config, given):
    """Refuse a ``train.ranks`` that needs more GPUs than Snakemake was given (``--resources gpu=N``, or
    ``profiles/local``'s ``resources``); ``given`` None: not limited (a cluster schedules the GPUs).

    Raises
    ------
    usae.errors.ConfigError
        In one line naming ``train.ranks`` and the resource, before Snakemake's own message on a job it cannot run.
    """
    train = config["train"]
    if given is not None and train["device"] != "cpu" and train["ranks"] > given:
        raise ConfigError(
            f"key 'train.ranks': {train['ranks']} ranks need gpu={train['ranks']}, but Snakemake was given "
            f"gpu={given} (--resources or the profile's resources: set it to this machine's GPU count)"
        )


def has_images(dataset):
    """Whether a dataset entry has images (every source but ``activations``, whose stores were imported)."""
    return dataset["source"] != "activations"


def trains_on_data(config):
    """Whether something trains on the experiment's train split: always, except for a ``released`` USAE
    without independent SAEs, which is only evaluated."""
    return config["released"] is None or config["train"]["independent"]


def dataset_splits(config, key):
    """The splits of a dataset by its config key: train (when :func:`trains_on_data`) and val for
    ``dataset``, val for an ``eval_datasets`` entry."""
    return list(SPLITS) if key == "dataset" and trains_on_data(config) else ["val"]


def all_datasets(config):
    """Every dataset of a validated config by name, the experiment's first: ``{name: (config key, entry)}``.

    Raises
    ------
    ConfigError
        If two datasets share a name.
    """
    datasets = {}
    entries = [("dataset", config["dataset"])] + [
        (f"eval_datasets[{i}]", d) for i, d in enumerate(config["eval_datasets"])
    ]
    for key, dataset in entries:
        if dataset["name"] in datasets:
            raise ConfigError(f"{key}.name: dataset name '{dataset['name']}' is used twice")
        datasets[dataset["name"]] = (key, dataset)
    return datasets

"""Load and validate pipeline configs against the JSON schema, filling every default."""

import copy
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


def _describe(error):
    where = ".".join(str(part) for part in error.absolute_path) or "<top level>"
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - allowed)
        keys = [f"{where}.{k}" if error.absolute_path else k for k in unknown]
        return [*error.absolute_path, unknown[0]], f"unknown key {', '.join(map(repr, keys))}"
    return list(error.absolute_path), f"key '{where}': {error.message}"


def semantic_errors(config):
    """Constraints between keys that the schema cannot state: ``[(key path, message)]``."""
    errors = []
    train = config["train"]
    known = {**BUILTIN_MODELS, **config["model_zoo"]}
    if train["k"] > train["n_concepts"]:
        errors.append((["train", "k"], f"key 'train.k': {train['k']} active concepts, more than "
                                       f"train.n_concepts ({train['n_concepts']})"))
    if config["released"] is None:
        errors += _actmax_errors(config, train["n_concepts"], "train.n_concepts")
    if any(has_images(entry) for entry in [config["dataset"], *config["eval_datasets"]]):
        errors += [(["models"], f"key 'models': unknown model '{name}' (known: {', '.join(sorted(known))}; "
                                "add it under model_zoo)") for name in config["models"] if name not in known]
    if config["dataset"]["source"] == "embedded" and train["batch_images"] > config["dataset"]["embedded"]["n_train"]:
        errors.append((["train", "batch_images"], f"key 'train.batch_images': {train['batch_images']} images per "
                                                  f"batch, more than dataset.embedded.n_train "
                                                  f"({config['dataset']['embedded']['n_train']})"))
    for name, entry in config["model_zoo"].items():
        if entry["loader"] == "torchhub" and not re.fullmatch(r"[^/:]+/[^/:]+:[^/:]+", entry["arch"]):
            errors.append((["model_zoo", name, "arch"], f"key 'model_zoo.{name}.arch': a torch.hub model is "
                                                        f"'owner/repo:entrypoint', got '{entry['arch']}'"))
        if "trust_remote_code" in entry["kwargs"]:
            errors.append((["model_zoo", name, "kwargs"], f"key 'model_zoo.{name}.kwargs.trust_remote_code': not a "
                                                          f"loader argument here; list '{name}' under remote_code"))
    errors += [(["remote_code"], f"key 'remote_code': model '{name}' loads with torch.hub, which runs the "
                                 f"repository's hubconf.py; list '{name}' under remote_code to allow it")
               for name in config["models"] if known.get(name, {}).get("loader") == "torchhub"
               and name not in config["remote_code"]]
    return errors + results_errors(config["results"]) + sweep_errors(config) + released_errors(config)


def _actmax_errors(config, m, source):
    return [(["actmax", "concepts"], f"key 'actmax.concepts': concept {concept} does not exist ({source} is {m})")
            for concept in config["actmax"]["concepts"] if concept >= m][:1]


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
        return [(["released", "checkpoints"], f"key 'released.checkpoints': {pth} missing ({path}: "
                                              f"model_zoo.{theirs}.checkpoint_path)")]
    errors = []
    ours = [name for name, _ in found.values()]
    if sorted(ours) != sorted(config["models"]):
        errors.append((["models"], f"key 'models': {', '.join(config['models'])}, but the released USAE ({path}) is "
                                   f"of {', '.join(ours)} (map official names with released.models)"))
    train = config["train"]
    if train["replicates"] > 1:
        errors.append((["train", "replicates"], "key 'train.replicates': the released USAE is one run; replicates "
                                                "train their own (set released to null)"))
    if config["sweeps"]:
        errors.append((["sweeps"], "key 'sweeps': a sweep trains its points, and the released USAE is not trained"))
    if train["independent"] and (train["n_concepts"], train["k"]) != (m, k):
        errors.append((["train", "n_concepts"], f"key 'train.n_concepts': independent SAEs matched to the released "
                                                f"USAE need its m = {m} and k = {k} (train.n_concepts "
                                                f"{train['n_concepts']}, train.k {train['k']})"))
    return errors + _actmax_errors(config, m, f"the released USAE's m, from {path},")


def results_errors(results):
    """The results root checked once, up front: it must be (or be creatable as) a folder this process can write."""
    path = Path(results)
    existing = next(folder for folder in [path, *path.parents] if folder.exists())  # "." or "/" at the latest
    if existing.exists() and not existing.is_dir():
        kind = "is" if existing == path else f"is under '{existing}', which is"
        return [(["results"], f"key 'results': '{results}' {kind} a file, not a folder")]
    if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
        return [(["results"], f"key 'results': cannot write into '{existing}'")]
    return []


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
            reason = ("its keys change the activation stores, which every point shares" if section in STORE_SECTIONS
                      else "a sweep varies train keys only")
            errors.append((["sweeps", name, section], f"key 'sweeps.{name}.{section}': {reason}"))
        for key, values in sweep["train"].items():
            where = ["sweeps", name, "train", key]
            dotted = f"sweeps.{name}.train.{key}"
            if key not in properties:
                errors.append((where, f"unknown key '{dotted}' (not a train key; a sweep varies training only, so "
                                      "every point shares the experiment's activation stores)"))
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
                    errors.append((["sweeps", name], f"key 'sweeps.{name}': point {point} has k {train['k']} > "
                                                     f"n_concepts {train['n_concepts']}"))
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
    return {"_".join(f"{key}~{_shown(value)}" for key, value in zip(keys, values)): dict(zip(keys, values))
            for values in itertools.product(*(grid[key] for key in keys))}


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
    validator = _DefaultFillingValidator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: len(list(e.absolute_path)))
    problems = [_describe(errors[0])] if errors else semantic_errors(config)
    if problems:
        path, message = problems[0]
        raise ConfigError(f"{name(path)}: {message}")
    return config


def source_of_key(files, overrides=None, command_line_files=()):
    """A ``source`` for :func:`validate_config` over merged configs: the one whose value of a key won.

    Parameters
    ----------
    files : list of path
        Config files in merge order (later files override earlier ones).
    overrides : dict, optional
        Values given on the command line (``--config``), which override every file.
    command_line_files : list of path
        Files given on the command line (``--configfile``), which override the others.
    """
    command_line = [str(f) for f in command_line_files]
    ordered = [f for f in map(str, files) if f not in command_line] + command_line
    layers = [("--config", overrides or {})] + [(f, _read_yaml(f)) for f in reversed(ordered)]

    def name(path):
        for label, values in layers:
            if _has_path(values, path):
                return label
        return ", ".join(map(str, files)) or "config"

    return name


def _read_yaml(path):
    try:
        with open(path) as handle:
            return yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError):
        return {}


def _has_path(values, path):
    for key in path:
        if not isinstance(values, dict) or key not in values:
            return False
        values = values[key]
    return bool(path)


def load_config(path):
    """Read a YAML config file and return it validated, with defaults.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or does not match the schema.
    """
    try:
        with open(path) as handle:
            config = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return validate_config(config, str(path))


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
    entries = [("dataset", config["dataset"])] + [(f"eval_datasets[{i}]", d) for i, d in enumerate(config["eval_datasets"])]
    for key, dataset in entries:
        if dataset["name"] in datasets:
            raise ConfigError(f"{key}.name: dataset name '{dataset['name']}' is used twice")
        datasets[dataset["name"]] = (key, dataset)
    return datasets

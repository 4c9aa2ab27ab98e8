"""Load and validate pipeline configs against the JSON schema, filling every default."""

import copy
from importlib import resources

import jsonschema
import yaml

SCHEMA_FILE = "config.schema.yaml"


class ConfigError(ValueError):
    """A config value is missing, mistyped or unknown; the message names the file and the key."""


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
        return f"unknown key {', '.join(repr(f'{where}.{k}' if error.absolute_path else k) for k in unknown)}"
    return f"key '{where}': {error.message}"


def validate_config(config, source):
    """Validate ``config`` in place, filling defaults.

    Parameters
    ----------
    config : dict
        Parsed config; it is modified in place (defaults added).
    source : str
        Where the config came from (file name), used in error messages.

    Returns
    -------
    dict
        The same ``config``, completed.

    Raises
    ------
    ConfigError
        One line naming ``source`` and the offending key.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: the config must be a mapping, got {type(config).__name__}")
    validator = _DefaultFillingValidator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: len(list(e.absolute_path)))
    if errors:
        raise ConfigError(f"{source}: {_describe(errors[0])}")
    return config


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

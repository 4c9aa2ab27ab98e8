"""The released USAE's yaml (YorkUCVIL/UniversalSAE): read, checked, and the files and models it names.

Imports nothing heavy (no torch): the workflow reads the yaml when it builds the DAG, to know which
``.pth`` files a released USAE is made of (``released`` in the config, docs/official_checkpoints.md).
"""

from pathlib import Path

import yaml

from usae.errors import UserError

# Their model names (the yaml's model_zoo keys) -> this project's (src/usae/models/registry.py).
OFFICIAL_MODELS = {"DinoV2": "dinov2_vits14_hub", "SigLIP": "siglip_vitb16", "ViT": "vit_b16"}
# Architecture options of the yaml's sae_params that the tensors above imply.
ARCHITECTURE = {"encoder_module": "mlp_bn_1", "dictionary_normalization": "l2"}


def parse_overrides(overrides=()):
    """``{their name: usae model}`` from ``"<their name>=<usae model>"`` texts (the ``--model`` option).

    Raises
    ------
    usae.errors.UserError
        A text is not of that form.
    """
    parsed = {}
    for text in overrides:
        theirs, _, ours = text.partition("=")
        if not theirs.strip() or not ours.strip():
            raise UserError(f"--model {text}: expected <official name>=<usae model>, e.g. DinoV2=dinov2_vits14")
        parsed[theirs.strip()] = ours.strip()
    return parsed


def yaml_key(config, path, dotted, kinds):
    """The value at ``dotted`` ("a.b.c") of a yaml mapping, of one of ``kinds``, else a one-line UserError."""
    value = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None or not isinstance(value, kinds) or isinstance(value, bool):
        names = " or ".join(kind.__name__ for kind in kinds)
        raise UserError(f"{path}: key '{dotted}' missing or not {'a mapping' if kinds == (dict,) else names}")
    return value


def read_config(path):
    """The released yaml as a dict, checked for what the import needs; one-line UserError otherwise."""
    try:
        config = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise UserError(f"{path}: not a released USAE config (not a mapping)")
    zoo = yaml_key(config, path, "model_zoo", (dict,))
    if not zoo:
        raise UserError(f"{path}: key 'model_zoo' has no model")
    for option, expected in ARCHITECTURE.items():
        value = (config.get("sae_params") or {}).get(option, expected)
        if value != expected:
            raise UserError(f"{path}: sae_params.{option} is {value!r}; only {expected!r} (the release's) is supported")
    if (config.get("global") or {}).get("standardize", True) is not True:
        raise UserError(f"{path}: global.standardize is not true; usae always standardises activations")
    return config


def n_concepts(config, path):
    """m: ``global.nb_components`` if given, else ``exp_factor * input_shape`` (the official loader's rule)."""
    if isinstance((config.get("global") or {}).get("nb_components"), int):
        return config["global"]["nb_components"]
    factor = yaml_key(config, path, "global.exp_factor", (int, float))
    return int(factor * yaml_key(config, path, "global.input_shape", (int,)))


def released_models(config, path, checkpoints=None, names=None):
    """Each released model's usae model and ``.pth`` file, in the yaml's order.

    Parameters
    ----------
    config : dict
        The yaml, as :func:`read_config` returns it.
    path : path
        Where the yaml is (for messages, and the default ``checkpoints``).
    checkpoints : path, optional
        Folder of the ``.pth`` files, each found by the file name of its ``checkpoint_path``; default the
        yaml's own folder.
    names : dict of str to str, optional
        ``{their name: usae model}`` over :data:`OFFICIAL_MODELS`.

    Returns
    -------
    dict of str to (str, pathlib.Path)
        ``{their name: (usae model, .pth path)}``.

    Raises
    ------
    usae.errors.UserError
        A name maps no released model, a released model maps no usae model, or two map to one.
    """
    names = names or {}
    unknown = sorted(set(names) - set(config["model_zoo"]))
    if unknown:
        raise UserError(
            f"--model {unknown[0]}=...: {path} has no model '{unknown[0]}' under model_zoo "
            f"(it has {', '.join(config['model_zoo'])})"
        )
    mapping, folder, found = {**OFFICIAL_MODELS, **names}, Path(checkpoints or Path(path).parent), {}
    for theirs in config["model_zoo"]:
        key = f"model_zoo.{theirs}"
        if theirs not in mapping:
            raise UserError(f"{path}: {key} has no usae model; map it with --model {theirs}=<usae model>")
        if mapping[theirs] in [ours for ours, _ in found.values()]:
            raise UserError(f"{path}: {key} and another model both map to usae model '{mapping[theirs]}'")
        found[theirs] = (mapping[theirs], folder / Path(yaml_key(config, path, f"{key}.checkpoint_path", (str,))).name)
    return found

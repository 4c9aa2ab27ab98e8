"""The authors' released USAE (YorkUCVIL/UniversalSAE) to and from this project's trained-run format.

The release (docs/official_checkpoints.md) is a yaml config plus, per model, a ``.pth`` file that
``torch.save`` wrote from ``{"epoch", "model_state_dict", "optimizer_state_dict", "learning_rate"}``;
``model_state_dict`` is overcomplete's TopKSAE with ``encoder_module: mlp_bn_1`` and ``l2`` dictionary
normalisation, the same modules as :class:`usae.sae.modules.TopKSAE` under other names
(:data:`TENSOR_KEYS`). The yaml's per-model scalar ``model_mean`` / ``model_std`` standardise as ours do,
``(a - mean) / (std + 1e-5)``, so they become ``model.json``'s ``stats`` unchanged.

A ``.pth`` is read with ``torch.load(weights_only=True)`` only: nothing else is unpickled.
"""

import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from usae.errors import UserError
from usae.io import atomic_folder, file_sha256, write_json
from usae.models.loaders import model_spec
from usae.sae.checkpoint import load_trained, model_spec_record
from usae.sae.official_yaml import (
    ARCHITECTURE,
    OFFICIAL_MODELS,
    n_concepts,
    parse_overrides,
    read_config,
    released_models,
    yaml_key,
)

# Their TopKSAE state-dict keys -> ours within one model's TopKSAE, with each tensor's shape in (m, d).
TENSOR_KEYS = {
    "encoder.final_block.0.weight": ("encoder.linear.weight", ("m", "d")),
    "encoder.final_block.0.bias": ("encoder.linear.bias", ("m",)),
    "encoder.final_block.1.weight": ("encoder.norm.weight", ("m",)),
    "encoder.final_block.1.bias": ("encoder.norm.bias", ("m",)),
    "encoder.final_block.1.running_mean": ("encoder.norm.running_mean", ("m",)),
    "encoder.final_block.1.running_var": ("encoder.norm.running_var", ("m",)),
    "encoder.final_block.1.num_batches_tracked": ("encoder.norm.num_batches_tracked", ()),
    "dictionary._weights": ("dictionary.weight", ("m", "d")),
}
CONFIG_NAME = "config.yaml"  # the exported yaml (the official README's checkpoints/config.yaml)
RUN_FILES = ("model.safetensors", "model.json")


def load_pth(path, origin):
    """A released ``.pth`` as a dict, loaded with ``weights_only=True`` on the CPU.

    Parameters
    ----------
    path : path
    origin : str
        The yaml key that names the file, for the message when it is missing.
    """
    if not Path(path).is_file():
        raise UserError(f"{path}: missing ({origin})")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a pickle of objects, a truncated or foreign file: torch raises many kinds
        raise UserError(
            f"{path}: refused by torch.load(weights_only=True): not a checkpoint of plain tensors"
        ) from None
    if not isinstance(checkpoint, dict):
        raise UserError(f"{path}: not a released checkpoint (a {type(checkpoint).__name__}, not a dict)")
    if not isinstance(checkpoint.get("model_state_dict"), dict):
        raise UserError(f"{path}: not a released checkpoint (no dict 'model_state_dict')")
    return checkpoint


def convert_state(state, path, m, d, origin):
    """Their TopKSAE ``model_state_dict`` as our TopKSAE's, each tensor checked against ``(m, d)``.

    Floating tensors become float32 and ``num_batches_tracked`` int64, as our training writes them.
    ``origin`` names the yaml keys that set ``d`` (for the message of a misshapen tensor).
    """
    unexpected = sorted(set(state) - set(TENSOR_KEYS))
    if unexpected:
        raise UserError(f"{path}: model_state_dict has '{unexpected[0]}', not in the released layout (mlp_bn_1)")
    ours = {}
    for theirs, (name, shape) in TENSOR_KEYS.items():
        if theirs not in state:
            raise UserError(f"{path}: model_state_dict lacks '{theirs}'")
        tensor = state[theirs]
        if not torch.is_tensor(tensor):
            raise UserError(f"{path}: model_state_dict['{theirs}'] is not a tensor")
        expected = tuple({"m": m, "d": d}[axis] for axis in shape)
        if tuple(tensor.shape) != expected:
            raise UserError(
                f"{path}: model_state_dict['{theirs}'] has shape {tuple(tensor.shape)}, expected "
                f"{expected} from {origin}"
            )
        if not torch.isfinite(tensor).all():
            raise UserError(f"{path}: model_state_dict['{theirs}'] has NaN or inf")
        dtype = torch.int64 if not shape else torch.float32
        ours[name] = tensor.detach().to(dtype).contiguous()
    return ours


def _number(value):
    """A Python float of a number or a one-element tensor; None for anything else."""
    if torch.is_tensor(value) and value.numel() == 1:
        return float(value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


RELEASED_GRID = (14, 14)  # 196 tokens per image, every model resampled to it


def _registry_spec(model):
    """The registry's spec of a released model (None for a name the registry lacks: its images cannot be encoded)."""
    try:
        return model_spec(model).describe()
    except UserError:
        return None


def read_official(config_path, checkpoints=None, names=None):
    """Read a released USAE: its yaml and each model's ``.pth``, validated.

    Parameters
    ----------
    config_path : path
        The released yaml (``checkpoints/config_dino_siglip_vit.yaml``).
    checkpoints : path, optional
        Folder of the ``.pth`` files, each found by the file name of its ``checkpoint_path``; default the
        yaml's own folder.
    names : dict of str to str, optional
        ``{their name: usae model}`` over :data:`usae.sae.official_yaml.OFFICIAL_MODELS`.

    Returns
    -------
    weights : dict of str to torch.Tensor
        A :class:`usae.sae.modules.UniversalSAE` state dict.
    meta : dict
        ``model.json``: kind, models, dims, n_concepts, k, stats, and ``official`` (the files read with
        their SHA-256, each checkpoint's epoch and learning rate, the name mapping and the yaml itself).

    Raises
    ------
    usae.errors.UserError
        One line naming the file or yaml key at fault.
    """
    config_path = Path(config_path)
    config = read_config(config_path)
    released = released_models(config, config_path, checkpoints, names)
    m, k = n_concepts(config, config_path), yaml_key(config, config_path, "sae_params.top_k", (int,))
    if k < 1 or k > m:
        raise UserError(f"{config_path}: sae_params.top_k is {k}, not in 1..{m} (m)")
    weights, dims, stats, files = {}, {}, {}, {}
    for theirs, (ours, pth) in released.items():
        key = f"model_zoo.{theirs}"
        d = yaml_key(config, config_path, f"{key}.input_shape", (int,))
        mean = yaml_key(config, config_path, f"{key}.model_mean", (int, float))
        std = yaml_key(config, config_path, f"{key}.model_std", (int, float))
        if not (abs(mean) < float("inf") and 0 < std < float("inf")):
            raise UserError(f"{config_path}: {key}.model_mean / model_std must be finite with model_std > 0")
        checkpoint = load_pth(pth, f"{key}.checkpoint_path in {config_path}")
        state = convert_state(
            checkpoint["model_state_dict"], pth, m, d, f"m = {m} and {key}.input_shape = {d} in {config_path}"
        )
        weights.update({f"saes.{ours}.{name}": tensor for name, tensor in state.items()})
        dims[ours], stats[ours] = d, [float(mean), float(std)]
        rate, epoch = checkpoint.get("learning_rate"), checkpoint.get("epoch")
        files[theirs] = {
            "path": str(pth),
            "sha256": file_sha256(pth),
            "epoch": epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
            "learning_rate": _number(rate),
        }
    names = {theirs: ours for theirs, (ours, _) in released.items()}
    # The official models' tokens: the registry's spec on the 14x14 grid (docs/method.md), computed in float32.
    specs = {ours: model_spec_record(_registry_spec(ours), RELEASED_GRID, "float32") for ours in dims}
    meta = {
        "kind": "usae",
        "models": list(dims),
        "dims": dims,
        "n_concepts": m,
        "k": k,
        "stats": stats,
        "model_specs": specs,
        "official": {
            "config": {"path": str(config_path), "sha256": file_sha256(config_path)},
            "checkpoints": files,
            "names": names,
            "yaml": json.loads(json.dumps(config, default=str)),
        },
    }
    return weights, meta


def _replace_folder(out, write, allowed):
    """Build folder ``out`` atomically: ``write(tmp)`` fills a temporary sibling, renamed onto ``out``.

    An existing ``out`` is replaced only when it holds nothing but files ``allowed(name)`` accepts (an
    earlier output of the same command); otherwise it is refused, and it is never half overwritten.
    """
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise UserError(f"{out}: exists and is not a folder")
        foreign = sorted(entry.name for entry in out.iterdir() if not (entry.is_file() and allowed(entry.name)))
        if foreign:
            raise UserError(f"{out}: exists and holds '{foreign[0]}'; choose an empty or new --out")
    with atomic_folder(out) as tmp:
        write(tmp)


def import_official(config_path, out, checkpoints=None, overrides=()):
    """Write a released USAE as a run folder ``out`` (``model.safetensors``, ``model.json``); return the meta.

    Everything is read and checked before ``out`` is touched (see :func:`read_official`).
    """
    weights, meta = read_official(config_path, checkpoints, parse_overrides(overrides))

    def write(tmp):
        save_file(weights, tmp / "model.safetensors")
        write_json(tmp / "model.json", meta)

    _replace_folder(out, write, lambda name: name in RUN_FILES)
    return meta


def _pth_name(name, epoch):
    return f"uni_{name}_checkpoint_{epoch}.pth"


def export_official(run, out, overrides=()):
    """Write a trained USAE run folder in the released format; return the paths written.

    ``out`` gets ``config.yaml`` and one ``uni_<name>_checkpoint_<epoch>.pth`` per model:
    ``{"epoch", "model_state_dict", "optimizer_state_dict": {} (no optimizer state is kept), "learning_rate"}``.
    An imported run gets back its official names, epochs, learning rates and yaml; another run its models'
    official names where :data:`OFFICIAL_MODELS` has them (else their usae names), epoch ``epochs - 1``, its
    ``end_lr`` and a yaml with ``global.nb_components`` = m (``num_tokens`` unknown: null).

    Parameters
    ----------
    run : path
        Folder with ``model.safetensors`` and ``model.json`` of kind ``usae``.
    out : path
    overrides : iterable of str
        ``"<their name>=<usae model>"``: the name a usae model gets.
    """
    run = Path(run)
    module, meta = load_trained(run / "model.safetensors", run / "model.json")
    if meta["kind"] != "usae":
        raise UserError(f"{run / 'model.json'}: kind '{meta['kind']}'; export-official writes a universal SAE only")
    if not isinstance(meta.get("stats"), dict) or set(meta["stats"]) != set(module.names):
        raise UserError(f"{run / 'model.json'}: key 'stats' missing or not one (mean, std) per model")
    official = meta.get("official") or {}
    theirs = {ours: name for name, ours in OFFICIAL_MODELS.items()}  # usae model -> official name, by priority:
    theirs.update({ours: name for name, ours in (official.get("names") or {}).items()})  # the import's,
    theirs.update({ours: name for name, ours in parse_overrides(overrides).items()})  # then --model
    order = meta["models"] if sorted(meta.get("models") or []) == sorted(module.names) else module.names
    names = {ours: theirs.get(ours, ours) for ours in order}  # model.json's dims are sorted; models keep the order
    clash = [name for name in names.values() if list(names.values()).count(name) > 1]
    if clash:
        raise UserError(f"{run / 'model.json'}: two models would be exported as '{clash[0]}'; rename one with --model")
    m, width = module.n_concepts, max(module.dims.values())
    config = official.get("yaml") or {
        "global": {
            "exp_factor": m // width if m % width == 0 else m / width,
            "input_shape": width,
            "nb_components": m,
            "standardize": True,
            "divide_norm": False,
            "use_class_tokens": False,
        },
        "sae_params": {**ARCHITECTURE, "dictionary_initializer": None, "data_initializer": None},
    }
    config = {**config, "sae_params": {**config.get("sae_params", {}), "top_k": module.k}, "model_zoo": {}}
    default_epoch = max(meta.get("epochs", 1) - 1, 0) if isinstance(meta.get("epochs"), int) else 0
    checkpoints, previous = {}, official.get("checkpoints") or {}
    for ours, name in names.items():
        record = previous.get(name) or {}
        epoch = record["epoch"] if isinstance(record.get("epoch"), int) else default_epoch
        state = module.saes[ours].state_dict()
        checkpoints[_pth_name(name, epoch)] = {
            "epoch": epoch,
            "optimizer_state_dict": {},
            "learning_rate": record.get("learning_rate", meta.get("end_lr")),
            "model_state_dict": {key: state[mine].detach().cpu().clone() for key, (mine, _) in TENSOR_KEYS.items()},
        }
        zoo = (official.get("yaml") or {}).get("model_zoo", {}).get(name) or {"num_tokens": None, "og_model": name}
        mean, std = meta["stats"][ours]
        config["model_zoo"][name] = {
            **zoo,
            "checkpoint_path": f"checkpoints/{_pth_name(name, epoch)}",
            "input_shape": module.dims[ours],
            "model_mean": float(mean),
            "model_std": float(std),
        }

    def write(tmp):
        for file_name, checkpoint in checkpoints.items():
            torch.save(checkpoint, tmp / file_name)
        (tmp / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False, default_flow_style=False))

    _replace_folder(out, write, lambda name: name == CONFIG_NAME or (name.startswith("uni_") and name.endswith(".pth")))
    return [Path(out) / CONFIG_NAME, *(Path(out) / name for name in checkpoints)]

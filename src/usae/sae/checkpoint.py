"""Checkpoints as safetensors (weights, optimizer tensors) plus JSON (everything else); no pickle.

A checkpoint is a folder::

    weights.safetensors     every module's state dict, keys "<module>.<parameter>"
    optimizer.safetensors   every optimizer's tensor state, keys "<optimizer>.<param index>.<name>"
    state.json              step, scheduler counters, optimizer hyper-parameters, run plan

It is written under a temporary name and renamed, so an interrupted save never damages an older one
(a kill between moving the old one aside and renaming the new one loses that rolling checkpoint only:
resume falls back to the newest other one). Temporary folders of killed saves are deleted by the next.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from usae.errors import UserError
from usae.io import read_json, remove_stale_temps, write_json

# Keys of state.json a checkpoint must have, with their JSON types.
STATE_KEYS = {"step": int, "plan": dict, "optimizers": dict}


def _flatten_optimizer(name, optimizer):
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{name}.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _restore_optimizer(name, optimizer, tensors, saved):
    state = {}
    for key, value in tensors.items():
        owner, index, entry = key.split(".", 2)
        if owner == name:
            state.setdefault(int(index), {})[entry] = value
    for key, value in saved["scalars"].items():
        index, entry = key.split(".", 1)
        state.setdefault(int(index), {})[entry] = value
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def save_checkpoint(directory, modules, optimizers, state, files=None):
    """Write a checkpoint folder atomically.

    Parameters
    ----------
    directory : path
        Folder to create (replaced if it exists).
    modules : dict of str to torch.nn.Module
    optimizers : dict of str to torch.optim.Optimizer
    state : dict
        JSON-ready training state.
    files : dict of str to str, optional
        Extra text files to store in the checkpoint (e.g. the training log up to this step).
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".tmp"))
    try:
        weights = {f"{name}.{key}": value.detach().cpu().contiguous()
                   for name, module in modules.items() for key, value in module.state_dict().items()}
        save_file(weights, tmp / "weights.safetensors")
        tensors, saved = {}, {}
        for name, optimizer in optimizers.items():
            optimizer_tensors, saved[name] = _flatten_optimizer(name, optimizer)
            tensors.update(optimizer_tensors)
        save_file(tensors, tmp / "optimizer.safetensors")
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
        write_json(tmp / "state.json", {**state, "optimizers": saved})
        old = None
        if directory.exists():
            old = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".tmp"))
            os.replace(directory, old)  # onto the new empty folder
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def load_tensors(path):
    """Tensors of a safetensors file; anything else (a pickle, a truncated file) is refused with one line.

    Raises
    ------
    usae.errors.UserError
        Naming the file.
    """
    try:
        return load_file(path)
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (SafetensorError, OSError) as exc:
        raise UserError(f"{path}: not a safetensors file, refused ({str(exc).splitlines()[0]})") from None


def read_json_object(path, required):
    """A JSON file holding an object with the ``required`` keys of the given types, else one-line UserError."""
    try:
        value = read_json(path)
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: not JSON ({exc.__class__.__name__})") from None
    wrong = [key for key, kind in required.items()
             if not isinstance(value, dict) or not isinstance(value.get(key), kind) or isinstance(value.get(key), bool)]
    if wrong:
        raise UserError(f"{path}: not what usae writes (key '{wrong[0]}' missing or of the wrong type)")
    return value


def read_state(directory):
    """A checkpoint's ``state.json``, checked against :data:`STATE_KEYS`."""
    return read_json_object(Path(directory) / "state.json", STATE_KEYS)


def load_checkpoint(directory, modules, optimizers):
    """Restore modules and optimizers in place from a checkpoint folder; return its state dict."""
    directory = Path(directory)
    weights = load_tensors(directory / "weights.safetensors")
    for name, module in modules.items():
        prefix = f"{name}."
        module.load_state_dict({key[len(prefix):]: value for key, value in weights.items() if key.startswith(prefix)})
    state = read_state(directory)
    tensors = load_tensors(directory / "optimizer.safetensors")
    for name, optimizer in optimizers.items():
        _restore_optimizer(name, optimizer, tensors, state["optimizers"][name])
    return state


def optimizer_differences(state, optimizers):
    """Optimizer hyper-parameters of a checkpoint that differ from ``optimizers``' own.

    Every parameter-group entry but ``params`` and ``lr`` (the schedule sets ``lr`` at each step) is
    compared: weight_decay, betas, eps, amsgrad, maximize, ...

    Parameters
    ----------
    state : dict
        A checkpoint's ``state.json``.
    optimizers : dict of str to torch.optim.Optimizer

    Returns
    -------
    list of str
        ``"<optimizer>.<hyper-parameter>"`` for each difference (``"<optimizer>"`` when it is missing or
        has another number of groups), empty when the checkpoint's optimizers are these.
    """
    saved = state["optimizers"]
    differences = list(saved.keys() ^ optimizers.keys())
    for name in saved.keys() & optimizers.keys():
        current = json.loads(json.dumps(optimizers[name].state_dict()["param_groups"]))
        if len(current) != len(saved[name]["param_groups"]):
            differences.append(name)
            continue
        for old, new in zip(saved[name]["param_groups"], current):
            keys = (old.keys() | new.keys()) - {"params", "lr"}
            differences += [f"{name}.{key}" for key in sorted(keys) if old.get(key) != new.get(key)]
    return sorted(set(differences))


def latest_checkpoint(root):
    """The complete checkpoint folder under ``root`` with the highest step, or None."""
    found = []
    for directory in Path(root).glob("[!.]*"):
        if (directory / "state.json").exists():
            found.append((read_state(directory)["step"], directory.name, directory))
    return max(found)[2] if found else None


def load_trained(weights_file, meta_file):
    """Load a finished training run from its ``model.safetensors`` and ``model.json``.

    Returns
    -------
    module : usae.sae.modules.UniversalSAE or torch.nn.ModuleDict of usae.sae.modules.TopKSAE
        In eval mode.
    meta : dict
        ``model.json``: kind, models, dims, hyper-parameters, standardisation statistics.

    Raises
    ------
    usae.errors.UserError
        A file is missing, is not what usae writes (nothing is unpickled), or the two disagree.
    """
    from usae.sae.modules import TopKSAE, UniversalSAE

    meta = read_json_object(meta_file, {"kind": str, "dims": dict, "n_concepts": int, "k": int})
    if meta["kind"] == "usae":
        module = UniversalSAE(meta["dims"], meta["n_concepts"], meta["k"])
    else:
        module = torch.nn.ModuleDict({name: TopKSAE(dim, meta["n_concepts"], meta["k"]) for name, dim in meta["dims"].items()})
    try:
        module.load_state_dict(load_tensors(weights_file))
    except RuntimeError as exc:
        raise UserError(f"{weights_file}: does not fit {meta_file} ({str(exc).splitlines()[0]})") from None
    return module.eval(), meta

"""Checkpoints as safetensors (weights, optimizer tensors) plus JSON (everything else); no pickle.

A checkpoint is a folder::

    weights.safetensors     every module's state dict, keys "<module>.<parameter>"
    optimizer.safetensors   every optimizer's tensor state, keys "<optimizer>.<param index>.<name>"
    state.json              step, scheduler counters, optimizer hyper-parameters, run plan, the sha256
                            of every other file (``files_sha256``), sealed (:func:`usae.io.seal_json`)

It is written under a temporary name and renamed, so an interrupted save never damages an older one
(a kill between moving the old one aside and renaming the new one loses that rolling checkpoint only:
resume falls back to the newest other one). Temporary folders of killed saves are deleted by the next.

:func:`load_checkpoint` checks everything before it loads anything: the seal of ``state.json``, every
file against its sha256, each tensor's name, shape and dtype against the modules' and the optimizers'
own (optimizers are AdamW, :func:`usae.sae.training.make_optimizer`), and the optimizers' settings; a
check that fails raises :class:`usae.errors.CheckpointError` naming the file and the tensor or key.
"""

import json
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from usae.errors import CheckpointError, UserError, first_line
from usae.io import (
    atomic_folder,
    check_json_seal,
    check_keys,
    file_sha256,
    is_plain_name,
    read_json_object,
    seal_json,
    write_json,
)

WEIGHTS, OPTIMIZER, STATE = "weights.safetensors", "optimizer.safetensors", "state.json"
# Keys of state.json a checkpoint must have, with their JSON types.
STATE_KEYS = {"step": int, "plan": dict, "optimizers": dict}


def _parameters(optimizer):
    """``(parameter, its group)`` of an optimizer, in the order of its state dict's indices."""
    return [(param, group) for group in optimizer.param_groups for param in group["params"]]


def _adam_state(param, group):
    """Shape and dtype of each entry of an AdamW parameter's state (``step`` a float32 scalar)."""
    moments = ["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * bool(group["amsgrad"])
    return {"step": (torch.Size([]), torch.float32), **{key: (param.shape, param.dtype) for key in moments}}


def _optimizer_tensors(name, optimizer, keys):
    """Shape and dtype of optimizer ``name``'s state tensors, for each parameter that has one of ``keys``.

    A parameter without state (never stepped) has none; one with state has every entry.
    """
    expected = {}
    for index, (param, group) in enumerate(_parameters(optimizer)):
        entries = {f"{name}.{index}.{entry}": spec for entry, spec in _adam_state(param, group).items()}
        if entries.keys() & keys:
            expected.update(entries)
    return expected


def _flatten_optimizer(name, optimizer):
    state = optimizer.state_dict()
    tensors = {
        f"{name}.{index}.{key}": value.detach().cpu().contiguous()
        for index, entries in state["state"].items()
        for key, value in entries.items()
    }
    return tensors, {"param_groups": state["param_groups"]}


def _restore_optimizer(name, optimizer, tensors, saved):
    state = {}
    for index, (param, group) in enumerate(_parameters(optimizer)):
        entries = {
            entry: tensors[f"{name}.{index}.{entry}"]
            for entry in _adam_state(param, group)
            if f"{name}.{index}.{entry}" in tensors
        }
        if entries:
            state[index] = entries
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
    with atomic_folder(directory) as tmp:
        weights = {
            f"{name}.{key}": value.detach().cpu().contiguous()
            for name, module in modules.items()
            for key, value in module.state_dict().items()
        }
        save_file(weights, tmp / WEIGHTS)
        tensors, saved = {}, {}
        for name, optimizer in optimizers.items():
            optimizer_tensors, saved[name] = _flatten_optimizer(name, optimizer)
            tensors.update(optimizer_tensors)
        save_file(tensors, tmp / OPTIMIZER)
        for name, text in (files or {}).items():
            (tmp / name).write_text(text)
        digests = {path.name: file_sha256(path) for path in sorted(tmp.iterdir())}
        write_json(tmp / STATE, seal_json({**state, "optimizers": saved, "files_sha256": digests}))


def load_tensors(path):
    """Tensors of a safetensors file; anything else (a pickle, a truncated file) is refused with one line.

    Raises
    ------
    usae.errors.UserError
        Naming the file.
    """
    with _safetensors_read(path):
        return load_file(path)


@contextmanager
def _safetensors_read(path):
    """Turn the failures of reading safetensors file ``path`` into one-line UserErrors naming it."""
    try:
        yield
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (SafetensorError, OSError) as exc:
        raise UserError(f"{path}: not a safetensors file, refused ({first_line(exc)})") from None


def _state_problem(state):
    """What is out of range or malformed in a checkpoint's state (its :data:`STATE_KEYS` well typed), or None."""
    optimizers = state["optimizers"].values()
    digests = state.get("files_sha256", {})
    if state["step"] < 0:
        return f"step {state['step']} is negative"
    if not all(
        isinstance(saved, dict)
        and isinstance(saved.get("param_groups"), list)
        and all(isinstance(group, dict) for group in saved["param_groups"])
        for saved in optimizers
    ):
        return "optimizers must hold each optimizer's param_groups"
    if not (
        isinstance(digests, dict)
        and all(map(is_plain_name, digests))
        and all(isinstance(digest, str) for digest in digests.values())
    ):
        return "files_sha256 must map the checkpoint's file names to their sha256"
    return None


def read_state(directory):
    """A checkpoint's ``state.json``: its seal, :data:`STATE_KEYS` and their ranges checked."""
    path = Path(directory) / STATE
    state = read_json_object(path, error=CheckpointError)
    check_json_seal(path, state, CheckpointError)
    check_keys(path, state, STATE_KEYS, CheckpointError)
    problem = _state_problem(state)
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    return state


def _check_tensors(path, tensors, expected):
    """Refuse ``tensors`` whose names, shapes or dtypes are not ``expected``'s (name -> (shape, dtype))."""
    missing, unexpected = sorted(expected.keys() - tensors.keys()), sorted(tensors.keys() - expected.keys())
    if missing:
        raise CheckpointError(f"{path}: tensor '{missing[0]}' missing")
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensor '{unexpected[0]}'")
    for key, (shape, dtype) in expected.items():
        if (tensors[key].shape, tensors[key].dtype) != (shape, dtype):
            raise CheckpointError(
                f"{path}: tensor '{key}' {_describe(tensors[key].shape, tensors[key].dtype)} "
                f"does not fit this run's {_describe(shape, dtype)}"
            )


def _describe(shape, dtype):
    """A tensor's shape and dtype as an error message says them: ``(2, 3) float32``."""
    return f"{tuple(shape)} {str(dtype).removeprefix('torch.')}"


def check_checkpoint(directory, state, weights, tensors, modules, optimizers):
    """Refuse a checkpoint that ``modules`` and ``optimizers`` cannot take, naming the file and what is wrong.

    Checks every file against the sha256 ``state`` records, the weights' and optimizer tensors' names,
    shapes and dtypes, and the optimizers' settings (:func:`optimizer_differences`).
    """
    directory = Path(directory)
    for name, digest in state.get("files_sha256", {}).items():
        if not (directory / name).is_file():
            raise CheckpointError(f"{directory / name}: missing")
        if file_sha256(directory / name) != digest:
            raise CheckpointError(
                f"{directory / name}: damaged (its sha256 differs from the one {directory / STATE} records)"
            )
    _check_tensors(
        directory / WEIGHTS,
        weights,
        {
            f"{name}.{key}": (value.shape, value.dtype)
            for name, module in modules.items()
            for key, value in module.state_dict().items()
        },
    )
    expected = {}
    for name, optimizer in optimizers.items():
        expected.update(_optimizer_tensors(name, optimizer, tensors.keys()))
    _check_tensors(directory / OPTIMIZER, tensors, expected)
    differences = optimizer_differences(state, optimizers)
    if differences:
        raise CheckpointError(
            f"{directory / STATE}: optimizer settings differ from this run's ({', '.join(differences)})"
        )


def load_checkpoint(directory, modules, optimizers):
    """Restore modules and optimizers in place from a checkpoint folder; return its state dict.

    Nothing is loaded unless the whole checkpoint passes :func:`check_checkpoint`.

    Raises
    ------
    usae.errors.UserError
        A file is missing, damaged or not what usae writes, or does not fit ``modules`` / ``optimizers``.
    """
    directory = Path(directory)
    state = read_state(directory)
    weights, tensors = load_tensors(directory / WEIGHTS), load_tensors(directory / OPTIMIZER)
    check_checkpoint(directory, state, weights, tensors, modules, optimizers)
    for name, module in modules.items():
        prefix = f"{name}."
        module.load_state_dict({key[len(prefix) :]: value for key, value in weights.items() if key.startswith(prefix)})
    for name, optimizer in optimizers.items():
        _restore_optimizer(name, optimizer, tensors, state["optimizers"][name])
    return state


def optimizer_differences(state, optimizers):
    """Optimizer hyper-parameters of a checkpoint that differ from ``optimizers``' own.

    Every parameter-group entry but ``lr`` (the schedule sets ``lr`` at each step) is compared:
    params (their indices), weight_decay, betas, eps, amsgrad, maximize, ...

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
            keys = (old.keys() | new.keys()) - {"lr"}
            differences += [f"{name}.{key}" for key in sorted(keys) if old.get(key) != new.get(key)]
    return sorted(set(differences))


def latest_checkpoint(root):
    """The complete checkpoint folder under ``root`` with the highest step, or None."""
    found = []
    for directory in Path(root).glob("[!.]*"):
        if (directory / STATE).exists():
            found.append((read_state(directory)["step"], directory.name, directory))
    return max(found)[2] if found else None


def load_trained(weights_file, meta_file):
    """Load a finished training run from its ``model.safetensors`` and ``model.json``.

    Returns
    -------
    module : usae.sae.modules.UniversalSAE or torch.nn.ModuleDict of usae.sae.modules.TopKSAE
        In eval mode.
    meta : dict
        ``model.json``: kind, models, dims, hyper-parameters, standardisation statistics, and (runs trained
        since it was recorded) ``model_specs`` (:func:`model_spec_record` per model).

    Raises
    ------
    usae.errors.UserError
        A file is missing, is not what usae writes (nothing is unpickled), or the two disagree.
    """
    meta = read_json_object(meta_file, {"kind": str, "dims": dict, "n_concepts": int, "k": int})
    problem = _trained_problem(meta)
    if problem:
        raise UserError(f"{meta_file}: not what usae writes ({problem})")
    with torch.device("meta"):  # shapes only: an absurd n_concepts allocates nothing
        expected = {key: tuple(value.shape) for key, value in _trained_module(meta).state_dict().items()}
    found = tensor_shapes(weights_file)
    if found != expected:
        key = next(key for key in sorted(expected.keys() | found.keys()) if expected.get(key) != found.get(key))
        raise UserError(
            f"{weights_file}: does not fit {meta_file} (tensor '{key}': {found.get(key, 'absent')} in the file, "
            f"{expected.get(key, 'none')} by model.json)"
        )
    module = _trained_module(meta)
    module.load_state_dict(load_tensors(weights_file))
    return module.eval(), meta


def _trained_problem(meta):
    """What in ``model.json``'s kind, dims, n_concepts and k is out of range (their types checked), or None."""
    dims, m, k = meta["dims"], meta["n_concepts"], meta["k"]
    if meta["kind"] not in ("usae", "independent"):
        return f"kind {meta['kind']!r} is neither 'usae' nor 'independent'"
    if not dims or not all(type(dim) is int and dim >= 1 for dim in dims.values()):
        return "'dims' must give each model a width of at least 1"
    if m < 2:
        return f"n_concepts {m} is below 2"
    if not 1 <= k <= m:
        return f"k {k} is not between 1 and n_concepts ({m})"
    return None


def _trained_module(meta):
    """The module ``model.json`` describes, its parameters freshly initialised."""
    from usae.sae.modules import TopKSAE, UniversalSAE

    if meta["kind"] == "usae":
        return UniversalSAE(meta["dims"], meta["n_concepts"], meta["k"])
    return torch.nn.ModuleDict(
        {name: TopKSAE(dim, meta["n_concepts"], meta["k"]) for name, dim in meta["dims"].items()}
    )


def tensor_shapes(path):
    """Each tensor's shape in a safetensors file, read from its header (no tensor is loaded); one-line
    UserError naming the file when it is missing or not a safetensors file."""
    with _safetensors_read(path), safe_open(path, "pt") as handle:
        return {key: tuple(handle.get_slice(key).get_shape()) for key in handle.keys()}


def model_spec_record(spec, grid, dtype):
    """One model's entry of ``model.json``'s ``model_specs``: what turns images into the tokens the run saw.

    Parameters
    ----------
    spec : dict or None
        The model's :meth:`usae.models.loaders.ModelSpec.describe` as its tokens were extracted (loader,
        arch, weights, layer, image_size, preprocessing mean and std, prefix_tokens, kwargs); None for
        activations imported without one.
    grid : sequence of int or None
        The token grid ``(H, W)`` the tokens were resampled to.
    dtype : str
        The tokens' dtype in the activation stores (``float16``: training saw them rounded to it).

    Returns
    -------
    dict
        ``{"spec", "grid", "dtype"}``, JSON-ready.
    """
    return {"spec": spec, "grid": list(grid) if grid else None, "dtype": dtype}

"""Seeded random damage to files usae's own writers wrote (a store, a checkpoint, a trained run's model.json, a
manifest): truncations, byte flips and edited keys.

Each read gives exactly the data that was written or a one-line :class:`usae.errors.UserError`, never another
exception and never other numbers; a resumed store write repairs whatever is damaged. Without the digests
usae records (a store or checkpoint another program wrote), a read may return other numbers, but still
ends in data or a UserError.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from usae.activations.store import ActivationStore, write_store
from usae.errors import UserError
from usae.io import SEAL
from usae.options import TrainOptions
from usae.sae.checkpoint import load_checkpoint, save_checkpoint
from usae.sae.modules import UniversalSAE
from usae.sae.training import make_optimizer, read_log

SEED = 20240611
IDS = [f"img{i:02d}" for i in range(10)]
DIMS = {"a": 3, "b": 4}
# Cases per test; about 200 in all.
CASES = {"store": 60, "resume": 40, "checkpoint": 60, "foreign store": 20, "foreign checkpoint": 20}
# A flipped .npy header may hold a string escape Python warns about while NumPy parses it.
pytestmark = pytest.mark.filterwarnings("ignore:invalid escape sequence")
# Reader-visible parts of a store, compared with the original's after every successful read.
STORE_FIELDS = ("model", "n_images", "tokens", "dim", "grid", "dtype", "shard_images", "image_ids", "stats", "source")


def damage(path, rng):
    """Truncate ``path`` (one case in three) or xor one byte, half the time in its first 256 bytes (the headers)."""
    data = bytearray(path.read_bytes())
    if rng.random() < 1 / 3:
        del data[rng.integers(len(data)) :]
    else:
        data[rng.integers(min(len(data), 256) if rng.random() < 0.5 else len(data))] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))


def without_digests(path, keys):
    """Rewrite the JSON file ``path`` without ``keys`` (what usae adds for integrity)."""
    value = json.loads(path.read_text())
    path.write_text(json.dumps({key: item for key, item in value.items() if key not in keys}, indent=2))


def damaged_copy(original, tmp_path, case, foreign=(), files=None):
    """A copy of ``original`` with one of its files (of ``files``, default all) damaged, seeded by ``case``."""
    rng = np.random.default_rng([SEED, case])
    folder = shutil.copytree(original, tmp_path / f"case{case}")
    if foreign:
        without_digests(folder / foreign[0], foreign[1:])
    names = sorted(path.name for path in folder.iterdir() if files is None or path.name in files)
    damage(folder / names[rng.integers(len(names))], rng)
    return folder


# ---------------------------------------------------------------- activation stores


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A store of 10 images, 4 tokens, 3 channels, 3 shards, by write_store; ``(folder, activations)``."""
    acts_NTD = np.random.default_rng(SEED).normal(size=(10, 4, 3)).astype(np.float32)
    folder = tmp_path_factory.mktemp("fuzz") / "store"
    write_store(folder, acts_NTD, IDS, "toy", shard_images=4, dtype="float32")
    return folder, acts_NTD


def read_store(folder):
    """What a reader of the store sees: its metadata fields and every image's activations."""
    store = ActivationStore(folder)
    return {key: store.meta.get(key) for key in STORE_FIELDS}, store.images(0, store.n_images)


def outcome(read, *args):
    """The result of ``read(*args)``, or None for a UserError (any other exception fails the test)."""
    try:
        return read(*args)
    except UserError as exc:
        assert "\n" not in str(exc)
        return None


def test_a_damaged_store_reads_as_written_or_is_refused(store, tmp_path):
    folder, acts_NTD = store
    fields, _ = read_store(folder)
    refused = 0
    for case in range(CASES["store"]):
        result = outcome(
            read_store,
            damaged_copy(
                folder, tmp_path, case, files=("meta.json", "shard_00000.npy", "shard_00001.npy", "shard_00002.npy")
            ),
        )
        if result is None:
            refused += 1
            continue
        assert result[0] == fields, case
        np.testing.assert_array_equal(result[1], acts_NTD, err_msg=str(case))
    assert refused > CASES["store"] // 2


def test_a_resumed_write_repairs_any_damaged_store_file(store, tmp_path):
    folder, acts_NTD = store
    for case in range(CASES["resume"]):
        copy = damaged_copy(folder, tmp_path, case)
        write_store(copy, acts_NTD, IDS, "toy", shard_images=4, dtype="float32")
        for path in folder.iterdir():
            if path.suffix == ".npy":
                assert (copy / path.name).read_bytes() == path.read_bytes(), (case, path.name)
            else:
                assert json.loads((copy / path.name).read_text()) == json.loads(path.read_text()), (case, path.name)


def test_a_damaged_foreign_store_is_data_or_one_line(store, tmp_path):
    folder, _ = store
    for case in range(CASES["foreign store"]):
        outcome(read_store, damaged_copy(folder, tmp_path, case, foreign=("meta.json", SEAL, "shard_sha256")))


# ---------------------------------------------------------------- checkpoints


def trainee(seed):
    """A small USAE and its per-model AdamW; after ``seed``'s one step of model "a" when ``seed`` is not None."""
    torch.manual_seed(0 if seed is None else seed)
    usae = UniversalSAE(DIMS, 8, 2)
    optimizers = {name: make_optimizer(usae.saes[name], TrainOptions(lr=1e-3, weight_decay=0.01)) for name in DIMS}
    if seed is not None:
        for param in usae.saes["a"].parameters():
            param.grad = torch.randn_like(param)
        optimizers["a"].step()
    return {"usae": usae}, optimizers


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of :func:`trainee` at step 1 by save_checkpoint; ``(folder, modules, optimizers, state)``."""
    modules, optimizers = trainee(seed=1)
    state = {
        "step": 1,
        "plan": {"kind": "usae", "models": list(DIMS)},
        "scheduler": {"model_steps": {"a": 1, "b": 0}},
        "fired": {"a": [0, 5], "b": []},
    }
    folder = tmp_path_factory.mktemp("fuzz") / "latest"
    save_checkpoint(folder, modules, optimizers, state, files={"log.csv": "step,epoch,loss\n1,0,0.25\n"})
    return folder, modules, optimizers, state


def read_checkpoint(folder):
    """What a resume restores: modules, optimizers, the state and the log's rows."""
    modules, optimizers = trainee(seed=None)
    state = load_checkpoint(folder, modules, optimizers)
    return modules, optimizers, state, read_log(folder / "log.csv", state["step"])


def same_tensors(first, second):
    """Whether two nested state dicts hold equal tensors and values (a tuple equals the list JSON makes of it)."""
    if torch.is_tensor(first):
        return torch.is_tensor(second) and first.dtype == second.dtype and torch.equal(first, second)
    if isinstance(first, dict):
        return (
            isinstance(second, dict)
            and first.keys() == second.keys()
            and all(same_tensors(value, second[key]) for key, value in first.items())
        )
    if isinstance(first, (list, tuple)):
        return isinstance(second, (list, tuple)) and len(first) == len(second) and all(map(same_tensors, first, second))
    return first == second


def test_a_damaged_checkpoint_loads_as_written_or_is_refused(checkpoint, tmp_path):
    folder, modules, optimizers, state = checkpoint
    refused = 0
    for case in range(CASES["checkpoint"]):
        result = outcome(read_checkpoint, damaged_copy(folder, tmp_path, case))
        if result is None:
            refused += 1
            continue
        loaded_modules, loaded_optimizers, loaded_state, rows = result
        assert same_tensors(loaded_modules["usae"].state_dict(), modules["usae"].state_dict()), case
        for name, optimizer in optimizers.items():
            assert same_tensors(loaded_optimizers[name].state_dict(), optimizer.state_dict()), (case, name)
        assert {key: loaded_state.get(key) for key in state} == state, case
        assert rows == [{"step": "1", "epoch": "0", "loss": "0.25"}], case
    assert refused > CASES["checkpoint"] // 2


def test_a_damaged_foreign_checkpoint_is_data_or_one_line(checkpoint, tmp_path):
    folder = checkpoint[0]
    for case in range(CASES["foreign checkpoint"]):
        outcome(read_checkpoint, damaged_copy(folder, tmp_path, case, foreign=("state.json", SEAL, "files_sha256")))


# ---------------------------------------------------------------- trained runs (model.json)

# Values a damaged or hand-edited model.json may hold where usae wrote another.
ODD_VALUES = [None, "x", -1, 0, 1.5, 10**15, True, [], {}, [1, 2, 3], float("inf")]
CASES["model.json"] = 120


@pytest.fixture(scope="module")
def trained_run_folder(tmp_path_factory):
    """A USAE run folder as training writes it (weights, model.json with model_specs); ``(folder, weights)``."""
    from safetensors.torch import save_file

    torch.manual_seed(SEED)
    usae = UniversalSAE(DIMS, 8, 2)
    folder = tmp_path_factory.mktemp("fuzz") / "run"
    folder.mkdir()
    weights = {key: value.contiguous() for key, value in usae.state_dict().items()}
    save_file(weights, folder / "model.safetensors")
    record = {"spec": None, "grid": [2, 2], "dtype": "float32"}
    meta = {
        "kind": "usae",
        "models": list(DIMS),
        "dims": DIMS,
        "n_concepts": 8,
        "k": 2,
        "stats": {name: [0.1, 2.0] for name in DIMS},
        "model_specs": {name: dict(record) for name in DIMS},
    }
    (folder / "model.json").write_text(json.dumps(meta))
    return folder, weights


def _paths(value, prefix=()):
    """Every key path of a JSON value, to the leaves."""
    if isinstance(value, dict):
        return [prefix] + [path for key, item in value.items() for path in _paths(item, (*prefix, key))]
    return [prefix]


def mutated(meta, rng):
    """``meta`` with one key path set to an odd value, or removed."""
    meta = json.loads(json.dumps(meta))
    paths = [path for path in _paths(meta) if path]
    path = paths[rng.integers(len(paths))]
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    if rng.random() < 0.15:
        del parent[path[-1]]
    else:
        parent[path[-1]] = ODD_VALUES[rng.integers(len(ODD_VALUES))]
    return meta


def test_a_damaged_or_edited_model_json_loads_as_written_or_is_refused(trained_run_folder, tmp_path):
    """usae.load of a run whose model.json has a key of the wrong type, out of range, absurd (m = 1e15) or
    missing, or whose bytes are damaged: the run as written, or one line; never a traceback or a huge
    allocation."""
    from usae.sae.trained_run import load

    folder, weights = trained_run_folder
    written = json.loads((folder / "model.json").read_text())
    refused = 0
    for case in range(CASES["model.json"]):
        rng = np.random.default_rng([SEED, case])
        copy = shutil.copytree(folder, tmp_path / f"case{case}")
        if case % 4 == 0:
            damage(copy / "model.json", rng)
        else:
            (copy / "model.json").write_text(json.dumps(mutated(written, rng)))
        run = outcome(load, copy)
        if run is None:
            refused += 1
            continue
        state = {
            f"saes.{name}.{key}": value for name, sae in run.saes.items() for key, value in sae.state_dict().items()
        }
        assert state.keys() == weights.keys() and all(torch.equal(state[key], weights[key]) for key in weights), case
    assert refused > CASES["model.json"] // 2


# ---------------------------------------------------------------- manifests

CASES["manifest"] = 80


def test_a_damaged_manifest_reads_as_a_manifest_or_is_refused(tmp_path):
    """read_manifest of a manifest cut short or with a flipped byte, or of its seal damaged: one line, never
    another exception, and never a frame of other bytes (the seal records the manifest's rows and bytes)."""
    from usae.data.manifest import MANIFEST_COLUMNS, read_manifest, write_manifest

    rows = [
        (f"img{i:02d}", f"images/val/img{i:02d}.jpg", f"label {i}, with a comma", "", f"{i:064x}") for i in range(10)
    ]
    write_manifest(pd.DataFrame(rows, columns=MANIFEST_COLUMNS), tmp_path / "val.csv")
    whole = read_manifest(tmp_path / "val.csv")
    for case in range(CASES["manifest"]):
        folder = tmp_path / f"case{case}"
        folder.mkdir()
        for name in ("val.csv", "val.seal.json"):
            shutil.copy(tmp_path / name, folder / name)
        damage(folder / ("val.csv", "val.seal.json")[case % 2], np.random.default_rng([SEED, case]))
        frame = outcome(read_manifest, folder / "val.csv")
        # A damaged manifest is refused; a damaged seal too, unless it still reads as the same JSON values.
        assert frame is None or (case % 2 and frame.drop(columns="path").equals(whole.drop(columns="path"))), case

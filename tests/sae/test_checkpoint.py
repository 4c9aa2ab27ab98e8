import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from usae.errors import CheckpointError, UserError
from usae.io import SEAL, seal_json
from usae.sae.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def _module_and_optimizer(seed):
    torch.manual_seed(seed)
    module = torch.nn.Linear(3, 2)
    return {"m": module}, {"m": torch.optim.AdamW(module.parameters(), lr=1e-3)}


def test_leftovers_of_a_killed_save_do_not_block_later_saves(tmp_path):
    root = tmp_path / "checkpoints"
    modules, optimizers = _module_and_optimizer(0)
    save_checkpoint(root / "latest", modules, optimizers, {"step": 1, "plan": {}})
    # Killed between moving the old checkpoint aside and renaming the new one (earlier and current names).
    (root / ".latest.old").mkdir()
    (root / ".latest.old" / "state.json").write_text("{}")
    (root / ".latest.k1ll3d_x.tmp").mkdir()
    (root / ".latest.k1ll3d_x.tmp" / "weights.safetensors").write_text("partial")
    for step in (2, 3):
        save_checkpoint(root / "latest", modules, optimizers, {"step": step, "plan": {}})
    assert not (root / ".latest.k1ll3d_x.tmp").exists()
    assert latest_checkpoint(root) == root / "latest"
    other, other_optimizers = _module_and_optimizer(1)
    assert load_checkpoint(root / "latest", other, other_optimizers)["step"] == 3
    assert torch.equal(other["m"].weight, modules["m"].weight)
    assert sorted(p.name for p in root.iterdir()) == [".latest.old", "latest"]


def _stepped(seed, module=None):
    """A module and its AdamW after one step: every parameter has its optimizer state."""
    torch.manual_seed(seed)
    module = module or torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    module(torch.ones(4, module.in_features)).sum().backward()
    optimizer.step()
    return {"m": module}, {"m": optimizer}


def _saved(root, modules, optimizers):
    folder = root / "latest"
    save_checkpoint(folder, modules, optimizers, {"step": 1, "plan": {}}, files={"log.csv": "step,loss\n1,0.5\n"})
    return folder


def _without_digests(folder):
    """Drop the seal and file digests of a checkpoint's state.json (to reach the checks behind them)."""
    state = json.loads((folder / "state.json").read_text())
    (folder / "state.json").write_text(json.dumps({k: v for k, v in state.items() if k not in (SEAL, "files_sha256")}))


def _error(folder, modules, optimizers):
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(folder, modules, optimizers)
    return str(caught.value)


@pytest.mark.parametrize(
    "other, message",
    [
        (torch.nn.Linear(4, 2), "tensor 'm.weight' (2, 3) float32 does not fit this run's (2, 4) float32"),
        (torch.nn.Linear(3, 2, bias=False), "unexpected tensor 'm.bias'"),
    ],
)
def test_weights_are_checked_against_the_modules_before_loading(tmp_path, other, message):
    folder = _saved(tmp_path, *_stepped(0))
    before = {key: value.clone() for key, value in other.state_dict().items()}
    assert _error(folder, {"m": other}, {}) == f"{folder / 'weights.safetensors'}: {message}"
    assert all(torch.equal(value, other.state_dict()[key]) for key, value in before.items())
    assert _error(folder, {}, {}) == f"{folder / 'weights.safetensors'}: unexpected tensor 'm.bias'"
    bigger = {"m": torch.nn.Linear(3, 2), "n": torch.nn.Linear(1, 1)}
    assert _error(folder, bigger, {}) == f"{folder / 'weights.safetensors'}: tensor 'n.bias' missing"


def test_optimizer_tensors_are_checked_before_loading(tmp_path):
    modules, optimizers = _stepped(0)
    folder = _saved(tmp_path, modules, optimizers)
    _without_digests(folder)
    tensors = load_file(folder / "optimizer.safetensors")
    fresh_modules, fresh_optimizers = _module_and_optimizer(1)
    path = folder / "optimizer.safetensors"
    save_file({**tensors, "m.0.exp_avg": torch.zeros(3)}, path)
    assert _error(folder, fresh_modules, fresh_optimizers) == (
        f"{path}: tensor 'm.0.exp_avg' (3,) float32 does not fit this run's (2, 3) float32"
    )
    save_file({key: value for key, value in tensors.items() if key != "m.1.exp_avg_sq"}, path)
    assert _error(folder, fresh_modules, fresh_optimizers) == f"{path}: tensor 'm.1.exp_avg_sq' missing"
    save_file({**tensors, "m.2.step": torch.tensor(1.0)}, path)
    assert _error(folder, fresh_modules, fresh_optimizers) == f"{path}: unexpected tensor 'm.2.step'"
    assert fresh_optimizers["m"].state_dict()["state"] == {}
    save_file({key: value for key, value in tensors.items() if key.startswith("m.1.")}, path)  # m.0 never stepped
    load_checkpoint(folder, fresh_modules, fresh_optimizers)
    assert torch.equal(fresh_optimizers["m"].state_dict()["state"][1]["exp_avg"], tensors["m.1.exp_avg"])


def test_optimizer_settings_and_states_usae_did_not_write_are_refused(tmp_path):
    modules, optimizers = _stepped(0)
    folder = _saved(tmp_path, modules, optimizers)
    other = {"m": torch.optim.AdamW(modules["m"].parameters(), lr=1e-3, weight_decay=0.5)}
    state_json = folder / "state.json"
    assert _error(folder, modules, other) == f"{state_json}: optimizer settings differ from this run's (m.weight_decay)"
    state = json.loads(state_json.read_text())
    state["optimizers"]["m"] = {"param_groups": "lr=1"}
    state_json.write_text(json.dumps(seal_json(state)))
    assert _error(folder, modules, optimizers) == f"{state_json}: optimizers must hold each optimizer's param_groups"
    state = seal_json({**state, "step": 7})
    state["step"] = 8  # edited after it was sealed
    state_json.write_text(json.dumps(state))
    assert _error(folder, modules, optimizers) == (
        f"{state_json}: damaged or edited (its contents differ from their "
        "'sha256'; remove that key to accept a hand edit)"
    )


@pytest.mark.parametrize("name", ["weights.safetensors", "optimizer.safetensors", "log.csv"])
def test_every_checkpoint_file_is_checked_against_its_sha256(tmp_path, name):
    modules, optimizers = _stepped(0)
    folder = _saved(tmp_path, modules, optimizers)
    data = bytearray((folder / name).read_bytes())
    data[-2] ^= 0x01  # a tensor's last byte, or the log's last loss digit: the file still parses
    (folder / name).write_bytes(bytes(data))
    assert _error(folder, *_module_and_optimizer(1)) == (
        f"{folder / name}: damaged (its sha256 differs from the one {folder / 'state.json'} records)"
    )
    (folder / name).unlink()
    with pytest.raises(UserError) as caught:
        load_checkpoint(folder, *_module_and_optimizer(1))
    assert str(caught.value) == f"{folder / name}: missing"


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"k": 9}, "model.json: not what usae writes (k 9 is not between 1 and n_concepts (8))"),
        ({"kind": "sparse"}, "model.json: not what usae writes (kind 'sparse' is neither 'usae' nor 'independent')"),
        ({"dims": {"a": 3, "b": "4"}}, "model.json: not what usae writes ('dims' must give each model a width"),
        ({"n_concepts": 10**15}, "model.safetensors: does not fit "),  # refused from the header, nothing allocated
        ({"k": "2"}, "model.json: not what usae writes (key 'k' missing or of the wrong type)"),
    ],
)
def test_a_trained_run_whose_model_json_is_wrong_is_refused_in_one_line(tmp_path, change, problem):
    from usae.sae.checkpoint import load_trained
    from usae.sae.modules import UniversalSAE

    save_file(UniversalSAE({"a": 3, "b": 4}, 8, 2).state_dict(), tmp_path / "model.safetensors")
    meta = {"kind": "usae", "models": ["a", "b"], "dims": {"a": 3, "b": 4}, "n_concepts": 8, "k": 2, **change}
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(UserError) as error:
        load_trained(tmp_path / "model.safetensors", tmp_path / "model.json")
    assert problem in str(error.value) and "\n" not in str(error.value)

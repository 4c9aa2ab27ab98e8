import torch

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

import json
import logging

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tests.sae.test_schedule import OFFICIAL_RATES_T12_W3
from tests.synthetic import drop_digests, planted_activations, run_files, write_planted_stores
from usae.activations.batches import TokenBatches
from usae.analysis.evaluation import r2_matrix
from usae.config import validate_config
from usae.options import TrainOptions
from usae.sae.modules import UniversalSAE
from usae.sae.training import IndependentRun, UniversalRun, chosen_model, extracted_spec, train_together

DIMS = {"a": 8, "b": 12, "c": 10}


class Killed(Exception):
    """A simulated kill of the training process, raised from ``on_step``."""


def kill_at(stop):
    """An ``on_step`` callback that kills the run after step ``stop``."""

    def on_step(step):
        if step == stop:
            raise Killed

    return on_step


def options(**changes):
    train = {
        "n_concepts": 32,
        "k": 4,
        "batch_images": 16,
        "epochs": 2,
        "lr": 3e-3,
        "warmup_epochs": 0.5,
        "checkpoint_every": 3,
        "log_every": 2,
        "checkpoint_epochs": [0],
        **changes,
    }
    return TrainOptions.from_config(validate_config({"train": train}, "test"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rng = np.random.default_rng(0)
    acts, atoms = planted_activations(rng, 600, 4, DIMS, n_shared=24, n_specific=2, active=3)
    root = tmp_path_factory.mktemp("planted")
    train = write_planted_stores(root / "train", {n: a[:500] for n, a in acts.items()})
    val = write_planted_stores(root / "val", {n: a[500:] for n, a in acts.items()})
    return train, val, atoms


def test_one_step_changes_only_the_chosen_model(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=16)
    run = UniversalRun(batches, options(), *run_files(tmp_path))
    run.start_epoch()
    before = {k: v.clone() for k, v in run.usae.state_dict().items()}
    chosen = run.usae.names[chosen_model(0, 0, 3)]
    run.train_step(batches.batch(0, 0), 0)
    for key, value in run.usae.state_dict().items():
        changed = not torch.equal(before[key], value)
        assert changed == key.startswith(f"saes.{chosen}."), key
    assert all(p.grad is None for p in run.usae.parameters())


def test_model_choice_is_seeded_and_uniform():
    draws = [chosen_model(0, step, 3) for step in range(3000)]
    assert draws == [chosen_model(0, step, 3) for step in range(3000)]
    assert all(abs(draws.count(i) / 3000 - 1 / 3) < 0.03 for i in range(3))


def test_usae_learns_the_planted_shared_code(planted, tmp_path):
    train, val, atoms = planted
    opts = options(epochs=60, n_concepts=48, lr=1.5e-2, checkpoint_every=10**6, log_every=100)
    usae = UniversalRun(TokenBatches(train, batch_images=16), opts, *run_files(tmp_path)).run()
    stats = {name: (store.mean, store.std) for name, store in train.items()}
    val_batches = TokenBatches(val, batch_images=16, stats=stats)
    r2 = r2_matrix(usae, val_batches)
    # Control: the same codes decoded against other images' activations (pairing shuffled).
    usae.eval()
    batch = next(val_batches.sequential(100))
    with torch.no_grad():
        _, codes = usae.encode("a", batch["a"])
        shuffled = usae.decode("b", codes)[torch.randperm(len(codes), generator=torch.Generator().manual_seed(0))]
        control = 1 - (batch["b"] - shuffled).square().mean() / (batch["b"] - batch["b"].mean()).square().mean()
    # Model-specific concepts (about 1/7 of the variance) cannot cross over; shared ones do.
    assert r2.diagonal().min() > 0.8
    assert r2[~np.eye(3, dtype=bool)].min() > 0.35
    assert control < 0.0
    # Every planted shared concept has a close USAE atom in each model's space.
    for name in DIMS:
        learned = usae.saes[name].dictionary().detach().numpy()
        planted_atoms = atoms[name] / np.linalg.norm(atoms[name], axis=1, keepdims=True)
        best = (planted_atoms @ learned.T).max(1)
        assert np.median(best) > 0.85, name


def test_resume_equals_uninterrupted(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=64)
    opts = options(n_concepts=256)  # enough concepts that some stay dead in a few batches
    full = UniversalRun(batches, opts, *run_files(tmp_path / "full")).run()
    with pytest.raises(Killed):
        UniversalRun(batches, opts, *run_files(tmp_path / "resumed")).run(on_step=kill_at(10))
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed = UniversalRun(batches, opts, *run_files(tmp_path / "resumed")).run()
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    assert (tmp_path / "resumed" / "checkpoints" / "epoch_000" / "weights.safetensors").exists()
    saved = load_file(tmp_path / "resumed" / "model.safetensors")
    assert torch.equal(saved["saes.a.dictionary.weight"], full.saes["a"].dictionary.weight.detach())
    # Killed mid-epoch (7 steps per epoch, checkpoint at step 9): the dead-share tracker is resumed too.
    assert (tmp_path / "resumed" / "log.csv").read_bytes() == (tmp_path / "full" / "log.csv").read_bytes()


def test_independent_saes_resume_and_learn(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=64)
    opts = options(epochs=3)
    full = IndependentRun(batches, opts, *run_files(tmp_path / "full")).run()
    with pytest.raises(Killed):
        IndependentRun(batches, opts, *run_files(tmp_path / "resumed")).run(on_step=kill_at(5))
    (tmp_path / "resumed" / "log.csv").unlink()  # Snakemake deletes an interrupted job's outputs
    resumed = IndependentRun(batches, opts, *run_files(tmp_path / "resumed")).run()
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    import pandas as pd

    log = pd.read_csv(tmp_path / "resumed" / "log.csv")
    assert list(log["step"]) == list(range(1, 22))
    assert {"r2_a->a", "l0_b", "dead_c", "lr", "loss"} <= set(log.columns)


def test_changed_dims_do_not_resume_a_stale_checkpoint(planted, tmp_path, rng):
    batches = TokenBatches(planted[0], batch_images=64)
    UniversalRun(batches, options(epochs=1), *run_files(tmp_path)).run()
    other = write_planted_stores(tmp_path / "other", {n: rng.normal(size=(500, 4, 5)) for n in DIMS})
    run = UniversalRun(TokenBatches(other, batch_images=64), options(epochs=1), *run_files(tmp_path))
    usae = run.run()
    assert usae.dims == {n: 5 for n in DIMS}


def test_log_has_every_pair_and_lr_per_model_schedule(planted, tmp_path):
    import pandas as pd

    batches = TokenBatches(planted[0], batch_images=64)
    UniversalRun(batches, options(epochs=2), *run_files(tmp_path)).run()
    log = pd.read_csv(tmp_path / "log.csv")
    pairs = {f"r2_{i}->{j}" for i in DIMS for j in DIMS}
    assert pairs <= set(log.columns) and len(log) == 14
    assert log["l0"].max() <= 4 and log["dead"].between(0, 1).all()


def test_bad_shard_stops_training_and_keeps_checkpoints(tmp_path, rng):
    from usae.activations.store import ActivationStore
    from usae.errors import StoreError
    from usae.sae.checkpoint import latest_checkpoint, load_checkpoint

    acts = {n: rng.normal(size=(128, 4, d)) for n, d in DIMS.items()}
    stores = write_planted_stores(tmp_path / "stores", acts, shard_images=64)
    shard = np.load(tmp_path / "stores" / "b" / "shard_00001.npy", mmap_mode="r+")
    shard[100 - 64, 2, 3] = np.inf  # damaged after the store was written
    shard.flush()
    drop_digests(tmp_path / "stores" / "b")  # by a program that records no sha256 (usae's is refused as damaged)
    stores["b"] = ActivationStore(tmp_path / "stores" / "b")
    # The inf sits in image 100 (shard 1), which this seed's epoch 0 reaches after some batches.
    batches = TokenBatches(stores, batch_images=16, shuffle_shards=1, seed=1)
    failing_step = int(np.flatnonzero(batches.epoch_order(0) == 100)[0]) // 16
    assert failing_step >= 4
    with pytest.raises(StoreError, match=r"b/shard_00001.npy: NaN or inf"):
        UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path / "run")).run()
    latest = latest_checkpoint(tmp_path / "run" / "checkpoints")
    run = UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path / "other"))
    assert load_checkpoint(latest, run.modules, run.optimizers)["step"] == failing_step // 2 * 2
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_store_with_wrong_dims_is_named(tmp_path, rng):
    from usae.activations.store import ActivationStore
    from usae.errors import StoreError
    from usae.io import read_json, write_json

    stores = write_planted_stores(tmp_path, {n: rng.normal(size=(32, 4, d)) for n, d in DIMS.items()})
    drop_digests(tmp_path / "c")  # an edit by hand (a sealed meta.json is refused once edited)
    meta = read_json(tmp_path / "c" / "meta.json")
    write_json(tmp_path / "c" / "meta.json", {**meta, "dim": 11})
    stores["c"] = ActivationStore(tmp_path / "c")
    with pytest.raises(StoreError, match=r"c/shard_00000.npy: shape \(32, 4, 10\), metadata says \(32, 4, 11\)"):
        TokenBatches(stores, batch_images=16).batch(0, 0)


def test_independent_saes_do_not_start_from_the_usae_dictionaries(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=64)
    usae = UniversalRun(batches, options(), *run_files(tmp_path / "u")).usae
    saes = IndependentRun(batches, options(), *run_files(tmp_path / "i")).saes
    for name in DIMS:
        assert not torch.equal(usae.saes[name].dictionary.weight, saes[name].dictionary.weight)


def test_a_finished_run_is_trained_again_not_resumed(planted, tmp_path, caplog):
    """Snakemake reruns a finished training only when forced or when something changed: start afresh."""
    caplog.set_level(logging.INFO, logger="usae")
    batches = TokenBatches(planted[0], batch_images=64)
    first = UniversalRun(batches, options(epochs=1), *run_files(tmp_path)).run()
    for name in ["log.csv", "model.safetensors"]:
        (tmp_path / name).unlink()
    again = UniversalRun(batches, options(epochs=1), *run_files(tmp_path)).run()
    assert "the run finished before; training again from scratch" in caplog.text
    assert (tmp_path / "log.csv").read_text().count("\n") == 8
    assert torch.equal(first.saes["a"].dictionary.weight, again.saes["a"].dictionary.weight)


def test_per_model_schedule_logs_the_official_rates(planted, tmp_path):
    import pandas as pd

    # 500 images, 125 per batch, 3 epochs, 0.75 warm-up epochs: T = 12, W = 3 as in test_schedule.
    batches = TokenBatches(planted[0], batch_images=125)
    UniversalRun(batches, options(batch_images=125, epochs=3, warmup_epochs=0.75), *run_files(tmp_path)).run()
    log = pd.read_csv(tmp_path / "log.csv")
    assert len(log) == 12
    for name, rates in log.groupby("model")["lr"]:
        assert list(rates) == OFFICIAL_RATES_T12_W3[: len(rates)], name
    assert log["model"].nunique() == 3


def _interrupted_run(batches, out_dir, at=5, **changes):
    """Train until step ``at`` (a checkpoint every 2 steps), then die."""
    with pytest.raises(Killed):
        UniversalRun(batches, options(checkpoint_every=2, **changes), *run_files(out_dir)).run(on_step=kill_at(at))


def test_a_reextracted_store_or_other_provenance_trains_afresh(planted, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="usae")
    from usae.activations.store import ActivationStore
    from usae.io import read_json, write_json

    stores = write_planted_stores(tmp_path / "stores", {n: planted[0][n].images(0, 500) for n in DIMS})
    _interrupted_run(TokenBatches(stores, batch_images=64), tmp_path / "run")
    drop_digests(tmp_path / "stores" / "b")
    meta = read_json(tmp_path / "stores" / "b" / "meta.json")
    write_json(tmp_path / "stores" / "b" / "meta.json", {**meta, "stats": {**meta["stats"], "std": 2.0}})
    stores["b"] = ActivationStore(tmp_path / "stores" / "b")
    caplog.clear()
    _interrupted_run(TokenBatches(stores, batch_images=64), tmp_path / "run", at=3)
    assert "different configuration (stores); training from scratch" in caplog.text
    UniversalRun(
        TokenBatches(stores, batch_images=64), options(), *run_files(tmp_path / "run"), provenance={"code": "v2"}
    ).run()
    assert "different configuration (provenance); training from scratch" in caplog.text


def test_a_checkpoint_with_other_optimizer_settings_is_not_resumed(planted, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="usae")
    from usae.io import read_json, seal_json, write_json
    from usae.sae.checkpoint import latest_checkpoint

    batches = TokenBatches(planted[0], batch_images=64)
    _interrupted_run(batches, tmp_path)
    latest = latest_checkpoint(tmp_path / "checkpoints")
    state = read_json(latest / "state.json")
    state["optimizers"]["c"]["param_groups"][0]["maximize"] = True
    write_json(latest / "state.json", seal_json(state))
    caplog.clear()
    resumed = UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path)).run()
    assert "different configuration (c.maximize); training from scratch" in caplog.text
    fresh = UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path / "fresh")).run()
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def _group(batches, root):
    """Three runs over one batch stream that differ in lr, epochs and kind."""
    return [
        UniversalRun(batches, options(lr=3e-3), *run_files(root / "fast")),
        UniversalRun(batches, options(lr=1e-3, epochs=3), *run_files(root / "long")),
        IndependentRun(batches, options(), *run_files(root / "independent")),
    ]


def _assert_same_runs(first, second, root_a, root_b):
    for a, b in zip(first, second):
        for key, value in a.state_dict().items():
            assert torch.equal(value, b.state_dict()[key]), key
    for name in ["fast", "long", "independent"]:
        for file in ["model.safetensors", "model.json", "log.csv"]:
            assert (root_a / name / file).read_bytes() == (root_b / name / file).read_bytes(), (name, file)


def test_runs_trained_together_equal_the_runs_alone(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=64)
    alone = [run.run() for run in _group(batches, tmp_path / "alone")]
    together = train_together(_group(batches, tmp_path / "together"))
    _assert_same_runs(alone, together, tmp_path / "alone", tmp_path / "together")


def test_runs_trained_together_resume_each_from_its_checkpoint(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=64)
    alone = [run.run() for run in _group(batches, tmp_path / "alone")]
    with pytest.raises(Killed):
        train_together(_group(batches, tmp_path / "together"), on_step=kill_at(10))
    runs = _group(batches, tmp_path / "together")
    (tmp_path / "together" / "long" / "checkpoints" / "latest").rename(
        tmp_path / "gone"
    )  # one run resumes from an earlier checkpoint
    resumed = train_together(runs)
    _assert_same_runs(alone, resumed, tmp_path / "alone", tmp_path / "together")


def test_runs_trained_together_share_their_batches(planted, tmp_path):
    runs = [
        UniversalRun(TokenBatches(planted[0], batch_images=64), options(), *run_files(tmp_path / name)) for name in "ab"
    ]
    with pytest.raises(ValueError, match="share one TokenBatches"):
        train_together(runs)


def test_the_dictionary_init_is_recorded_and_changes_the_training(planted, tmp_path):
    batches = TokenBatches(planted[0], batch_images=64)
    official = UniversalRun(batches, options(epochs=1), *run_files(tmp_path / "official")).run()
    small = UniversalRun(batches, options(epochs=1, dictionary_init_std=0.05), *run_files(tmp_path / "small")).run()
    assert json.loads((tmp_path / "small" / "model.json").read_text())["dictionary_init_std"] == 0.05
    assert json.loads((tmp_path / "official" / "model.json").read_text())["dictionary_init_std"] == 1.0
    turned = [
        torch.nn.functional.cosine_similarity(run.saes["a"].dictionary(), start, dim=1).mean()
        for run, start in [(official, _initial_atoms(1.0)), (small, _initial_atoms(0.05))]
    ]
    assert turned[1] < turned[0]  # the smaller init turns the atoms further from where they started


def _initial_atoms(init_std):
    """The normalised initial atoms of model ``a`` in a run seeded 0 (the same directions for any init_std)."""
    torch.manual_seed(0)
    return UniversalSAE(DIMS, 32, 4, init_std).saes["a"].dictionary().detach()


def _edited_checkpoint(planted, tmp_path, edit):
    """A run killed at step 5 whose newest checkpoint (step 4) is then edited by ``edit(state)`` and resealed."""
    from usae.io import read_json, seal_json, write_json
    from usae.sae.checkpoint import latest_checkpoint

    batches = TokenBatches(planted[0], batch_images=64)
    _interrupted_run(batches, tmp_path)
    latest = latest_checkpoint(tmp_path / "checkpoints")
    state = read_json(latest / "state.json")
    edit(state)
    write_json(latest / "state.json", seal_json(state))
    return batches, latest


MODEL_STEPS = "scheduler must be {'model_steps': each model's update count, 4 in all}"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda state: state["scheduler"]["model_steps"].update(a=99), MODEL_STEPS),
        (lambda state: state["scheduler"]["model_steps"].update(a=-1), MODEL_STEPS),
        (lambda state: state["scheduler"]["model_steps"].pop("a"), MODEL_STEPS),
        (lambda state: state.update(scheduler={}), MODEL_STEPS),
        (
            lambda state: state["fired"].update(a=[32]),
            "'fired' must list, for each model, concept indices from 0 to 31",
        ),
        (
            lambda state: state["fired"].update(a="all"),
            "'fired' must list, for each model, concept indices from 0 to 31",
        ),
    ],
)
def test_a_checkpoint_s_counters_are_checked_before_resuming(planted, tmp_path, edit, message):
    from usae.errors import CheckpointError

    batches, latest = _edited_checkpoint(planted, tmp_path, edit)
    run = UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path))
    before = {key: value.clone() for key, value in run.usae.state_dict().items()}
    with pytest.raises(CheckpointError) as caught:
        run.run()
    assert str(caught.value) == f"{latest / 'state.json'}: {message}"
    assert all(torch.equal(value, run.usae.state_dict()[key]) for key, value in before.items())
    independent = IndependentRun(batches, options(), *run_files(tmp_path / "i"))
    assert independent.scheduler_problem({"model_steps": {}}, 4) == (
        "scheduler must be {} (independent SAEs follow the global step)"
    )


def test_a_checkpoint_without_its_training_log_is_one_line(planted, tmp_path):
    from usae.errors import CheckpointError

    batches, latest = _edited_checkpoint(planted, tmp_path, lambda state: None)
    log_csv = latest / "log.csv"
    lines = log_csv.read_text().splitlines(keepends=True)
    log_csv.write_text("".join(lines[:-1]))
    with pytest.raises(CheckpointError) as caught:
        UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path)).run()
    assert str(caught.value) == f"{log_csv}: not the training log of steps 1 to 4 that state.json says"
    log_csv.unlink()
    with pytest.raises(CheckpointError) as caught:
        UniversalRun(batches, options(checkpoint_every=2), *run_files(tmp_path)).run()
    assert str(caught.value) == (
        f"{log_csv}: missing, the checkpoint cannot be resumed without its training log "
        f"(delete {latest} to train from scratch)"
    )


def test_model_json_takes_a_store_s_spec_from_its_source_if_it_records_one():
    assert extracted_spec({"source": {"spec": {"layer": "blocks.6"}}}) == {"layer": "blocks.6"}
    assert [extracted_spec(meta) for meta in [{}, {"source": "mine"}, {"source": {"spec": "x"}}]] == [None] * 3

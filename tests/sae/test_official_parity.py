"""Our USAE training step against a reference loop written from the official code's rules.

The reference follows YorkUCVIL/UniversalSAE (``universal_sae/train.py`` with overcomplete's TopKSAE,
``top_k_auxiliary_loss_L1`` and ``CosineScheduler``), in plain tensor operations: dense codes, a dense
``codes @ dictionary`` decode, a ``topk`` auxiliary selection, every dictionary's gradient kept, only the
chosen model's optimizer zeroed and stepped, every model's gradient clipped, and the scheduler writing the
chosen model's next rate (a float32 0-d tensor) after its update. Same initial weights, batches and model
choices as our run; the two must agree to float32 rounding.
"""

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from tests.synthetic import planted_activations, run_files, write_planted_stores
from usae.activations.batches import TokenBatches
from usae.config import validate_config
from usae.options import TrainOptions
from usae.sae.training import UniversalRun, chosen_model

DIMS = {"a": 8, "b": 12, "c": 10}
N_IMAGES, BATCH_IMAGES, EPOCHS, WARMUP_EPOCHS = 300, 25, 1, 0.25  # 12 steps, 3 of warm-up
NOISY = ("encoder.linear.bias", "encoder.norm.running_mean")  # see UniversalRun's docstring


class OfficialScheduler:
    """The official per-model scheduler: a float32 table, the next rate set after each update."""

    def __init__(self, optimizer, peak, end, total, warmup, start):
        self.optimizer, self.end, self.total, self.iter = optimizer, end, total, 0
        ramp = np.linspace(start, peak, warmup)
        steps = np.arange(total - warmup)
        decay = end + 0.5 * (peak - end) * (1 + np.cos(np.pi * steps / len(steps)))
        self.table = torch.tensor(np.concatenate((ramp, decay))).float()

    def step(self):
        self.iter += 1
        rate = self.end if self.iter >= self.total else self.table[self.iter]
        for group in self.optimizer.param_groups:
            group["lr"] = rate


def official_encode(sae, x_BD, k):
    """Linear -> BatchNorm -> (pre_codes, ReLU); top-k kept by scatter into zeros."""
    pre_BM = sae.encoder.norm(F.linear(x_BD, sae.encoder.linear.weight, sae.encoder.linear.bias))
    relu_BM = torch.relu(pre_BM)
    top = torch.topk(relu_BM, k, dim=-1)
    return pre_BM, torch.zeros_like(relu_BM).scatter(-1, top.indices, top.values)


def official_l1_loss(x, x_hat, pre_codes, codes, dictionary, penalty=0.1):
    residual = x - x_hat
    leftover = torch.relu(pre_codes) - codes
    aux = torch.topk(leftover, k=leftover.shape[1] // 2, dim=1)
    aux_codes = torch.zeros_like(codes).scatter(-1, aux.indices, aux.values)
    return residual.abs().mean() + penalty * (residual - aux_codes @ dictionary).abs().mean()


def official_run(usae, batches, options, n_steps):
    """Train ``usae`` in place by the official rules; return the per-step losses."""
    names = usae.names
    total = int(batches.n_images / batches.batch_images * options["epochs"])
    warmup = int(batches.n_images / batches.batch_images * options["warmup_epochs"])
    optimizers = {
        n: torch.optim.AdamW(usae.saes[n].parameters(), lr=options["lr"], weight_decay=options["weight_decay"])
        for n in names
    }
    schedulers = {
        n: OfficialScheduler(optimizers[n], options["lr"], options["end_lr"], total, warmup, options["start_lr"])
        for n in names
    }
    usae.train()
    losses = []
    for step in range(n_steps):
        batch = batches.batch(*divmod(step, batches.batches_per_epoch))
        chosen = names[chosen_model(options["seed"], step, len(names))]
        optimizers[chosen].zero_grad()
        pre_codes, codes = official_encode(usae.saes[chosen], batch[chosen], usae.k)
        loss = 0.0
        for name in names:
            dictionary = usae.saes[name].dictionary.weight
            dictionary = dictionary / (torch.norm(dictionary, p=2, dim=1, keepdim=True) + 1e-8)
            loss += official_l1_loss(batch[name], codes @ dictionary, pre_codes, codes, dictionary)
        loss.backward()
        for name in names:
            torch.nn.utils.clip_grad_norm_(usae.saes[name].parameters(), options["grad_clip"])
        optimizers[chosen].step()
        schedulers[chosen].step()
        losses.append(loss.item())
    return losses


@pytest.fixture(scope="module")
def parity(tmp_path_factory):
    """Our run and the reference from the same initial weights: (losses, weights) of each."""
    acts, _ = planted_activations(np.random.default_rng(0), N_IMAGES, 4, DIMS, n_shared=24, n_specific=2, active=3)
    root = tmp_path_factory.mktemp("parity")
    batches = TokenBatches(write_planted_stores(root / "stores", acts), batch_images=BATCH_IMAGES)
    train = {
        "n_concepts": 32,
        "k": 4,
        "batch_images": BATCH_IMAGES,
        "epochs": EPOCHS,
        "lr": 3e-3,
        "warmup_epochs": WARMUP_EPOCHS,
        "log_every": 1,
        "checkpoint_epochs": [],
    }
    options = TrainOptions.from_config(validate_config({"train": train}, "test"))
    run = UniversalRun(batches, options, *run_files(root / "ours"))
    reference = copy.deepcopy(run.usae)
    ours = run.run()
    ours_losses = pd.read_csv(root / "ours" / "log.csv")["loss"].tolist()
    reference_losses = official_run(reference, batches, {**options.as_dict(), "seed": 0}, len(ours_losses))
    return (
        ours_losses,
        reference_losses,
        ours.state_dict(),
        reference.state_dict(),
        load_file(root / "ours" / "model.safetensors"),
    )


def test_every_step_loss_equals_the_official_loop(parity):
    ours, reference = parity[0], parity[1]
    assert len(ours) == 12
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=0)


def test_final_weights_equal_the_official_loop(parity):
    ours, reference, saved = parity[2], parity[3], parity[4]
    for key, value in reference.items():
        assert torch.equal(saved[key], ours[key]), key
        if key.endswith(NOISY):
            continue
        torch.testing.assert_close(ours[key], value, rtol=0, atol=1e-6, msg=key)


def test_the_batchnorm_fed_bias_drifts_by_a_few_lr_steps_at_most(parity):
    """The encoder bias, excluded above, follows rounding noise: 12 steps move it less than 12 lr."""
    ours, reference = parity[2], parity[3]
    for name in DIMS:
        key = f"saes.{name}.encoder.linear.bias"
        assert (ours[key] - reference[key]).abs().max() < 12 * 3e-3, key

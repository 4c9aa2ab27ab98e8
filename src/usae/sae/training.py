"""Training of the universal SAE (docs/method.md, "Objective and training step") and of independent SAEs.

Both share :class:`ResumableRun`: epochs of batches from :class:`usae.activations.batches.TokenBatches`, a log
flushed every ``log_every`` steps (no per-step host synchronisation), rolling and milestone
checkpoints, and resumption from the newest checkpoint with results equal to an uninterrupted run.
"""

import contextlib
import csv
import hashlib
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from usae.device import pick_device
from usae.errors import CheckpointError, first_line
from usae.io import atomic_path, write_json
from usae.progress import Progress
from usae.sae import data_parallel
from usae.sae.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    model_spec_record,
    optimizer_differences,
    read_state,
    save_checkpoint,
)
from usae.sae.losses import LOSSES, auxiliary_codes
from usae.sae.modules import TopKSAE, UniversalSAE, dense_codes, sparse_decode
from usae.sae.schedule import OfficialCosineSchedule, official_schedule_lengths, warmup_cosine_lr

PLAN_KEYS = (
    "n_concepts",
    "k",
    "batch_images",
    "epochs",
    "lr",
    "weight_decay",
    "warmup_epochs",
    "start_lr",
    "end_lr",
    "schedule",
    "loss",
    "aux_penalty",
    "grad_clip",
    "shuffle_shards",
    "dictionary_init_std",
)

log = logging.getLogger(__name__)


def store_digest(store):
    """Short digest of a store's metadata (a re-extracted store has other statistics, sources or ids)."""
    return hashlib.sha256(json.dumps(store.meta, sort_keys=True).encode()).hexdigest()[:16]


def extracted_spec(meta):
    """The model spec a store's ``meta.json`` records under ``source`` (extraction writes it), or None."""
    source = meta.get("source")
    spec = source.get("spec") if isinstance(source, dict) else None
    return spec if isinstance(spec, dict) else None


def read_log(path, steps):
    """The rows of a checkpoint's training log ``log.csv``: one per step, 1 to ``steps``, each with a loss.

    Raises
    ------
    usae.errors.CheckpointError
        Naming the file, if it is missing, not CSV or not the log of those steps.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise CheckpointError(
            f"{path}: missing, the checkpoint cannot be resumed without its training log "
            f"(delete {path.parent} to train from scratch)"
        ) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CheckpointError(f"{path}: not a training log ({first_line(exc)})") from None
    steps_logged = [row.get("step") for row in rows]
    if steps_logged != [str(step) for step in range(1, steps + 1)] or not all(map(_is_log_row, rows)):
        raise CheckpointError(f"{path}: not the training log of steps 1 to {steps} that state.json says")
    return rows


def _is_log_row(row):
    """Whether a row of ``csv.DictReader`` has as many fields as the header and a numeric loss."""
    if None in row or None in row.values():
        return False
    try:
        float(row.get("loss"))
    except (TypeError, ValueError):
        return False
    return True


def chosen_model(seed, step, n_models):
    """Index of the model whose encoder trains at ``step`` (seeded, uniform, a pure function of the step)."""
    return int(np.random.default_rng([seed, 1, step]).integers(n_models))


def make_optimizer(module, options):
    """AdamW over one model's encoder and dictionary, at ``options.lr`` (a :class:`usae.options.TrainOptions`)."""
    return torch.optim.AdamW(module.parameters(), lr=options.lr, weight_decay=options.weight_decay)


def set_lr(optimizer, lr):
    """Set every parameter group's learning rate."""
    for group in optimizer.param_groups:
        group["lr"] = lr


class ResumableRun:
    """Epoch/step loop with logging, checkpoints and resume shared by both trainers.

    Subclasses provide ``modules``, ``optimizers``, ``train_step(batch, step) -> dict of scalar tensors``,
    ``scheduler_state()`` / ``load_scheduler_state(state)``, ``scheduler_problem(state, step)`` (why a
    checkpoint's scheduler state cannot be this run's after ``step`` steps, or None) and ``final_module()``.

    Parameters
    ----------
    batches : usae.activations.batches.TokenBatches
    options : usae.options.TrainOptions
    weights, meta, log_csv : path
        Where the run writes ``model.safetensors``, ``model.json`` and its log; its checkpoints go to
        ``checkpoints/`` beside ``weights``.
    seed : int
        Seeds the initialisation, the model drawn at each step and the shuffles (the config's ``seed``).
    provenance : dict, optional
        JSON-ready facts that must also match for a checkpoint to be resumed (e.g. a code version).

    A checkpoint is resumed only when its plan (hyper-parameters, models, a digest of every training
    store's ``meta.json``, ``provenance``) and its optimizers' hyper-parameters equal this run's;
    otherwise training starts afresh, saying why in one line. A checkpoint of this plan that is damaged
    or inconsistent (files, tensors, scheduler counters, concepts fired, log) stops the run with a
    :class:`usae.errors.CheckpointError` naming the file; nothing is loaded before every check passes.
    """

    kind = "run"

    def __init__(self, batches, options, weights, meta, log_csv, *, seed=0, provenance=None):
        self.batches, self.options, self.seed = batches, options, seed
        self.weights, self.meta, self.log_csv = Path(weights), Path(meta), Path(log_csv)
        self.checkpoints = self.weights.parent / "checkpoints"
        self.device = pick_device(options.device)
        self.total_steps = options.epochs * batches.batches_per_epoch
        self.warmup_steps = int(round(options.warmup_epochs * batches.batches_per_epoch))
        self.plan = {
            "kind": self.kind,
            "models": batches.names,
            "dims": batches.dims,
            "stores": {name: store_digest(store) for name, store in batches.stores.items()},
            "provenance": provenance or {},
            **{key: getattr(options, key) for key in PLAN_KEYS},
            "seed": seed,
        }
        self.rows = []  # log rows so far; a resumed run takes them from its checkpoint
        self.fired = {}  # per model: concepts active at least once this epoch (the log's dead share)
        # On several ranks (usae.sae.data_parallel) every rank trains the same model; rank 0 alone writes.
        self.writer = data_parallel.world()[0] == 0

    def _to_device(self, x):
        """Move a CPU batch to the device (pinned memory and a non-blocking copy on GPU)."""
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x

    def lr_at(self, step):
        """The schedule's learning rate after ``step`` optimizer steps."""
        o = self.options
        return warmup_cosine_lr(step, self.total_steps, self.warmup_steps, o.lr, o.start_lr, o.end_lr)

    def autocast(self):
        """bfloat16 autocast on GPU when asked for, else nothing."""
        if self.options.autocast and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _resume(self):
        """Restore the newest checkpoint of this plan (call after ``start_epoch``); return its step."""
        latest = latest_checkpoint(self.checkpoints)
        if latest is None:
            return 0
        state = read_state(latest)
        plan = json.loads(json.dumps(self.plan))
        changed = sorted(key for key in state["plan"].keys() | plan.keys() if state["plan"].get(key) != plan.get(key))
        changed += optimizer_differences(state, self.optimizers)
        if changed or state["step"] >= self.total_steps:
            if changed:
                why = f"checkpoint of a different configuration ({', '.join(changed)}); training from scratch"
            else:
                why = "the run finished before; training again from scratch"
            log.info("%s: %s", latest, why)
            data_parallel.barrier()  # every rank has read the checkpoint before rank 0 deletes it
            if self.writer:
                shutil.rmtree(self.checkpoints)
            return 0
        self._check_run_state(latest / "state.json", state)
        rows = read_log(latest / "log.csv", state["step"])
        load_checkpoint(latest, self.modules, self.optimizers)
        self.load_scheduler_state(state["scheduler"])
        if state["step"] % self.batches.batches_per_epoch:  # mid-epoch: the epoch's tracker goes on
            for name, fired in state["fired"].items():
                self.fired[name][fired] = True
        log.info("resuming from %s (step %d)", latest, state["step"])
        self.rows = rows
        return state["step"]

    def _check_run_state(self, path, state):
        """Refuse a checkpoint's scheduler state or concepts fired that cannot be this run's at its step."""
        problem = self.scheduler_problem(state.get("scheduler"), state["step"])
        fired, n_concepts = state.get("fired"), self.options.n_concepts
        if problem is None and not (
            isinstance(fired, dict)
            and fired.keys() == self.fired.keys()
            and all(
                isinstance(indices, list) and all(type(i) is int and 0 <= i < n_concepts for i in indices)
                for indices in fired.values()
            )
        ):
            problem = f"'fired' must list, for each model, concept indices from 0 to {n_concepts - 1}"
        if problem:
            raise CheckpointError(f"{path}: {problem}")

    def _save(self, name, step):
        if not self.writer:
            return
        fired = {name: torch.nonzero(active).flatten().tolist() for name, active in self.fired.items()}
        save_checkpoint(
            self.checkpoints / name,
            self.modules,
            self.optimizers,
            {"step": step, "plan": self.plan, "scheduler": self.scheduler_state(), "fired": fired},
            files={"log.csv": self.log_csv.read_text()},
        )

    def _flush(self, pending, progress):
        if not pending and self.log_csv.exists():
            return
        for step, values in pending:
            row = {"step": step + 1, "epoch": step // self.batches.batches_per_epoch}
            row.update({key: (value.item() if torch.is_tensor(value) else value) for key, value in values.items()})
            self.rows.append(row)
        pending.clear()
        if self.rows:
            progress.set_postfix(loss=f"{float(self.rows[-1]['loss']):.4f}")
        if not self.writer:
            return
        columns = list(dict.fromkeys(key for row in self.rows for key in row))
        with atomic_path(self.log_csv) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def run(self, on_step=None):
        """Train to the end (resuming if checkpoints exist) and write the final model; return it.

        Parameters
        ----------
        on_step : callable, optional
            Called with the finished step number after each step (tests use it to interrupt a run).
        """
        return train_together([self], on_step)[0]

    def begin(self):
        """Put the modules on the device, resume from the newest checkpoint of this plan; return the first step."""
        for module in self.modules.values():
            module.to(self.device).train()
        self.rows = []
        self.start_epoch()
        self.first_step = self._resume()
        self.pending = []
        self.progress = Progress(self.total_steps, f"train {self.kind}", unit="step", initial=self.first_step)
        return self.first_step

    def advance(self, step, batch):
        """Train step ``step`` on ``batch`` (the CPU batch of that step), then log and checkpoint as due."""
        options, per_epoch = self.options, self.batches.batches_per_epoch
        if step % per_epoch == 0 and step != self.first_step:
            self.start_epoch()
        self.pending.append((step, self.train_step({name: self._to_device(x) for name, x in batch.items()}, step)))
        self.progress.update()
        done = step + 1
        if len(self.pending) >= options.log_every or done == self.total_steps:
            self._flush(self.pending, self.progress)
        if done % per_epoch == 0 and done // per_epoch - 1 in options.checkpoint_epochs:
            self._flush(self.pending, self.progress)
            self._save(f"epoch_{done // per_epoch - 1:03d}", done)
        if done % options.checkpoint_every == 0 or done == self.total_steps:
            self._flush(self.pending, self.progress)
            self._save("latest", done)

    def finish(self):
        """Write the last log rows and the final model; return the trained module."""
        self._flush(self.pending, self.progress)  # also rewrites log.csv when a finished run is resumed
        self.progress.close()
        return self.write_final()

    def start_epoch(self):
        """Start an epoch: no concept has fired yet for any model."""
        self.fired = {
            name: torch.zeros(self.options.n_concepts, dtype=torch.bool, device=self.device)
            for name in self.batches.names
        }

    def write_final(self):
        """Write ``model.safetensors`` and ``model.json`` (atomically); return the trained module.

        ``model.json`` is the plan, the steps, the standardisation statistics and ``model_specs``: each
        model's spec, token grid and store dtype, from its training store's ``meta.json``
        (:func:`usae.sae.checkpoint.model_spec_record`).
        """
        module = self.final_module()
        if not self.writer:
            return module
        weights = {key: value.detach().cpu().contiguous() for key, value in module.state_dict().items()}
        with atomic_path(self.weights) as tmp:
            save_file(weights, tmp)
        stats = {name: list(self.batches.stats[name]) for name in self.batches.names}
        specs = {
            name: model_spec_record(extracted_spec(store.meta), store.meta["grid"], store.meta["dtype"])
            for name, store in self.batches.stores.items()
        }
        write_json(self.meta, {**self.plan, "steps": self.total_steps, "stats": stats, "model_specs": specs})
        return module


def train_together(runs, on_step=None):
    """Train several runs on one pass over their shared batches: each batch is read once per step.

    Each run keeps its own modules, optimizers, schedule, log, checkpoints and resume, and ends with the
    bytes it would have alone: a step reads only the batch, draws its model from the run's own seed,
    and changes nothing but the run's own state.

    Parameters
    ----------
    runs : list of ResumableRun
        Runs over one :class:`usae.activations.batches.TokenBatches` (same stores, batch size, shuffle
        and seed, so that step s is the same batch for each); they may differ in everything else,
        including their number of epochs and where each resumes.
    on_step : callable, optional
        Called with the finished step number after each step that any run took.

    Returns
    -------
    list
        Each run's trained module, in order.
    """
    batches = runs[0].batches
    if any(run.batches is not batches for run in runs):
        raise ValueError("runs trained together share one TokenBatches (the same batch at every step)")
    firsts = [run.begin() for run in runs]
    for step in range(min(firsts), max(run.total_steps for run in runs)):
        active = [run for run, first in zip(runs, firsts) if first <= step < run.total_steps]
        if active:
            batch = batches.batch(*divmod(step, batches.batches_per_epoch))
            for run in active:
                run.advance(step, batch)
            if on_step is not None:
                on_step(step + 1)
    return [run.finish() for run in runs]


class UniversalRun(ResumableRun):
    """Train a :class:`usae.sae.modules.UniversalSAE` exactly as the official code does.

    Each step draws one model i (seeded), encodes its tokens, decodes with every dictionary against
    each model's own activations of the same images, sums the losses, clips model i's gradient norm and
    steps only model i's AdamW. Schedules (:mod:`usae.sae.schedule`):

    - ``per_model``: the official code's. A model's schedule advances only when it is chosen; its
      first update runs at the peak rate, then the official float32 table (warm-up
      ``np.linspace(start, peak, W)``, cosine to ``end_lr``) with T and W counted as the official code
      does (:func:`usae.sae.schedule.official_schedule_lengths`); with 3 models and 30 epochs each ends near
      0.78 peak (about T / 3 updates into a schedule of T).
    - ``per_model_warmup_from_start``: per-model counters, but the continuous rule
      :func:`usae.sae.schedule.warmup_cosine_lr` (first update at ``start_lr``).
    - ``global``: every model follows the global step with :func:`usae.sae.schedule.warmup_cosine_lr`.

    Noise, not a bug (the official code has it too): the encoder's Linear bias feeds BatchNorm in
    training mode, which subtracts the batch mean, so the bias's gradient is zero in exact arithmetic.
    Float rounding leaves a gradient of 1e-9 to 1e-8 (the size of Adam's eps), which AdamW turns into
    steps of 0.1 to 0.4 lr, so that bias (and through it BatchNorm's running mean) drifts randomly;
    in training mode the codes, the losses and every other weight see it only through rounding
    (tests/sae/test_official_parity.py).
    """

    kind = "usae"

    def __init__(self, batches, options, weights, meta, log_csv, *, seed=0, provenance=None):
        super().__init__(batches, options, weights, meta, log_csv, seed=seed, provenance=provenance)
        self.plan["init_seed"] = seed
        torch.manual_seed(self.plan["init_seed"])
        self.usae = UniversalSAE(batches.dims, options.n_concepts, options.k, options.dictionary_init_std)
        self.modules = {"usae": self.usae}
        self.optimizers = {name: make_optimizer(self.usae.saes[name], options) for name in batches.names}
        self.model_steps = {name: 0 for name in batches.names}
        if options.schedule == "per_model":
            lengths = official_schedule_lengths(
                batches.n_images, batches.batch_images, options.epochs, options.warmup_epochs
            )
            self.official = OfficialCosineSchedule(*lengths, options.lr, options.start_lr, options.end_lr)
        self.loss = LOSSES[options.loss]

    def model_lr(self, name, step):
        """Learning rate of model ``name``'s update at global ``step``, under the configured schedule."""
        schedule = self.options.schedule
        if schedule == "global":
            return self.lr_at(step)
        if schedule == "per_model":
            return self.official.lr(self.model_steps[name])
        return self.lr_at(self.model_steps[name])

    def scheduler_state(self):
        return {"model_steps": self.model_steps}

    def load_scheduler_state(self, state):
        self.model_steps = dict(state["model_steps"])

    def scheduler_problem(self, state, step):
        steps = state.get("model_steps") if isinstance(state, dict) else None
        if (
            not isinstance(steps, dict)
            or state.keys() != {"model_steps"}
            or steps.keys() != self.model_steps.keys()
            or not all(type(count) is int and count >= 0 for count in steps.values())
            or sum(steps.values()) != step
        ):
            return f"scheduler must be {{'model_steps': each model's update count, {step} in all}}"
        return None

    def final_module(self):
        return self.usae

    def train_step(self, batch, step):
        """One USAE step; returns the step's metrics as tensors (no host synchronisation)."""
        names = self.usae.names
        chosen = names[chosen_model(self.seed, step, len(names))]
        sae = self.usae.saes[chosen]
        with self.autocast():
            pre_codes, values, indices = sae.encoder(batch[chosen])
            codes = dense_codes(values, indices, self.usae.n_concepts)
            aux_codes = auxiliary_codes(pre_codes, codes)  # shared by every decoder's loss
            total, r2 = 0.0, {}
            for name in names:
                # Other models' dictionaries receive no update this step: detaching them skips their
                # gradient without changing the chosen model's.
                dictionary = self.usae.saes[name].dictionary()
                if name != chosen:
                    dictionary = dictionary.detach()
                x_hat = sparse_decode(values, indices, dictionary)
                total = total + self.loss(
                    batch[name],
                    x_hat,
                    pre_codes,
                    codes,
                    dictionary,
                    penalty=self.options.aux_penalty,
                    aux_codes=aux_codes,
                )
                r2[f"r2_{chosen}->{name}"] = data_parallel.global_r2(batch[name], x_hat.float()).detach()
        total.backward()
        data_parallel.mean_gradients(sae.parameters())  # only model i's: the other models have none
        torch.nn.utils.clip_grad_norm_(sae.parameters(), self.options.grad_clip)
        lr = self.model_lr(chosen, step)
        set_lr(self.optimizers[chosen], lr)
        self.optimizers[chosen].step()
        self.model_steps[chosen] += 1
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        active = codes.detach() > 0
        self.fired[chosen] |= data_parallel.any_rank(active.any(0))
        return {
            "model": chosen,
            "lr": lr,
            "loss": data_parallel.global_mean(total.detach()),
            "l0": data_parallel.global_mean(active.sum(1).float().mean()),
            "dead": 1.0 - self.fired[chosen].float().mean(),
            **r2,
        }


class IndependentRun(ResumableRun):
    """Train one ordinary TopK SAE per model (self-reconstruction), all fed by one pass over the stores."""

    kind = "independent"

    def __init__(self, batches, options, weights, meta, log_csv, *, seed=0, provenance=None):
        super().__init__(batches, options, weights, meta, log_csv, seed=seed, provenance=provenance)
        # Not the USAE's seed: with it, each SAE would start from the USAE's very dictionaries and the
        # baseline matching would find twins by construction.
        self.plan["init_seed"] = seed + 1
        torch.manual_seed(self.plan["init_seed"])
        self.saes = torch.nn.ModuleDict(
            {
                name: TopKSAE(dim, options.n_concepts, options.k, options.dictionary_init_std)
                for name, dim in batches.dims.items()
            }
        )
        self.modules = {"saes": self.saes}
        self.optimizers = {name: make_optimizer(sae, options) for name, sae in self.saes.items()}
        self.loss = LOSSES[options.loss]

    def scheduler_state(self):
        return {}

    def load_scheduler_state(self, state):
        pass

    def scheduler_problem(self, state, step):
        return None if state == {} else "scheduler must be {} (independent SAEs follow the global step)"

    def final_module(self):
        return self.saes

    def train_step(self, batch, step):
        """One step of every independent SAE on the same images; returns metrics as tensors."""
        lr = self.lr_at(step)
        metrics = {"lr": lr, "loss": 0.0}
        for name, sae in self.saes.items():
            with self.autocast():
                pre_codes, codes, x_hat = sae(batch[name])
                loss = self.loss(
                    batch[name], x_hat, pre_codes, codes, sae.dictionary(), penalty=self.options.aux_penalty
                )
            loss.backward()
            data_parallel.mean_gradients(sae.parameters())
            torch.nn.utils.clip_grad_norm_(sae.parameters(), self.options.grad_clip)
            set_lr(self.optimizers[name], lr)
            self.optimizers[name].step()
            self.optimizers[name].zero_grad(set_to_none=True)
            active = codes.detach() > 0
            self.fired[name] |= data_parallel.any_rank(active.any(0))
            metrics["loss"] = metrics["loss"] + data_parallel.global_mean(loss.detach())
            metrics[f"r2_{name}->{name}"] = data_parallel.global_r2(batch[name], x_hat.detach().float())
            metrics[f"l0_{name}"] = data_parallel.global_mean(active.sum(1).float().mean())
            metrics[f"dead_{name}"] = 1.0 - self.fired[name].float().mean()
        return metrics

"""Stage train: the USAE (kind ``usae``) or the independent-SAE baseline (``independent``); resumable."""

from usae.activations.batches import TokenBatches, open_stores
from usae.analysis.plots import training_curves_file
from usae.provenance import code_digest
from usae.sae.training import IndependentRun, UniversalRun

RUNS = {"usae": UniversalRun, "independent": IndependentRun}


def train(stores, weights, meta, log_csv, curves, *, kind, options, seed):
    """Train on the experiment's training stores; write the model, its log and its curves; return the module.

    Checkpoints go to ``checkpoints/`` beside ``weights``. A run resumes from them only when its plan
    (hyper-parameters, stores, library code) is unchanged and it had not finished.

    Parameters
    ----------
    stores : list of path
        ``meta.json`` of each model's training store, in model order.
    weights, meta, log_csv : path
        ``model.safetensors``, ``model.json`` and ``log.csv`` to write.
    curves : list of path
        PNG and PDF of the training curves.
    kind : {"usae", "independent"}
    options : dict
        The config's ``train`` section.
    seed : int
    """
    batches = TokenBatches(open_stores(stores), options["batch_images"], options["shuffle_shards"], seed)
    run = RUNS[kind](batches, {**options, "seed": seed}, weights, meta, log_csv,
                     provenance={"code": code_digest(__name__)})
    module = run.run()
    training_curves_file(log_csv, curves, f"{kind} training ({', '.join(batches.names)})")
    return module

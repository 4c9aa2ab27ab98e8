"""Stage released: the authors' released USAE imported as the run's trained USAE (config ``released``)."""

from safetensors.torch import save_file

from usae.activations.batches import evaluation_batches
from usae.errors import UserError
from usae.io import atomic_path, write_json
from usae.sae.official import read_official


def released(config_yaml, checkpoints, stores, weights, meta, *, checkpoint_folder, names):
    """Import the released USAE in place of training: write the run's ``model.safetensors`` and ``model.json``.

    Nothing is written until the release is read and checked, also against the val stores it will be
    evaluated on.

    Parameters
    ----------
    config_yaml : path
        The released yaml.
    checkpoints : list of path
        The ``.pth`` files the yaml names (in its order): the job's inputs, so that a changed file reruns it.
    stores : list of path
        ``meta.json`` of each model's val store.
    weights, meta : path
        The run's ``model.safetensors`` and ``model.json`` to write.
    checkpoint_folder : path or None
        Folder of the ``.pth`` files (None: the yaml's folder).
    names : dict of str to str
        ``{official name: usae model}`` over the built-in mapping.

    Returns
    -------
    dict
        The ``model.json`` written.

    Raises
    ------
    usae.errors.UserError
        One line naming the file or key at fault: see :func:`usae.sae.official.read_official`; also a
        store whose dim is not the released model's.
    """
    state, record = read_official(config_yaml, checkpoint_folder, names)
    read = [entry["path"] for entry in record["official"]["checkpoints"].values()]
    if read != [str(path) for path in checkpoints]:
        raise UserError(
            f"{config_yaml}: names other .pth files ({', '.join(read)}) than the workflow planned with; run it again"
        )
    evaluation_batches(stores, record)  # each model's store exists and has the released dim
    with atomic_path(weights) as tmp:
        save_file(state, tmp)
    write_json(meta, record)
    return record

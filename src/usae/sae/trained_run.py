"""A finished training run as a Python object (docs/python_api.md): encode a model's activations or images
into the run's concepts, and decode concepts into any of its models' activation spaces.

:func:`load` reads a run folder (``model.safetensors`` and ``model.json``, e.g. ``results/train/usae/``).
Images become tokens as extraction made the run's stores (the spec, preprocessing, token grid and store
dtype that ``model.json``'s ``model_specs`` records), and tokens are standardised with the run's statistics.
"""

import glob
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from usae.activations import batches
from usae.activations.extraction import token_batches
from usae.activations.store import FLOAT_DTYPES
from usae.device import pick_device
from usae.errors import UserError, first_line
from usae.io import check_keys, read_concepts, read_image
from usae.layout import Layout
from usae.models.loaders import ModelSpec, load_token_model, preprocess
from usae.sae.checkpoint import load_trained

WEIGHTS, META = "model.safetensors", "model.json"
# Keys of model.json this module needs beyond load_trained's, and of each model's model_specs record.
META_KEYS = {"models": list, "stats": dict}
RECORD_KEYS = {"spec": (dict, type(None)), "grid": (list, type(None)), "dtype": str}


def load(run_dir, remote_code=()):
    """The trained run in folder ``run_dir`` (``model.safetensors`` and ``model.json``).

    Parameters
    ----------
    run_dir : path
        The run's folder, e.g. ``results/train/usae``.
    remote_code : sequence of str
        Models whose loading may run code from their repository (torch.hub's ``hubconf.py``, a Hugging
        Face repository's modelling code) in :meth:`TrainedRun.image_tokens`: the config's ``remote_code``
        list, a permission that the run's files never grant by themselves.

    Raises
    ------
    usae.errors.UserError
        In one line: a file is missing or not what usae writes, or ``model.json`` lacks ``model_specs``
        (a run trained before they were recorded, or an imported release).
    """
    run_dir = Path(run_dir)
    for name in (WEIGHTS, META):
        if not (run_dir / name).is_file():
            raise UserError(
                f"{run_dir}: no {name}; a trained run's folder holds {WEIGHTS} and {META} (results/train/<kind>/)"
            )
    module, meta = load_trained(run_dir / WEIGHTS, run_dir / META)
    return TrainedRun(run_dir, module, meta, remote_code)


def _model_specs(path, meta):
    """``model.json``'s ``model_specs``, checked: one record (spec, grid, dtype) per model of the run."""
    check_keys(path, meta, META_KEYS, UserError)
    records = meta.get("model_specs")
    if not isinstance(records, dict) or set(records) != set(meta["models"]):
        raise UserError(
            f"{path}: model.json has no 'model_specs' for its models (each model's spec, grid and "
            "store dtype, which training records); train the run again with this usae"
        )
    for name, record in records.items():
        if not isinstance(record, dict):
            raise UserError(f"{path}: model_specs.{name} is not a spec record (spec, grid, dtype)")
        check_keys(path, record, RECORD_KEYS, UserError)
    problem = _run_problem(meta)
    if problem:
        raise UserError(f"{path}: not what usae writes ({problem})")
    return records


def _run_problem(meta):
    """What in ``model.json``'s models, statistics, grids and dtypes a run cannot use (their types checked)."""
    models, stats = meta["models"], meta["stats"]
    if len(set(models)) != len(models) or set(models) != set(meta["dims"]):
        return "'models' must list each model of 'dims' once"
    for name in models:
        pair = stats.get(name)
        if not (isinstance(pair, list) and len(pair) == 2 and all(_finite(value) for value in pair) and pair[1] > 0):
            return f"stats.{name} must be [mean, std] with a positive std"
        grid, dtype = meta["model_specs"][name]["grid"], meta["model_specs"][name]["dtype"]
        if grid is not None and not (len(grid) == 2 and all(type(side) is int and side >= 1 for side in grid)):
            return f"model_specs.{name}.grid must be [H, W] of positive sides, or null"
        if dtype not in FLOAT_DTYPES:
            return f"model_specs.{name}.dtype must be one of {', '.join(FLOAT_DTYPES)}"
    return None


def _finite(value):
    return type(value) in (int, float) and np.isfinite(value)


def _spec(path, name, described, remote_code):
    """The :class:`usae.models.loaders.ModelSpec` of a ``model_specs`` record's ``spec`` (None stays None),
    allowed to run its repository's code when ``remote_code``."""
    if described is None:
        return None
    try:
        return ModelSpec(
            name=name,
            **{
                **described,
                "mean": tuple(described["mean"]),
                "std": tuple(described["std"]),
                "remote_code": remote_code,
            },
        )
    except (KeyError, TypeError) as exc:
        raise UserError(f"{path}: model_specs.{name}.spec is not a model spec ({first_line(exc)})") from None


def _pixels(spec, images):
    """``(N, 3, S, S)`` model input of image files, PIL images or uint8 ``(H, W, 3)`` arrays, a uint8
    ``(N, H, W, 3)`` array or already preprocessed float ``(N, 3, S, S)`` pixels; one file or PIL image is a
    list of one."""
    size = spec.image_size
    if isinstance(images, (np.ndarray, torch.Tensor)):
        array = np.asarray(images)
        if len(array) and array.dtype == np.uint8 and array.ndim == 4 and array.shape[-1] == 3:
            return torch.stack([preprocess(Image.fromarray(image), spec) for image in array])
        if len(array) and np.issubdtype(array.dtype, np.floating) and array.shape[1:] == (3, size, size):
            return torch.from_numpy(array.astype(np.float32))
        raise UserError(
            f"images of shape {array.shape} ({array.dtype}): model '{spec.name}' of this run takes "
            f"(N, H, W, 3) uint8 images or (N, 3, {size}, {size}) preprocessed float pixels, N >= 1"
        )
    if isinstance(images, (str, Path, Image.Image)):
        images = [images]
    pixels = [_image_pixels(spec, image) for image in images]
    if not pixels:
        raise UserError("no images to encode")
    return torch.stack(pixels)


def _image_pixels(spec, image):
    """One image file, PIL image or uint8 ``(H, W, 3)`` array, preprocessed for ``spec``: ``(3, S, S)``."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[-1] == 3:
        image = Image.fromarray(image)
    if isinstance(image, Image.Image):
        return preprocess(image, spec)
    if not isinstance(image, (str, Path)):
        shape = f" of shape {image.shape} ({image.dtype})" if isinstance(image, np.ndarray) else ""
        raise UserError(
            f"images: a {type(image).__name__}{shape} in the list; each is an image file's path, a PIL image or a "
            "uint8 (H, W, 3) array, or give all at once as one uint8 (N, H, W, 3) array"
        )
    return preprocess(read_image(image), spec)


class TrainedRun:
    """A trained USAE (or independent SAEs) and what made the tokens it was trained on.

    Attributes
    ----------
    run_dir : pathlib.Path
    kind : {"usae", "independent"}
    models : list of str
        The run's models, in its order.
    dims : dict of str to int
        Each model's activation width d.
    n_concepts, k : int
        Concepts m and active concepts per token.
    stats : dict of str to (float, float)
        Each model's standardisation ``(mean, std)``: ``(a - mean) / (std + 1e-5)``.
    specs : dict of str to usae.models.loaders.ModelSpec or None
        Each model's spec as its tokens were extracted (image size, layer, preprocessing mean and std);
        None for activations imported without one (:meth:`encode_images` is then refused).
    grids : dict of str to list of int or None
        Each model's token grid ``[H, W]`` (None: imported activations that recorded none).
    dtypes : dict of str to str
        Each model's store dtype: :meth:`image_tokens` rounds to it, as the stores did.
    saes : torch.nn.ModuleDict of usae.sae.modules.TopKSAE
        Each model's encoder and dictionary, in eval mode.
    """

    def __init__(self, run_dir, module, meta, remote_code=()):
        meta_path = Path(run_dir) / META
        records = _model_specs(meta_path, meta)
        self.run_dir, self.kind, self.models = Path(run_dir), meta["kind"], list(meta["models"])
        self.n_concepts, self.k = meta["n_concepts"], meta["k"]
        self.saes = module.saes if meta["kind"] == "usae" else module
        self.dims = {name: self.saes[name].dim for name in self.models}
        self.stats = {name: tuple(meta["stats"][name]) for name in self.models}
        self.specs = {name: _spec(meta_path, name, records[name]["spec"], name in remote_code) for name in self.models}
        self.grids = {name: records[name]["grid"] for name in self.models}
        self.dtypes = {name: records[name]["dtype"] for name in self.models}
        self._token_models = {}

    def __repr__(self):
        return (
            f"TrainedRun({str(self.run_dir)!r}: {self.kind} of {', '.join(self.models)}; "
            f"m={self.n_concepts}, k={self.k})"
        )

    def check_model(self, model):
        """Raise a one-line UserError unless ``model`` is one of the run's models."""
        if model not in self.models:
            raise UserError(f"{self.run_dir}: no model '{model}' in this run (its models: {', '.join(self.models)})")

    def _checked(self, model, values, what):
        """``values`` (``what``: "activations" or "codes") of model ``model`` as a float32 array of shape
        ``(..., d)`` or ``(..., m)``, else a one-line UserError."""
        self.check_model(model)
        width = self.n_concepts if what == "codes" else self.dims[model]
        values = np.asarray(values, dtype=np.float32)
        if values.ndim == 0 or values.shape[-1] != width:
            raise UserError(f"{what} of shape {values.shape}: model '{model}' of this run takes (..., {width})")
        return values

    def encode(self, model, acts_ND, standardised=False):
        """The top-k codes of model ``model``'s activations.

        Parameters
        ----------
        model : str
        acts_ND : array-like, shape (..., d)
            The model's tokens (e.g. :meth:`image_tokens`, or rows of its activation store); any leading shape.
        standardised : bool
            Whether ``acts_ND`` is already standardised with :attr:`stats` (as training batches are).

        Returns
        -------
        numpy.ndarray
            ``codes_NM``: float32, shape ``(..., m)``, k non-zero codes per token.
        """
        acts_ND = self._checked(model, acts_ND, "activations")
        if not standardised:
            acts_ND = batches.standardise(acts_ND, *self.stats[model])
        with torch.inference_mode():
            codes_NM = self.saes[model].encode(torch.from_numpy(acts_ND.reshape(-1, acts_ND.shape[-1])))[1]
        return codes_NM.numpy().reshape(*acts_ND.shape[:-1], self.n_concepts)

    def decode(self, model, codes_NM, destandardise=True):
        """Model ``model``'s activations reconstructed from codes (of any model's encoder, for a USAE).

        Parameters
        ----------
        model : str
        codes_NM : array-like, shape (..., m)
        destandardise : bool
            Undo the standardisation with the model's :attr:`stats` (its activation space); False: standardised.

        Returns
        -------
        numpy.ndarray
            ``acts_ND``: float32, shape ``(..., d)`` of ``model``.
        """
        codes_NM = self._checked(model, codes_NM, "codes")
        with torch.inference_mode():
            acts_ND = self.saes[model].decode(torch.from_numpy(codes_NM.reshape(-1, self.n_concepts))).numpy()
        if destandardise:
            acts_ND = batches.destandardise(acts_ND, *self.stats[model])
        return acts_ND.reshape(*codes_NM.shape[:-1], self.dims[model])

    def image_tokens(self, model, images, batch_size=16, device="auto"):
        """Model ``model``'s tokens of ``images``, as the run's stores hold them (before standardisation).

        The model is loaded once per run object with its recorded spec; images are resized and normalised
        with its preprocessing, its token grid resampled to the run's grid and rounded to the stores' dtype.
        Extraction's bfloat16 autocast on GPU is not used: tokens are computed in float32.

        Parameters
        ----------
        model : str
        images : path, PIL.Image.Image, a sequence of them or of uint8 ``(H, W, 3)`` arrays, or numpy.ndarray
            Image files, PIL images or arrays (any size), a uint8 array ``(N, H, W, 3)``, or float pixels
            ``(N, 3, S, S)`` already preprocessed for the model (``S``: its ``image_size``).
        batch_size : int
        device : str
            ``auto`` (CUDA when available), ``cpu`` or ``cuda``.

        Returns
        -------
        numpy.ndarray
            ``acts_NTD``: float32, shape ``(N, H * W, d)``.
        """
        self.check_model(model)
        spec = self.specs[model]
        if spec is None:
            raise UserError(
                f"{self.run_dir / META}: model '{model}' was trained on imported activations (its "
                "model_specs record no spec); encode its activations with encode()"
            )
        device = pick_device(device)
        if model not in self._token_models:
            self._token_models[model] = load_token_model(spec)
        token_model = self._token_models[model].to(device)
        pixels = torch.split(_pixels(spec, images), batch_size)
        acts_NTD = np.concatenate(
            [acts for _, acts in token_batches(token_model, pixels, self.grids[model][0], device, autocast=False)]
        )
        return acts_NTD.astype(self.dtypes[model]).astype(np.float32)

    def encode_images(self, model, images, batch_size=16, device="auto"):
        """The codes of ``images`` through model ``model``: :meth:`encode` of :meth:`image_tokens`.

        Returns
        -------
        numpy.ndarray
            ``codes_NTM``: float32, shape ``(N, H * W, m)``.
        """
        return self.encode(model, self.image_tokens(model, images, batch_size, device))

    def concepts(self, dataset=None):
        """The metrics stage's concept table of this USAE on ``dataset`` (``metrics/<dataset>/concepts.csv``
        of the results folder the run belongs to; docs/metrics_and_figures.md).

        Parameters
        ----------
        dataset : str, optional
            The evaluated dataset; default: the only one with a table.

        Returns
        -------
        pandas.DataFrame
            One row per concept: firing per model, co-firing, entropy, co-fire proportion, energy, dead, kind,
            label coherence per model (docs/concept_evidence.md), and in the first of several replicate runs
            seed stability per model (:func:`concept_table`).
        """
        if self.kind != "usae":
            raise UserError(f"{self.run_dir}: the concept table is the USAE's; this run is of kind '{self.kind}'")
        layout = Layout(self.run_dir.parent.parent)
        if dataset is None:
            found = sorted(glob.glob(Layout(glob.escape(layout.root)).metrics("*", "concepts.csv")))
            if not found:
                raise UserError(f"{layout.metrics('<dataset>', 'concepts.csv')}: none; run 'usae metrics' first")
            if len(found) > 1:
                names = ", ".join(Path(path).parent.name for path in found)
                raise UserError(f"{self.run_dir}: concept tables of several datasets ({names}); name one with dataset=")
            return concept_table(found[0])
        path = Path(layout.metrics(dataset, "concepts.csv"))
        if not path.is_file():
            raise UserError(f"{path}: missing; run 'usae metrics' first")
        return concept_table(path)


def concept_table(concepts_csv):
    """``concepts.csv`` joined with the ``stability.csv`` beside it, where the stability stage wrote one (the first
    replicate run's: each concept's matched atom cosine and code correlation in the other runs)."""
    stability = Path(concepts_csv).with_name("stability.csv")
    return read_concepts(concepts_csv, stability if stability.is_file() else None)

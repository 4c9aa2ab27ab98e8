"""Typed, frozen records of the config's option sections: one field per key, with its type, default and doc.

Generated from ``src/usae/config.schema.yaml`` by ``make generate`` (``tools/generate.py``): edit the schema,
not this file (``tests/test_generated.py`` fails when it is stale). Arrays are tuples. A record is built from
a validated config with ``<Record>.from_config(config)``; ``as_dict()`` gives the section back (lists again).
"""

from dataclasses import asdict, dataclass, replace
from typing import ClassVar, Literal


class Options:
    """What every record shares: ``SECTION``, its config key."""

    SECTION: ClassVar[str]

    @classmethod
    def from_config(cls, config, **changes):
        """The record of a validated config's section, with ``changes`` (key: value) over it."""
        for key in cls.SECTION.split("."):
            config = config[key]
        return cls.of(config, **changes)

    @classmethod
    def of(cls, values, **changes):
        """The record of a validated section's ``values``, with ``changes`` (key: value) over them."""
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}
        return replace(cls(**values), **changes)

    def as_dict(self):
        """The section as the config spells it: a dict, arrays as lists."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ExtractOptions(Options):
    """``extract``: activation extraction: each model's tokens of each split, resampled to one grid, in sharded
    stores.
    """

    SECTION: ClassVar[str] = "extract"

    grid: int = 7
    """common token grid side: every model is resampled to grid x grid tokens"""

    batch_size: int = 32
    """images per forward pass"""

    shard_images: int = 128
    """images per store shard"""

    dtype: Literal["float16", "float32"] = "float16"
    """dtype of the stored tokens"""

    device: str = "auto"
    """auto, cpu, cuda, cuda:1, ..."""

    autocast: bool = True
    """bfloat16 autocast on GPU"""

    num_workers: int = 0
    """DataLoader worker processes that decode images"""

    stat_images: int = 1000
    """seeded random images behind each model's standardisation mean and std"""

    parts: int = 1
    """jobs per (dataset, split, model) store: each extracts a range of whole shards, a merge job assembles the
    store (bytes equal to one job's); 1 = one job writes the store
    """

    stats_grid: Literal["raw", "resampled"] = "raw"
    """raw = official code: mean and unbiased std over each model's own token grid before resampling (DinoV2
    16x16); resampled = over the stored common-grid tokens
    """


@dataclass(frozen=True)
class TrainOptions(Options):
    """``train``: USAE and independent-SAE training (docs/method.md); defaults are the paper's except n_concepts
    and epochs.
    """

    SECTION: ClassVar[str] = "train"

    n_concepts: int = 2048
    """m, concepts shared by all models (paper 6144)"""

    k: int = 32
    """active concepts per token (TopK)"""

    batch_images: int = 32
    """images per batch; a batch holds all their tokens (paper 32 = 6272 tokens)"""

    epochs: int = 30
    """passes over the training images"""

    lr: float = 0.0003
    """AdamW peak learning rate"""

    weight_decay: float = 1e-05
    """AdamW weight decay"""

    warmup_epochs: float = 1
    """epochs of linear warm-up from start_lr to lr"""

    start_lr: float = 1e-06
    """learning rate at the start of the warm-up"""

    end_lr: float = 1e-06
    """learning rate at the end of the cosine decay"""

    schedule: Literal["per_model", "per_model_warmup_from_start", "global"] = "per_model"
    """per_model = official code: a model's schedule advances only when it is chosen, its first update runs at
    lr, then the official float32 table (warm-up np.linspace(start_lr, lr, W), cosine to end_lr, T and W =
    int(images / batch_images * epochs or warmup_epochs)); per_model_warmup_from_start = per-model counters
    with a warm-up from start_lr in W equal steps; global = every model follows the global step (the paper's
    text)
    """

    loss: Literal["l1", "l2"] = "l1"
    """l1 = official code; l2 = paper Eq. 5"""

    aux_penalty: float = 0.1
    """weight of the auxiliary loss that revives dead concepts"""

    grad_clip: float = 1.0
    """maximum gradient norm of a step"""

    dictionary_init_std: float = 1.0
    """std of the dictionaries' raw N(0, std^2) entries; 1.0 = official code. Atoms are normalised on use, so a
    smaller init lets each AdamW step turn them further (about lr / std radians): a departure for short runs
    (docs/training.md)
    """

    shuffle_shards: int = 4
    """shards whose images are shuffled together"""

    checkpoint_epochs: tuple[int, ...] = (0, 10, 20)
    """milestone checkpoints (0-based epochs), besides the last"""

    checkpoint_every: int = 500
    """steps between resume checkpoints"""

    log_every: int = 10
    """steps between log flushes"""

    device: str = "auto"
    """auto, cpu, cuda, cuda:1, ..."""

    autocast: bool = False
    """bfloat16 autocast on GPU"""

    independent: bool = True
    """also train the independent-SAE baseline"""

    ranks: int = 1
    """training processes (torch.distributed data parallel; docs/slurm.md): one per GPU, or gloo processes on
    CPU; each takes an equal share of every batch, so batch_images must divide by it. The train job asks for
    that many GPUs; 1 = one process
    """

    replicates: int = 1
    """training runs on the same stores, replicate r with seed + 1000 r (init, model choice, shuffling); with 2
    or more, the scorecard gives each claim over them
    """


@dataclass(frozen=True)
class MetricsOptions(Options):
    """``metrics``: evaluation on the val split of every dataset (docs/method.md, Metrics)."""

    SECTION: ClassVar[str] = "metrics"

    threshold: float = 0.1
    """tau: a concept fires when its code exceeds it"""

    batch_images: int = 100
    """R2 is computed per batch of this many images and averaged"""

    top_images: int = 8
    """top-activating images kept per (model, concept) in top_images.npz (at least coherence_images are kept)"""

    energy_power: int = 1
    """1 = official code, 2 = paper (squared)"""

    top_concepts: int = 1000
    """Fig. 6b: concepts ranked by energy"""

    min_cofires: float = 1000
    """Fig. 6c subset, at the paper's reference_tokens; scaled to the tokens evaluated"""

    reference_tokens: int = 980000
    """tokens behind min_cofires (5000 images x 196)"""

    device: str = "auto"
    """auto, cpu, cuda, cuda:1, ..."""

    coherence_images: int = 8
    """label coherence: a concept's top images judged (8 is 5% of 160 images, and of the order Network Dissection
    reads of 50,000)
    """

    permutations: int = 1000
    """label coherence: null draws of the permutation test"""

    stability_images: int = 200
    """seed stability (train.replicates >= 2): val images, a seeded subset, whose tokens both runs' codes are
    matched on
    """

    fdr: float = 0.05
    """label coherence: false-discovery rate of the Benjamini-Hochberg step"""

    set_cofiring: float = 0.5
    """firing sets (the models a concept fires in): a model is in a concept's set when its firings of the concept
    over the evaluation tokens have at least this cosine with those of the concept's most-firing model
    (concepts.csv's fires_with_top_<model> over the square root of both firing counts); 0: one shared token is
    enough. Leaves out a TopK encoder's filler firings and a latent that encoders fire for different things
    """


@dataclass(frozen=True)
class FiguresOptions(Options):
    """``figures``: the paper's figures (results/figures/)."""

    SECTION: ClassVar[str] = "figures"

    universal_concepts: int = 4
    """Fig. 4: concepts shown"""

    specific_per_model: int = 1
    """Figs. 9-12: concepts per model"""

    gallery_images: int = 6
    """images per model and concept"""


@dataclass(frozen=True)
class BaselineOptions(Options):
    """``baseline``: the independent-SAE baseline matched to the USAE (Figs. 7 and 16)."""

    SECTION: ClassVar[str] = "baseline"

    top_cofiring: int = 1000
    """Fig. 16: USAE concepts with the most co-fires"""


@dataclass(frozen=True)
class ActmaxOptions(Options):
    """``actmax``: coordinated activation maximisation (Fig. 8)."""

    SECTION: ClassVar[str] = "actmax"

    concepts: tuple[int, ...] = ()
    """concepts to render; empty = top universal + model-specific ones from the metrics"""

    universal: int = 3
    """top universal concepts by energy (when concepts is empty)"""

    specific_per_model: int = 1
    """model-specific concepts per model (when concepts is empty)"""

    steps: int = 256
    """optimisation steps per image"""

    lr: float = 0.05
    """Adam learning rate of the image parameters"""

    image_size: int | None = None
    """side of the optimised image; null = each model's input size (ViTs need theirs)"""

    parameterization: Literal["fft", "maco"] = "fft"
    """fft = lucent's FFT + decorrelated colour; maco = phase only, fixed natural-image magnitude spectrum"""


@dataclass(frozen=True)
class ExplorerOptions(Options):
    """``explorer``: the concept explorer site (results/explorer/index.html)."""

    SECTION: ClassVar[str] = "explorer"

    universal_entropy: float = 0.9
    """universal: firing entropy above this and at least one co-fire"""

    specific_share: float = 0.9
    """model-specific: one model has at least this share of the firings"""

    gallery_images: int = 4
    """top images per model; a concept shows the union over models"""

    thumbnail_px: int = 128
    """side of the site's image thumbnails"""

    neighbours: int = 8
    """nearest concepts listed (cosine of decoder atoms over models)"""

    chunk_size: int = 64
    """concepts per lazily loaded data file"""

    batch_images: int = 16
    """images encoded at once for heatmaps"""

    device: str = "auto"
    """auto, cpu, cuda, cuda:1, ..."""


@dataclass(frozen=True)
class EmbeddedOptions(Options):
    """``dataset.embedded``: random multi-scale crops of the photographs shipped in scikit-image and scikit-
    learn.
    """

    SECTION: ClassVar[str] = "dataset.embedded"

    n_train: int = 480
    """crops in the train split"""

    n_val: int = 160
    """crops in the val split"""

    size: int = 288
    """side of each crop, in pixels, after resizing"""

    min_scale: float = 0.15
    """smallest crop side, as a share of the photograph's short edge"""

    max_scale: float = 1.0
    """largest crop side, as a share of the photograph's short edge"""

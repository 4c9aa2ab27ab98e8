"""Small records that travel from :mod:`usae.jobs` to the stages, beside the option records of :mod:`usae.options`."""

from dataclasses import dataclass

from usae.options import TrainOptions


@dataclass(frozen=True)
class TrainRun:
    """One training run: what it trains, with which options and seed.

    Attributes
    ----------
    kind : {"usae", "independent"}
        The USAE, or one independent SAE per model (the baseline).
    options : TrainOptions
    seed : int
        The run's seed: the config's for a single run, ``seed + 1000 r`` for replicate r.
    """

    kind: str
    options: TrainOptions
    seed: int

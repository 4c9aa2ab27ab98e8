"""Small records that travel from :mod:`usae.jobs` to the stages, beside the option records of :mod:`usae.options`;
and their plain form, in which a Snakemake rule's params carry them.

A rule script unpickles its params before it can put this checkout's ``src/`` on the path, and under
``--use-conda`` usae is not even installed there: so the params hold no usae object, only dicts, lists and
scalars (:func:`plain`), and the script rebuilds the records (:func:`typed`).
"""

from dataclasses import dataclass, fields, is_dataclass

from usae.options import Options, TrainOptions


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


# The key naming a record's class in its plain form.
RECORD = "__record__"
RECORDS = {cls.__name__: cls for cls in (TrainRun, *Options.__subclasses__())}


def plain(value):
    """``value`` (params: dicts, lists, scalars and records) with every record as a dict of its fields, tagged
    with its class name under :data:`RECORD`."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            RECORD: type(value).__name__,
            **{field.name: plain(getattr(value, field.name)) for field in fields(value)},
        }
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def typed(value):
    """The inverse of :func:`plain`: every tagged dict rebuilt as its record."""
    if isinstance(value, dict):
        items = {key: typed(item) for key, item in value.items() if key != RECORD}
        return RECORDS[value[RECORD]](**items) if RECORD in value else items
    if isinstance(value, list):
        return [typed(item) for item in value]
    return value

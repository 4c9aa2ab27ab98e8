"""Rule train: usae.stages.train.train on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.train import train

run_rule(snakemake, train)  # noqa: F821

"""Rule sweep_train_group_*: usae.stages.train.train_group on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.train import train_group

run_rule(snakemake, train_group)  # noqa: F821

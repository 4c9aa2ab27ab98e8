"""Rule replicates: usae.stages.replicates.replicates on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.replicates import replicates

run_rule(snakemake, replicates)  # noqa: F821

"""Rule sweep: usae.stages.sweep.sweep on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.sweep import sweep

run_rule(snakemake, sweep)  # noqa: F821

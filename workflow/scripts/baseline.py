"""Rule baseline: usae.stages.baseline.baseline on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.baseline import baseline

run_rule(snakemake, baseline)  # noqa: F821

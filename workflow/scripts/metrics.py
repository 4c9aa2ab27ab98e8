"""Rule metrics: usae.stages.metrics.metrics on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.metrics import metrics

run_rule(snakemake, metrics)  # noqa: F821

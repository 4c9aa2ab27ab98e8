"""Rule figures: usae.stages.figures.figures on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.figures import figures

run_rule(snakemake, figures)  # noqa: F821

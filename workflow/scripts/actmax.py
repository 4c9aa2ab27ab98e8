"""Rule actmax: usae.stages.actmax.actmax on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.actmax import actmax

run_rule(snakemake, actmax)  # noqa: F821

"""Rule explorer: usae.stages.explorer.explorer on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.explorer import explorer

run_rule(snakemake, explorer)  # noqa: F821

"""Rule released: usae.stages.released.released on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.released import released

run_rule(snakemake, released)  # noqa: F821

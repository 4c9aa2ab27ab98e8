"""Rule extract: usae.stages.extract.extract on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.extract import extract

run_rule(snakemake, extract)  # noqa: F821

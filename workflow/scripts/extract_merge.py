"""Rule extract_merge: usae.stages.extract.extract_merge on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.extract import extract_merge

run_rule(snakemake, extract_merge)  # noqa: F821

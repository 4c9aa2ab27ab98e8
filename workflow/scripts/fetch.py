"""Rule fetch: usae.stages.fetch.fetch on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.fetch import fetch

run_rule(snakemake, fetch)  # noqa: F821

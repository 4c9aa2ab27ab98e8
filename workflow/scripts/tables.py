"""Rule tables: usae.stages.tables.tables on the job's files and params."""

import _library  # noqa: F401  (this checkout's usae first on sys.path)

from usae.rule import run_rule
from usae.stages.tables import tables

run_rule(snakemake, tables)  # noqa: F821

"""The script of every rule: usae.rule.run_rule runs the job's stage (params.stage) on its files and params.

Each stage's contract is in docs/stages.md. This checkout's usae comes first on the path, installed or not,
as in workflow/rules/common.smk.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parents[1] / "src"))  # noqa: F821  (Snakemake defines it)

from usae.rule import run_rule  # noqa: E402

run_rule(snakemake)  # noqa: F821

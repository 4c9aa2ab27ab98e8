"""Rule report_tables: tables and scorecard from every dataset's metrics."""

from pathlib import Path

from usae.io import redirect_output
from usae.report import report_stage

redirect_output(snakemake.log[0])  # noqa: F821
metrics_dirs = {Path(path).parent.name: Path(path).parent for path in snakemake.input.summaries}  # noqa: F821
report_stage(metrics_dirs, snakemake.config["dataset"]["name"], Path(snakemake.output.reconstruction).parent,  # noqa: F821
             snakemake.output.scorecard, baseline_csv=(snakemake.input.baseline or [None])[0])  # noqa: F821

#!/usr/bin/env bash
# make run's DAG: `snakemake --cores all --rerun-incomplete`, which also recovers from a killed run by itself.
# Usage: workflow/run_dag.sh BIN [snakemake options...]   (BIN: the folder of the snakemake executable)
#
# A killed Snakemake leaves its lock behind, and the next run asks for --unlock. This script first takes
# a lock of its own (flock on .snakemake/make-run.lock): holding it, no other `make run` runs in this
# folder, so a Snakemake lock found now is a dead run's and is released. A Snakemake started by hand in
# the same folder is not protected: run one or the other (docs/running.md).
set -euo pipefail
bin="$1"
shift
mkdir -p .snakemake
exec 9>.snakemake/make-run.lock
if ! flock -n 9; then
    echo "make run: another 'make run' is running in this folder; wait for it to end" >&2
    exit 75
fi
"$bin/snakemake" --unlock >/dev/null 2>&1 || true
exec "$bin/snakemake" --cores all --rerun-incomplete "$@"

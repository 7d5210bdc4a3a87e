#!/usr/bin/env bash
# The prepared GPU check (issue 15): golden parity on CUDA, then the model table's timings in parity
# (float32) and fast (float16) mode. Run from the repository root on a machine with a CUDA build of
# torch; nothing is installed (the package runs from src/, it needs only torch and numpy).
#
#   tools/gpu_check.sh [golden|bench|train|all]  (default: all; train is not part of all)
#
# Environment:
#   DIFFMESH_GOLDEN_DIR  golden tensors (default ../shared/reference/golden; golden/README.md). The
#                        device tool sends at most 64 MiB with the tree, so copy a subset into the
#                        ignored folder gpu_golden/ and carry it: tools/README.md, "GPU check".
#   GPU_CHECK_DEVICE     cuda (default); cpu checks this script itself on a machine without a GPU.
#   GPU_CHECK_TRAIN_STEPS  train: stop the runs after this many steps (2x for the two-epoch ones) instead
#                        of the tiny config's 64 a epoch.
#   OUT                  where the logs go (default gpu_check_out/).
set -u
what=${1:-all}
case "$what" in golden|bench|train|all) ;; *) echo "usage: tools/gpu_check.sh [golden|bench|train|all], got '$what'" >&2; exit 2;; esac
device=${GPU_CHECK_DEVICE:-cuda}
out=${OUT:-gpu_check_out}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}
status=0

"$py" - "$device" <<'EOF' 2>&1 | tee "$out/device.txt"
import sys, torch
device = sys.argv[1]
print(f"torch {torch.__version__}, cuda available {torch.cuda.is_available()}, device {device}")
if device == "cuda":
    if not torch.cuda.is_available():
        sys.exit("no CUDA device: run on a GPU machine, or GPU_CHECK_DEVICE=cpu to check the script")
    print(torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
    print("TF32 matmul allowed:", torch.backends.cuda.matmul.allow_tf32)
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1

if [ "$what" = train ]; then
    # Training on the device through the real CLI: two epochs straight, the same as one epoch then
    # --resume (exact on the CPU; cuDNN/cuBLAS may differ in the last bits), and the DistributedDataParallel
    # path through torchrun (one process: NCCL on a single GPU).
    cfg=configs/tiny_synthetic_diffmesh.yaml
    runs=${TRAIN_RUNS:-/tmp/gpu_train_runs}
    rm -rf "$runs"
    half=${GPU_CHECK_TRAIN_STEPS:+--max-steps $GPU_CHECK_TRAIN_STEPS}  # a shorter run (checking the script on a CPU)
    full=${GPU_CHECK_TRAIN_STEPS:+--max-steps $((2 * GPU_CHECK_TRAIN_STEPS))}
    for step in "straight --epochs 2 $full" "resumed --epochs 1 $half" "resumed --epochs 2 --resume $full"; do
        set -- $step
        name=$1; shift
        "$py" -m diffmesh.cli train "$cfg" -o "$runs/$name" --device "$device" "$@" 2>&1 | tail -3 | tee -a "$out/train_$device.txt"
        [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    done
    "$py" -m torch.distributed.run --nproc_per_node 1 --master_port 29531 -m diffmesh.cli train "$cfg" -o "$runs/torchrun" \
        --device "$device" --epochs 1 $half 2>&1 | tail -3 | tee -a "$out/train_$device.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
    "$py" - "$runs" <<'EOF2' 2>&1 | tee -a "$out/train_$device.txt"
import json, sys
from pathlib import Path
import torch
from diffmesh.training import load_checkpoint
runs = Path(sys.argv[1])
a, b = (load_checkpoint(runs / n / "latest_epoch.bin")["model"] for n in ("straight", "resumed"))
diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].is_floating_point())
print(f"straight vs one epoch + --resume: largest weight difference {diff:.3g}; bit-identical: {all(torch.equal(a[k], b[k]) for k in a)}")
for n in ("straight", "resumed", "torchrun"):
    rows = [json.loads(line) for line in (runs / n / "metrics.jsonl").read_text().splitlines() if line.strip()]
    val = [r for r in rows if any(k.startswith("val/") for k in r)]
    print(n, "steps", rows[-1].get("step"), "last validation:", {k: round(v, 2) for k, v in (val[-1] if val else {}).items() if k.startswith("val/")})
EOF2
    echo "gpu_check: train on $device, exit $status; logs in $out/"
    exit $status
fi

if [ "$what" != bench ]; then
    # Every golden file present is checked; a missing one is skipped (the subset carried).
    DIFFMESH_TEST_DEVICE=$device "$py" -m pytest -q -p no:cacheprovider tests/test_golden_models.py -rs 2>&1 \
        | tee "$out/golden_$device.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if [ "$what" != bench ]; then
    # The same on every registered variant, against the CPU on this machine (no golden file needed).
    "$py" benchmarks/device_parity.py --device "$device" 2>&1 | tee "$out/device_parity_$device.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi

if [ "$what" != golden ]; then
    models=${GPU_CHECK_MODELS:-"diffmesh diffmesh-fusion motionbert"}
    batches=${GPU_CHECK_BATCHES:-"1 8 32"}
    frames=${GPU_CHECK_FRAMES:-"16 243"}
    # shellcheck disable=SC2086  # the lists split into arguments on purpose
    "$py" benchmarks/bench_models.py --device "$device" --models $models --modes parity fast \
        --batches $batches --frames $frames --min-seconds "${GPU_CHECK_SECONDS:-1}" 2>&1 | tee "$out/bench_models_$device.txt"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
echo "gpu_check: $what on $device, exit $status; logs in $out/"
exit $status

#!/usr/bin/env bash
# The prepared GPU check (issue 15): golden parity on CUDA, then the model table's timings in parity
# (float32) and fast (float16) mode. Run from the repository root on a machine with a CUDA build of
# torch; nothing is installed (the package runs from src/, it needs only torch and numpy).
#
#   tools/gpu_check.sh [golden|bench|all]        (default: all)
#
# Environment:
#   DIFFMESH_GOLDEN_DIR  golden tensors (default ../shared/reference/golden; golden/README.md). The
#                        device tool sends at most 64 MiB with the tree, so copy a subset into the
#                        ignored folder gpu_golden/ and carry it: tools/README.md, "GPU check".
#   GPU_CHECK_DEVICE     cuda (default); cpu checks this script itself on a machine without a GPU.
#   OUT                  where the logs go (default gpu_check_out/).
set -u
what=${1:-all}
case "$what" in golden|bench|all) ;; *) echo "usage: tools/gpu_check.sh [golden|bench|all], got '$what'" >&2; exit 2;; esac
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

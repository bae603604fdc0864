#!/usr/bin/env bash
# Times this library (TorchSharp) and the PyTorch reference (autograd and closed-form gradients) on the same models
# and operations, in rounds that alternate their order so that background load hits both, and prints the ratios.
# Usage: test/Microsoft.ML.HamiltonianFlows.PerformanceTests/compare.sh [--rounds R] [--threads N]
# Needs the .NET SDK and Debian's python3-torch + libopenblas0 (apt-get install -y python3-torch libopenblas0).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=3
threads=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "unknown argument $1 (expected --rounds R, --threads N)" >&2; exit 2 ;;
  esac
done
python=/usr/bin/python3
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "PyTorch is missing: apt-get install -y python3-torch libopenblas0" >&2; exit 1
fi
if ! ldconfig -p | grep -q libopenblas.so.0; then
  echo "libopenblas0 is missing (PyTorch would use the reference BLAS, about 20x slower): apt-get install -y libopenblas0" >&2; exit 1
fi

dotnet build "$here" -c Release -nologo -v q >&2
dll="$here/bin/Release/net10.0/Microsoft.ML.HamiltonianFlows.PerformanceTests.dll"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

run() {
  echo "# load $(cut -d' ' -f1-3 /proc/loadavg) before $1" >> "$results"
  case "$1" in
    torchsharp) dotnet "$dll" --threads "$threads" --compare >> "$results" ;;
    # OpenBLAS keeps its own thread pool: pin it to the same count as torch's.
    pytorch-*) OPENBLAS_NUM_THREADS="$threads" "$python" "$here/pytorch/nhf_reference.py" --threads "$threads" --gradient "${1#pytorch-}" >> "$results" ;;
  esac
}

start=$(date +%s)
for round in $(seq "$rounds"); do
  order="torchsharp pytorch-autograd pytorch-closed"
  [ $((round % 2)) -eq 0 ] && order="pytorch-closed pytorch-autograd torchsharp"
  for implementation in $order; do
    echo "round $round/$rounds: $implementation (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    run "$implementation"
  done
done
"$python" "$here/compare_summary.py" "$results"
echo "$rounds rounds, $threads threads, $(($(date +%s) - start)) s" 

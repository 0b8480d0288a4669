#!/usr/bin/env bash
# bench/run.sh - each workload here and in PyTorch, side by side in one run; writes
# bench/RESULTS.md with the medians and their ratio. Called by `make bench`.
#
# Both sides get the same threads (1 by default: BENCH_THREADS=2 to change) and the machine's
# OPENBLAS_CORETYPE pin. PyTorch is Debian's python3-torch, run as /usr/bin/python3; the
# runs alternate (ours, torch, ours, ...) so that a noisy neighbour hits both alike.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD:-build}"
THREADS="${BENCH_THREADS:-1}"
ROUNDS="${BENCH_ROUNDS:-3}"
export OPENBLAS_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS"

if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "bench: installing Debian's python3-torch for the side-by-side runs"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi

# name | our command | torch command | unit | what "better" is
WORKLOADS=(
    "seed_loop|$BUILD/bench/seed_loop 20000 5|/usr/bin/python3 bench/torch/seed_loop.py 5000 5|us/epoch"
    "scalar_chain|$BUILD/bench/scalar_chain 10000 20|/usr/bin/python3 bench/torch/scalar_chain.py 10000 5|ns/op"
)

figure() { "$@" | tail -n 1 | awk '{print $2}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

out=bench/RESULTS.md
{
    echo "# Benchmarks, side by side with PyTorch"
    echo
    echo "Written by \`make bench\` on $(date -u +%Y-%m-%d) ($(nproc) cores; $THREADS thread(s) on both"
    echo "sides; torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))."
    echo "Each figure is the median of $ROUNDS alternating runs, each itself a median of repeats."
    echo "The ratio is libautograd's time over PyTorch's: below 1 is faster than PyTorch."
    echo
    echo "| workload | libautograd | PyTorch | ratio | speed-up |"
    echo "|---|---|---|---|---|"
} > "$out"
for w in "${WORKLOADS[@]}"; do
    IFS='|' read -r name ours theirs unit <<< "$w"
    a=(); b=()
    for _ in $(seq "$ROUNDS"); do
        a+=("$(figure $ours)")
        b+=("$(figure $theirs)")
    done
    ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
    ratio=$(awk -v x="$ma" -v y="$mb" 'BEGIN {printf "%.4f", x / y}')
    speed=$(awk -v x="$ma" -v y="$mb" 'BEGIN {printf "%.1fx", y / x}')
    echo "| $name | $ma $unit | $mb $unit | $ratio | $speed |" >> "$out"
    echo "bench: $name: libautograd $ma $unit, PyTorch $mb $unit, ratio $ratio"
done
echo "bench: wrote $out"

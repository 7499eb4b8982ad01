#!/usr/bin/env bash
# bench/run_on_gpu.sh — every gpu/ check that needs a real GPU, in one go, for a short lease on a GPU host.
#
#   bench/run_on_gpu.sh [BIN_DIR]
#
# BIN_DIR holds unit_gpu, gpu_cuda_vs_cpu and gpu_bench built elsewhere (default .gpu-out/bin; make it
# with: cmake -S gpu -B .gpu-out/build -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DQUIRE_GPU_STATIC_LIBSTDCXX=ON
# && cmake --build .gpu-out/build && cp the three programs there). If they do not run on this host, the
# standalone project is built here instead (needs cmake and nvcc). Logs go to $OUT (default
# .gpu-out/results): device.txt, unit_gpu.log, cuda_vs_cpu.log, no_device.log, sanitizer.log, bench.log,
# summary.txt. Exit status: non-zero if any check failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.gpu-out/bin}
out=${OUT:-$root/.gpu-out/results}
mkdir -p "$out"
export PATH=$PATH:/usr/local/cuda/bin
summary=$out/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
failed=0
step() {  # step NAME LOG EXPECTED_RC CMD...
  local name=$1 log=$2 want=$3; shift 3
  local t0=$SECONDS rc
  "$@" >"$log" 2>&1
  rc=$?
  if [ "$rc" = "$want" ]; then note "ok   $name (rc=$rc, $((SECONDS - t0)) s)"; else note "FAIL $name (rc=$rc, wanted $want)"; failed=1; fi
}

{ nvidia-smi; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; uname -a; } >"$out/device.txt" 2>&1
note "device: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"

# Catch2 2 exits with the number of tests listed; 126/127 and above mean it could not run at all.
"$bin/unit_gpu" --list-tests >/dev/null 2>&1
if [ $? -ge 126 ]; then
  note "carried programs do not run here; building gpu/ standalone"
  build=/tmp/quire-gpu-build
  if cmake -S "$root/gpu" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >"$out/build.log" 2>&1 &&
     cmake --build "$build" -j "$(nproc)" >>"$out/build.log" 2>&1; then
    mkdir -p "$build/bin" && cp "$build/gpu_bench" "$build/tests/unit_gpu" "$build/tests/gpu_cuda_vs_cpu" "$build/bin/"
    bin=$build/bin
  else
    note "FAIL build (see build.log)"; exit 1
  fi
fi

step "unit tests (CPU reference, discovery, policy)" "$out/unit_gpu.log" 0 "$bin/unit_gpu"
step "CUDA vs CPU identical results" "$out/cuda_vs_cpu.log" 0 "$bin/gpu_cuda_vs_cpu"
step "no visible device -> skipped (77)" "$out/no_device.log" 77 env CUDA_VISIBLE_DEVICES= "$bin/gpu_cuda_vs_cpu"
if command -v compute-sanitizer >/dev/null; then
  step "compute-sanitizer memcheck (self-test + 4 pages)" "$out/sanitizer.log" 0 \
    timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/gpu_bench" --pages 4 --repeat 1 --threads 4
else
  note "skip compute-sanitizer (not installed)"
fi
{
  "$bin/gpu_bench" --pages "${QUIRE_BENCH_PAGES:-128}" --batch 16 --repeat 3 --threads "$(nproc)"; echo "rc=$?"
  echo; echo "== batch size 4"; "$bin/gpu_bench" --pages "${QUIRE_BENCH_PAGES:-128}" --batch 4 --repeat 3 --threads "$(nproc)" | grep -E "cuda|RESULT backend=cuda"
  echo; echo "== batch size 64"; "$bin/gpu_bench" --pages "${QUIRE_BENCH_PAGES:-128}" --batch 64 --repeat 3 --threads "$(nproc)" | grep -E "cuda|RESULT backend=cuda"
  echo; echo "== 300 dpi"; "$bin/gpu_bench" --pages $(( ${QUIRE_BENCH_PAGES:-128} / 4 )) --dpi 300 --batch 8 --repeat 3 --threads "$(nproc)"
} >"$out/bench.log" 2>&1
if grep -q "^rc=0" "$out/bench.log"; then note "ok   benchmark"; else note "FAIL benchmark"; failed=1; fi
grep -E "RESULT|pages/s|identical|DIFFER" "$out/bench.log" >>"$summary"
exit $failed

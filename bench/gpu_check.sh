#!/usr/bin/env bash
# GPU check: for any machine with an NVIDIA GPU and a Python that already has a CUDA build
# of torch (no package registry is used). It
#   1. builds latentatlas with LATENTATLAS_CUDA=ON for this GPU's architecture only: a
#      CMake build whose modules are copied into python/latentatlas/ (used through
#      PYTHONPATH; the Python environment is left as it is) when cmake and pybind11 are
#      there, else pip install --no-build-isolation --no-deps --no-index (scikit-build-core),
#   2. runs the tests that exercise CUDA (every tests/test_*.py that mentions it; all
#      failures are shown, not just the first),
#   3. runs the GPU kernel benchmark (python -m latentatlas.bench.gpu: slerp, offset and
#      score on 512 MiB working sets against torch eager and a device-to-device copy),
#   4. prints one summary table (also in $OUT/summary.txt).
# Each phase runs under `timeout`; with the default limits the whole check ends within
# 8 minutes. Logs, the pytest junit report and the benchmark JSON go to $OUT (default:
# ./gpu_check_out).
#
#   bash bench/gpu_check.sh
#   OUT=/tmp/check PYTHON=/opt/venv/bin/python GPU_CHECK_BUILD=cmake bash bench/gpu_check.sh
#
# Settings (environment): PYTHON (python3), OUT, GPU_CHECK_BUILD (auto | cmake | pip |
# none: test the latentatlas that imports), GPU_CHECK_TESTS (test files instead of the default),
# GPU_CHECK_BUILD_S / GPU_CHECK_TESTS_S / GPU_CHECK_BENCH_S (phase limits in seconds:
# 140 / 160 / 60; with the fixed limits of the short steps, 460 s at the very most). Exit status 0 when every phase, every test and every benchmark row
# passed, 1 otherwise.
set -uo pipefail

start_dir=$PWD
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${OUT:-$start_dir/gpu_check_out}
mkdir -p "$out" && out=$(cd "$out" && pwd)
py=${PYTHON:-python3}
py_bin=$(dirname "$(command -v "$py" || echo /usr/bin/python3)")
export PATH="$py_bin:$PATH"  # the cmake and ninja of the Python's environment, if it has them
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="$PATH:/usr/local/cuda/bin"; fi
build_mode=${GPU_CHECK_BUILD:-auto}
build_s=${GPU_CHECK_BUILD_S:-140}
tests_s=${GPU_CHECK_TESTS_S:-160}
bench_s=${GPU_CHECK_BENCH_S:-60}
cd "$root" || exit 1
rm -f "$out/tests.xml" "$out/gpu_bench.json" "$out/summary.txt"

phases=()   # NAME=STATUS:DETAIL, one per phase, for the summary table
say() { printf 'gpu_check: %s\n' "$*" >&2; }
status_of() {  # exit status -> the word the table shows
  case "$1" in
    0) echo ok ;;
    124 | 137) echo timeout ;;
    *) echo "failed (rc $1)" ;;
  esac
}
summary() {  # the one table: the phases, then (after a full run) the junit report and the benchmark JSON
  local args=() p
  for p in "${phases[@]}"; do args+=(--phase "$p"); done
  [ "${1:-}" = early ] || args+=(--junit "$out/tests.xml" --json "$out/gpu_bench.json")
  if [ "$SECONDS" -le 480 ]; then args+=(--phase "total=ok:$SECONDS s"); else args+=(--phase "total=over 8 min:$SECONDS s"); fi
  PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" timeout -k 5 20 "$py" -m latentatlas.bench.gpu --report \
    "${args[@]}" | tee "$out/summary.txt"
  local rc=${PIPESTATUS[0]}
  echo "(logs, junit report and benchmark JSON in $out)"
  exit "$rc"
}

# ---------------------------------------------------------------- 0. the GPU and torch
timeout -k 5 10 nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || say "nvidia-smi failed (see $out/nvidia-smi.txt)"
# torch's device 0 is the one the tests and the benchmark use (nvidia-smi ignores
# CUDA_VISIBLE_DEVICES), so its capability decides the architecture built for.
torch_facts=$(timeout -k 5 30 "$py" -c '
import torch
assert torch.cuda.is_available(), f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no CUDA device"
major, minor = torch.cuda.get_device_capability()
print(f"{major}{minor}|{torch.cuda.get_device_name()}|torch {torch.__version__}, CUDA {torch.version.cuda}")
' 2>"$out/torch.log")
if [ -z "$torch_facts" ]; then
  phases+=("gpu=FAIL:$(tail -n1 "$out/torch.log")")
  say "no usable CUDA device through torch"
  summary early
fi
arch=${torch_facts%%|*}
rest=${torch_facts#*|}
gpu=${rest%%|*}
phases+=("gpu=ok:$gpu, sm_$arch, ${rest#*|}")
say "GPU $gpu (sm_$arch); ${rest#*|}"

# ---------------------------------------------------------------- 1. build for sm_$arch
if [ "$build_mode" = auto ]; then
  build_mode=pip
  if command -v cmake >/dev/null && "$py" -c 'import pybind11' 2>/dev/null; then build_mode=cmake; fi
fi
build_cmake() {  # into build/, then the modules beside the Python sources
  local bd="$root/build/gpu_check-sm$arch" version gen=()
  version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/pyproject.toml" | head -n1)
  command -v ninja >/dev/null && gen=(-G Ninja)
  cmake -S "$root" -B "$bd" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLATENTATLAS_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" \
    -DPython_EXECUTABLE="$(command -v "$py")" -DSKBUILD_PROJECT_VERSION="$version" &&
    cmake --build "$bd" --parallel "$(nproc)" &&
    cp "$bd"/_core*.so "$bd"/_cuda*.so "$root/python/latentatlas/"
}
build_pip() {  # into the Python's environment; no registry, no isolation, no dependencies
  LATENTATLAS_CUDA=ON "$py" -m pip install --no-build-isolation --no-deps --no-index \
    --config-settings=cmake.define.CMAKE_CUDA_ARCHITECTURES="$arch" \
    --config-settings=build-dir="$root/build/gpu_check-pip-sm$arch" "$root"
}
export -f build_cmake build_pip
export root arch py
say "building ($build_mode, sm_$arch, at most $build_s s; log: $out/build.log)"
t0=$SECONDS
case "$build_mode" in
  cmake | pip) timeout -k 5 "$build_s" bash -c "build_$build_mode" >"$out/build.log" 2>&1 ;;
  none) echo "GPU_CHECK_BUILD=none: testing the latentatlas that imports" >"$out/build.log" ;;
  *) echo "GPU_CHECK_BUILD must be auto, cmake, pip or none, got $build_mode" >"$out/build.log"; false ;;
esac
rc=$?
if [ "$build_mode" = cmake ] || ! "$py" -c 'import latentatlas' 2>/dev/null; then
  export PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}"  # the in-tree build (or the sources) first
fi
built=$(timeout -k 5 30 "$py" -c '
import latentatlas as la
info = la.backend_info()
archs = (info.get("cuda") or {}).get("architectures", "?")
print("cuda_built=%s, devices=%s, archs=%s" % (info["cuda_built"], info["cuda_devices"], archs))
raise SystemExit(0 if info["cuda_built"] and info["cuda_devices"] > 0 else 3)
' 2>>"$out/build.log")
check=$?
status=$(status_of "$rc")
if [ "$rc" -eq 0 ] && [ "$check" -ne 0 ]; then status="FAIL (no working CUDA module)"; fi
phases+=("build=$status:$build_mode, $((SECONDS - t0)) s; ${built:-latentatlas does not import (see build.log)}")
say "build: $status ($((SECONDS - t0)) s) ${built}"
[ "$rc" -eq 0 ] || tail -n 25 "$out/build.log" >&2

# ---------------------------------------------------------------- 2. the CUDA tests
if [ -n "${GPU_CHECK_TESTS:-}" ]; then
  read -r -a tests <<<"$GPU_CHECK_TESTS"
else
  mapfile -t tests < <(grep -lis cuda tests/test_*.py)
fi
say "testing ${#tests[@]} files (at most $tests_s s; log: $out/tests.log)"
t0=$SECONDS
timeout -k 5 "$tests_s" "$py" -m pytest -p no:cacheprovider -q -rfE --junitxml="$out/tests.xml" "${tests[@]}" \
  >"$out/tests.log" 2>&1
rc=$?
# pytest exits 1 when tests fail: the junit row of the table says which; other codes are the phase's own failure
if [ "$rc" -eq 0 ] || [ "$rc" -eq 1 ]; then status=ok; else status=$(status_of "$rc"); fi
phases+=("pytest=$status:${#tests[@]} files, $((SECONDS - t0)) s, rc $rc")
say "tests: rc $rc ($((SECONDS - t0)) s)"
tail -n 3 "$out/tests.log" >&2

# ---------------------------------------------------------------- 3. the GPU benchmark
say "benchmarking (at most $bench_s s; log: $out/bench.log)"
t0=$SECONDS
timeout -k 5 "$bench_s" "$py" -m latentatlas.bench.gpu --json "$out/gpu_bench.json" >"$out/bench.log" 2>&1
rc=$?
phases+=("bench=$(status_of "$rc"):$((SECONDS - t0)) s")
[ "$rc" -eq 0 ] || tail -n 10 "$out/bench.log" >&2

# ---------------------------------------------------------------- 4. one table
summary

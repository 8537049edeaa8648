#!/usr/bin/env bash
# tests/asan.sh: the native core under AddressSanitizer and UndefinedBehaviorSanitizer.
#
# Builds _core with -fsanitize=address,undefined into a temporary folder (the source tree
# and its own _core are left alone), puts it in a temporary copy of the package, and runs
# the op, neighbour and file tests against it with the ASan runtime preloaded into Python
# (Python itself is not instrumented, so leak checking is off). Not part of the default
# suite: run it by hand or from CI as `bash tests/asan.sh` (needs g++ or clang++, cmake,
# ninja, pybind11; about as long as those tests take, times two or three).
#
# Two passes:
#   1. ops, native bindings and file formats, with every ASan check on;
#   2. tests that query hnswlib, with alloc_dealloc_mismatch=0. hnswlib 0.8.0 (the newest
#      release) frees knn_query's new[] result buffer with a plain delete in its Python
#      bindings, so ASan reports every query (upstream: nmslib/hnswlib issue 645, fix
#      proposed in pull request 650, not released). ASan cannot suppress that report by
#      function, only switch the check off, so it is off for this pass only and the
#      project's own code keeps the check in pass 1.
#
# Environment: PYTHON (default: python3 on PATH), CXX (default: g++), ASAN_JOBS (build jobs,
# default 2), and any pytest arguments after the script's name (e.g. -x -q).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
CXX=${CXX:-g++}
work=$(mktemp -d "${TMPDIR:-/tmp}/latentatlas-asan.XXXXXX")
trap 'rm -rf "$work"' EXIT

flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g"
cmake -S "$root" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLATENTATLAS_CUDA=OFF \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DPython_EXECUTABLE="$(command -v "$PY")" -Dpybind11_DIR="$("$PY" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$work/build" -j "${ASAN_JOBS:-2}" >/dev/null

mkdir -p "$work/pkg"
cp -r "$root/python/latentatlas" "$work/pkg/"
rm -f "$work/pkg/latentatlas"/_core*.so "$work/pkg/latentatlas"/_cuda*.so
cp "$work/build"/_core*.so "$work/pkg/latentatlas/"

asan_lib=$("$CXX" -print-file-name=libasan.so)
ubsan_lib=$("$CXX" -print-file-name=libubsan.so)
[ -f "$asan_lib" ] || { echo "asan.sh: no ASan runtime for $CXX ($asan_lib)" >&2; exit 2; }

common="detect_leaks=0:abort_on_error=1:halt_on_error=1:print_stacktrace=1"
run() {  # run PASS_NAME ASAN_OPTIONS TEST_FILES... [-- pytest args]
  local name=$1 options=$2; shift 2
  echo "== asan.sh pass: $name (ASAN_OPTIONS=$options)"
  (cd "$root" && PYTHONPATH="$work/pkg" LD_PRELOAD="$asan_lib $ubsan_lib" ASAN_OPTIONS="$options" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" OMP_NUM_THREADS=1 \
    "$PY" -m pytest -p no:cacheprovider "$@")
}

# The sanitized module is the one imported (not the source tree's).
PYTHONPATH="$work/pkg" LD_PRELOAD="$asan_lib $ubsan_lib" ASAN_OPTIONS="$common" "$PY" -c "
import latentatlas._core as c, sys
assert c.__file__.startswith('$work/pkg'), c.__file__
print('sanitized _core:', c.__file__)"

run "ops, bindings and files" "$common" tests/test_ops.py tests/test_native_bindings.py tests/test_files.py \
  tests/test_stores.py tests/test_models_checkpoint.py tests/test_checkpoint_kill.py "$@"
run "neighbours (hnswlib 0.8.0's mismatch off)" "$common:alloc_dealloc_mismatch=0" tests/test_neighbors.py \
  tests/test_hostile_files.py "$@"
echo "asan.sh: both passes clean"

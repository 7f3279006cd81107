#!/usr/bin/env bash
# Builds and runs every test: the Release build through ctest (unit and
# integration), the unit tests again under AddressSanitizer + UBSan, and each
# libFuzzer target for a bounded time. FUZZ_SECONDS (default 30) bounds each
# fuzz run; set it to 0 to skip fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== release build + ctest"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIANDU_BUILD_TESTS=ON >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== unit tests under ASan + UBSan"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLIANDU_BUILD_TESTS=ON -DLIANDU_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs" -L unit)

fuzz_seconds=${FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != "0" ]; then
  echo "== fuzz targets, ${fuzz_seconds}s each"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLIANDU_BUILD_TESTS=OFF -DLIANDU_BUILD_FUZZ=ON >/dev/null
  targets=""
  for t in $(sed -n 's/^liandu_fuzz(\([a-z0-9_]*\) .*/\1/p' fuzz/CMakeLists.txt); do
    [ -f "fuzz/$t.cc" ] && targets="$targets $t"
  done
  # shellcheck disable=SC2086
  cmake --build build-fuzz -j "$jobs" --target $targets
  for target in build-fuzz/fuzz/*_fuzz; do
    [ -x "$target" ] || continue
    name=$(basename "$target")
    corpus="fuzz/corpus/${name%_fuzz}"
    mkdir -p "build-fuzz/corpus-$name"
    seeds=()
    [ -d "$corpus" ] && seeds=("$corpus")
    echo "-- $name"
    "$target" -max_total_time="$fuzz_seconds" -print_final_stats=0 "build-fuzz/corpus-$name" "${seeds[@]}" \
      > "build-fuzz/$name.log" 2>&1 || { tail -50 "build-fuzz/$name.log"; exit 1; }
    tail -1 "build-fuzz/$name.log"
  done
fi
echo "all tests passed"

#!/usr/bin/env bash
# Start-up time with a large WAL (issue #3: "start-up with 10 million points
# in the WAL ≤ 2 s"): fills a fresh liandu over HTTP with checkpoints off,
# kills it with SIGKILL, then times --runs restarts from exec until /ping
# answers 204, each on a fresh copy of the killed server's folder (so every
# run replays the same WAL). Prints one line per run (wall seconds, CPU
# seconds of the server until then, its start-up log line) and the median.
#
#   bench/startup.sh [--build-dir build-rel] [--workload factory|trucks]
#                    [--scale 10000] [--ticks 1000] [--runs 3] [--keep]
#                    [--compare OTHER_LIANDU]
#
# --compare times a second binary (say, an older build) on the same WAL,
# alternating with the first run by run, and prints its median too.
#
# Defaults: the factory workload, 10,000 series × 1,000 ticks = 10M points
# (one value each; 885 MB of WAL). Needs ≈ 2 GB free in $TMPDIR and curl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build-rel
WORKLOAD=factory
SCALE=10000
TICKS=1000
RUNS=3
KEEP=0
OTHER=
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) BUILD=$2; shift 2 ;;
    --workload) WORKLOAD=$2; shift 2 ;;
    --scale) SCALE=$2; shift 2 ;;
    --ticks) TICKS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --compare) OTHER=$2; shift 2 ;;
    *) echo "startup.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
LIANDU=$ROOT/$BUILD/liandu
HTTP_LOAD=$ROOT/$BUILD/bench/http_load
for f in "$LIANDU" "$HTTP_LOAD"; do
  [[ -x $f ]] || { echo "startup.sh: $f missing (ninja -C $BUILD liandu http_load)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/liandu-startup-XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill -9 "$SERVER_PID" 2> /dev/null || true; fi
  if [[ $KEEP == 0 ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

# shellcheck source=bench/ports.sh
source "$ROOT/bench/ports.sh"
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
# Checkpoints and the head memory budget out of the way: everything stays in the WAL.
BIG=(--checkpoint-bytes 68719476736 --head-memory-limit 68719476736)
start() {  # start DATA_DIR [BINARY]: returns once /ping answers
  LIANDU_ADMIN_TOKEN=tok "${2:-$LIANDU}" serve --data-dir "$1" --http-bind "127.0.0.1:$PORT" \
    --mqtt-bind 127.0.0.1:0 "${BIG[@]}" > "$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/ping" || true) == 204 ]]; do
    kill -0 "$SERVER_PID" 2> /dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.02
  done
}
stop_now() {
  kill -9 "$SERVER_PID" 2> /dev/null || true
  wait "$SERVER_PID" 2> /dev/null || true
  SERVER_PID=
}

start "$WORK/filled"
curl -sf -o /dev/null -H 'Authorization: Token tok' -X POST "$URL/query" --data-urlencode 'q=CREATE DATABASE bench'
"$HTTP_LOAD" --url "$URL/write?db=bench" --token tok --workload "$WORKLOAD" --scale "$SCALE" --ticks "$TICKS" \
  --connections 4 | grep '^RESULT'
stop_now
echo "WAL: $(du -s -B1 "$WORK/filled/wal" | cut -f1) bytes; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

time_runs() {  # time_runs BINARY LABEL: one start-up on a fresh copy; appends to times_LABEL
  rm -rf "$WORK/run"
  cp -r "$WORK/filled" "$WORK/run"
  sync
  t0=$(date +%s.%N)
  start "$WORK/run" "$1"
  t1=$(date +%s.%N)
  cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$SERVER_PID/stat")
  t=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
  echo "$t" >> "$WORK/times_$2"
  echo "run $i ($2): ${t} s wall, ${cpu} s CPU: $(grep -m1 'started' "$WORK/server.log")"
  stop_now
}
summary() {  # summary LABEL
  echo "median start-up ($1): $(median < "$WORK/times_$1") s (runs: $(tr '\n' ' ' < "$WORK/times_$1"))"
}

for ((i = 1; i <= RUNS; i++)); do
  time_runs "$LIANDU" this
  if [[ -n $OTHER ]]; then time_runs "$OTHER" other; fi
done
summary this
if [[ -n $OTHER ]]; then summary other; fi

#!/usr/bin/env bash
# MQTT broker benchmark: mosquitto vs the standalone mqtt_test_server vs
# `liandu serve` (broker only, and with ingest into storage), driven through
# their TCP ports by bench/mqtt_load. Prints a table of medians and ratios.
#
#   bench/mqtt/run.sh [--build DIR] [--runs 3] [--duration 3] [--rate 5000]
#                     [--idle 10000] [--only mosquitto,test_server,liandu,ingest]
#
# Build first (any folder; default build-bench):
#   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DLIANDU_BUILD_BENCH=ON -DLIANDU_BUILD_TESTS=ON
#   ninja -C build-bench liandu mqtt_test_server mqtt_load
#
# Scenarios, each --runs times against the same server process (medians):
#   q0_4, q1_4, q0_100, q1_100  N publishers → 1 subscriber, QoS 0/1, 100-byte
#                               payloads, as fast as a window of 1,000
#                               outstanding messages allows, --duration s
#   lat_q0_4, lat_q1_4          the same at a fixed --rate msg/s in all: p50/p99
#                               end-to-end latency at a load every server carries
#   idle                        RSS growth with --idle connections open (once,
#                               on the fresh server), bytes per connection
# Each figure also comes as messages per server CPU-second (utime+stime of the
# server process during the run), steadier than msg/s on a shared machine.
# mosquitto: Debian's /usr/sbin/mosquitto with its defaults except
# max_queued_messages 100000 (never reached: the window keeps queues ≤ 1,000)
# and no persistence. liandu: --auth false; "ingest" adds a line-protocol
# mapping rule for bench/{client} → database bench, so every QoS 1 PUBACK
# waits for the durable write (needs curl to create the database). Bounded time: ≈ 5 min with the defaults.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=build-bench
RUNS=3
DURATION=3
RATE=5000
IDLE=10000
ONLY=mosquitto,test_server,liandu,ingest
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --idle) IDLE=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LOAD=$BUILD/bench/mqtt_load
LIANDU=$BUILD/liandu
TEST_SERVER=$BUILD/src/connect/mqtt/server/mqtt_test_server
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
# Only what --only names is needed (the test server is a test target: a
# build with tests off has none).
needed=("$LOAD")
case ",$ONLY," in *,mosquitto,*) needed+=("$MOSQUITTO") ;; esac
case ",$ONLY," in *,test_server,*) needed+=("$TEST_SERVER") ;; esac
case ",$ONLY," in *,liandu,* | *,ingest,*) needed+=("$LIANDU") ;; esac
for f in "${needed[@]}"; do
  [ -x "$f" ] || { echo "missing $f (see the build lines at the top of $0)" >&2; exit 1; }
done

# Both sides of 10,000 connections need descriptors; servers inherit this.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 200)) ]; then
  echo "ulimit -n is $(ulimit -n); lowering --idle to $(($(ulimit -n) - 200))" >&2
  IDLE=$(($(ulimit -n) - 200))
fi

WORK=$(mktemp -d /tmp/liandu-mqtt-bench.XXXXXX)
RESULTS=$WORK/results.txt
: > "$RESULTS"
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# free_port, wait_port, cpu_ticks
source "$ROOT/bench/ports.sh"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
TICKS=$(getconf CLK_TCK)

start_server() {  # name → sets PID and PORT
  PORT=$(free_port)
  local dir=$WORK/$1
  rm -rf "$dir"
  mkdir -p "$dir"
  case "$1" in
    mosquitto)
      printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\npersistence false\nlog_dest none\n' \
        "$PORT" > "$dir/mosquitto.conf"
      "$MOSQUITTO" -c "$dir/mosquitto.conf" > "$dir/log" 2>&1 &
      ;;
    test_server)
      "$TEST_SERVER" --port "$PORT" --data "$dir" --max-connections $((IDLE + 100)) > "$dir/log" 2>&1 &
      ;;
    liandu | ingest)
      local extra=()
      if [ "$1" = ingest ]; then
        echo '[{"name":"bench","topic":"bench/{client}","database":"bench","format":"line_protocol"}]' > "$WORK/rules.json"
        extra=(--mqtt-mappings "$WORK/rules.json")
      fi
      local http
      http=$(free_port)
      "$LIANDU" serve --data-dir "$dir/data" --http-bind "127.0.0.1:$http" --mqtt-bind "127.0.0.1:$PORT" \
        --auth false --mqtt-max-connections $((IDLE + 100)) "${extra[@]}" > "$dir/log" 2>&1 &
      PID=$!
      wait_port "$PORT"
      wait_port "$http"
      curl -sf -XPOST "http://127.0.0.1:$http/query" --data-urlencode 'q=CREATE DATABASE bench' > /dev/null
      HTTP_PORT=$http
      return
      ;;
  esac
  PID=$!
  wait_port "$PORT"
}

stop_server() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
}

idle_test() {  # server
  local before after out=$WORK/idle.out
  sleep 0.5
  before=$(rss_kb "$PID")
  "$LOAD" --port "$PORT" --idle "$IDLE" --hold 60 > "$out" 2>&1 &
  local lp=$!
  for _ in $(seq 1200); do
    grep -q '^ready' "$out" 2>/dev/null && break
    kill -0 $lp 2>/dev/null || break
    sleep 0.1
  done
  if grep -q '^ready' "$out"; then
    sleep 1  # let the server settle (buffers of the CONNECT handling)
    after=$(rss_kb "$PID")
    echo "$1 idle 1 rss_before_kb=$before rss_after_kb=$after bytes_per_conn=$(((after - before) * 1024 / IDLE))" >> "$RESULTS"
  else
    echo "$1: idle test failed: $(cat "$out")" >&2
  fi
  kill $lp 2>/dev/null || true
  wait $lp 2>/dev/null || true
  sleep 1  # the server closes the reset connections
}

scenario() {  # server name pubs qos [rate]
  local server=$1 name=$2 pubs=$3 qos=$4 rate=${5:-0} r c0 c1 line
  for r in $(seq "$RUNS"); do
    c0=$(cpu_ticks "$PID")
    if ! line=$("$LOAD" --port "$PORT" --publishers "$pubs" --qos "$qos" --duration "$DURATION" --rate "$rate" 2>&1); then
      echo "$server $name run $r failed: $line" >&2
      continue
    fi
    c1=$(cpu_ticks "$PID")
    line=$(echo "$line" | tail -1)
    echo "$server $name $r $line server_cpu_s=$(awk -v a="$c0" -v b="$c1" -v t="$TICKS" 'BEGIN {printf "%.2f", (b - a) / t}')" >> "$RESULTS"
    printf '  %-12s %-9s run %s: %s\n' "$server" "$name" "$r" "$(echo "$line" | grep -o 'msgs_per_s=[0-9]* p50_ms=[0-9.]* p99_ms=[0-9.]*')" >&2
  done
}

echo "MQTT bench: runs=$RUNS duration=${DURATION}s rate=$RATE idle=$IDLE; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
START=$(date +%s)
for server in ${ONLY//,/ }; do
  echo "$server:" >&2
  start_server "$server"
  [ "$server" != ingest ] && idle_test "$server"
  scenario "$server" q0_4 4 0
  scenario "$server" q1_4 4 1
  if [ "$server" != ingest ]; then
    scenario "$server" q0_100 100 0
  fi
  scenario "$server" q1_100 100 1
  [ "$server" != ingest ] && scenario "$server" lat_q0_4 4 0 "$RATE"
  scenario "$server" lat_q1_4 4 1 "$RATE"
  if [ "$server" = ingest ]; then  # every acknowledged message is a stored point
    stored=$(curl -sf "http://127.0.0.1:$HTTP_PORT/query?db=bench" --data-urlencode 'q=SELECT count(seq) FROM bench' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["series"][0]["values"][0][1])' || echo "?")
    sent=$(awk '$1 == "ingest" {for (i = 4; i <= NF; i++) if ($i ~ /^received=/) {split($i, a, "="); n += a[2]}} END {print n + 0}' "$RESULTS")
    echo "  ingest: $stored points stored for $sent messages received by the subscriber" >&2
  fi
  stop_server
done
echo "done in $(($(date +%s) - START)) s; load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

python3 - "$RESULTS" <<'EOF'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    server, name = parts[0], parts[1]
    kv = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
    rows.setdefault((server, name), []).append(kv)
servers = [s for s in ["mosquitto", "test_server", "liandu", "ingest"] if any(k[0] == s for k in rows)]
def med(server, name, key):
    vals = [float(kv[key]) for kv in rows.get((server, name), []) if key in kv]
    return statistics.median(vals) if vals else None
def fmt(v, digits=0):
    if v is None: return "–"
    return f"{v:,.{digits}f}"
def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"
head = "| scenario | " + " | ".join(servers) + " | liandu / mosquitto |"
print(head)
print("|" + "---|" * (len(servers) + 2))
for name, label in [("q0_4", "QoS 0, 4 pub → 1 sub, msg/s"), ("q1_4", "QoS 1, 4 pub → 1 sub, msg/s"),
                    ("q0_100", "QoS 0, 100 pub → 1 sub, msg/s"), ("q1_100", "QoS 1, 100 pub → 1 sub, msg/s")]:
    vals = [med(s, name, "msgs_per_s") for s in servers]
    print(f"| {label} | " + " | ".join(fmt(v) for v in vals) + f" | {ratio(med('liandu', name, 'msgs_per_s'), med('mosquitto', name, 'msgs_per_s'))} |")
    cpu = []
    for s in servers:
        r = [float(kv["received"]) / float(kv["server_cpu_s"]) for kv in rows.get((s, name), [])
             if float(kv.get("server_cpu_s", 0)) > 0]
        cpu.append(statistics.median(r) if r else None)
    lc = cpu[servers.index("liandu")] if "liandu" in servers else None
    mc = cpu[servers.index("mosquitto")] if "mosquitto" in servers else None
    print(f"| {label.replace('msg/s', 'msg per server CPU-s')} | " + " | ".join(fmt(v) for v in cpu) + f" | {ratio(lc, mc)} |")
for name, label in [("lat_q0_4", "QoS 0"), ("lat_q1_4", "QoS 1")]:
    for key in ["p50_ms", "p99_ms"]:
        vals = [med(s, name, key) for s in servers]
        l, m = med("liandu", name, key), med("mosquitto", name, key)
        print(f"| {label} latency {key[:3]} ms at fixed rate | " + " | ".join(fmt(v, 2) for v in vals) + f" | {ratio(l, m)} |")
vals = [med(s, "idle", "bytes_per_conn") for s in servers]
print("| bytes RSS per idle connection | " + " | ".join(fmt(v) for v in vals) + f" | {ratio(med('liandu', 'idle', 'bytes_per_conn'), med('mosquitto', 'idle', 'bytes_per_conn'))} |")
EOF
echo >&2
echo "raw results:" >&2
cat "$RESULTS" >&2

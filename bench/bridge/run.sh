#!/usr/bin/env bash
# MQTT bridge throughput (issue #4): messages per second stored through a
# bridge from a remote mosquitto into `liandu serve`. Debian's mosquitto runs
# on a free loopback port with a temporary config; liandu starts with a
# line-protocol mapping rule and one bridge subscribing to the publishers'
# topics; --publishers mosquitto_pub -l processes each send their share of
# --messages lines of --payload bytes; the clock runs from the first publish
# until `SELECT count(seq)` over the run's measurement reaches --messages
# (polled every 20 ms over one keep-alive HTTP connection).
#
#   bench/bridge/run.sh [--build build-rel] [--messages 30000] [--publishers 4]
#                       [--payload 100] [--runs 3] [--qos 1,0] [--connections 1]
#
# --connections is a list (say 1,4,8): a fresh mosquitto and liandu for each
# value, the bridge (given with --bridges) has "connections": N (the key is
# left out for 1, so the script also measures builds without it). Each (connections, qos)
# runs --runs times against the same servers, each run into its own
# measurement; the table gives medians. Every line carries its own timestamp
# (base + seq per publisher), so a message stored twice (redelivered) still
# counts once. mosquitto: no persistence, max_queued_messages 0 (no limit:
# a slow bridge must not make it drop QoS 0 messages). liandu: --auth false,
# default WAL settings (every ingest waits for the group commit's fsync).
# Per run: msg/s (stored), seconds the publishers took, and stored messages
# per CPU-second of the liandu process (steadier on a shared machine).
# Needs curl, python3, mosquitto and mosquitto-clients. Build first:
#   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build-rel liandu
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=build-rel
MESSAGES=30000
PUBLISHERS=4
PAYLOAD=100
RUNS=3
QOS_LIST=1,0
CONNECTIONS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --messages) MESSAGES=$2; shift 2 ;;
    --publishers) PUBLISHERS=$2; shift 2 ;;
    --payload) PAYLOAD=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --qos) QOS_LIST=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    *) echo "bridge/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
LIANDU=$BUILD/liandu
MOSQUITTO=${MOSQUITTO:-/usr/sbin/mosquitto}
for f in "$LIANDU" "$MOSQUITTO" "$(command -v mosquitto_pub || echo mosquitto_pub)"; do
  [ -x "$f" ] || { echo "bridge/run.sh: missing $f (see the build line at the top of $0)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/liandu-bridge-bench.XXXXXX")
RESULTS=$WORK/results.txt
: > "$RESULTS"
MOSQ_PID=
LIANDU_PID=
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2> /dev/null; then
    kill "$1" 2> /dev/null || true
    wait "$1" 2> /dev/null || true
  fi
}
cleanup() {
  stop_pid "$LIANDU_PID"
  stop_pid "$MOSQ_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT

# free_port, wait_port
source "$ROOT/bench/ports.sh"
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

query_count() {  # measurement → stored points (0 when none yet)
  curl -sf "$URL/query?db=bench" --data-urlencode "q=SELECT count(seq) FROM $1" |
    python3 -c 'import json,sys
r = json.load(sys.stdin)["results"][0]
print(r["series"][0]["values"][0][1] if r.get("series") else 0)' 2> /dev/null || echo 0
}

start_servers() {  # connections
  MQ_PORT=$(free_port)
  mkdir -p "$WORK/mosquitto"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nlog_dest none\n' \
    "$MQ_PORT" > "$WORK/mosquitto/mosquitto.conf"
  "$MOSQUITTO" -c "$WORK/mosquitto/mosquitto.conf" > "$WORK/mosquitto/log" 2>&1 &
  MOSQ_PID=$!
  wait_port "$MQ_PORT"

  echo '[{"name":"bench","topic":"bench/{pub}","database":"bench","format":"line_protocol"}]' > "$WORK/rules.json"
  local extra=""
  [ "$1" != 1 ] && extra=", \"connections\": $1"
  echo "[{\"name\": \"bench\", \"database\": \"bench\", \"host\": \"127.0.0.1\", \"port\": $MQ_PORT,
          \"subscribe\": [{\"filter\": \"bench/#\", \"qos\": 1}]$extra}]" > "$WORK/bridges.json"
  local http
  http=$(free_port)
  URL=http://127.0.0.1:$http
  rm -rf "$WORK/data"
  "$LIANDU" serve --data-dir "$WORK/data" --http-bind "127.0.0.1:$http" --mqtt-bind 127.0.0.1:0 --auth false \
    --mqtt-mappings "$WORK/rules.json" --bridges "$WORK/bridges.json" > "$WORK/liandu.log" 2>&1 &
  LIANDU_PID=$!
  wait_port "$http"
  curl -sf -XPOST "$URL/query" --data-urlencode 'q=CREATE DATABASE bench' > /dev/null
  local up=0
  for _ in $(seq 200); do
    if curl -sf "$URL/api/v1/bridges" | grep -q '"status": *"connected"'; then up=1; break; fi
    sleep 0.05
  done
  [ $up = 1 ] || { echo "bridge/run.sh: the bridge did not connect: $(curl -s "$URL/api/v1/bridges")" >&2; exit 1; }
  # The subscriptions follow CONNACK: publish probes until one is stored.
  for i in $(seq 200); do
    mosquitto_pub -p "$MQ_PORT" -t bench/probe -q 1 -m "probe seq=${i}i" || true
    [ "$(query_count probe)" != 0 ] && break
    sleep 0.1
  done
  [ "$(query_count probe)" != 0 ] || { echo "bridge/run.sh: no probe arrived; $(tail -5 "$WORK/liandu.log")" >&2; exit 1; }
  sleep 0.5  # the other connections' SUBSCRIBEs
}

stop_servers() {
  stop_pid "$LIANDU_PID"
  stop_pid "$MOSQ_PID"
  LIANDU_PID=
  MOSQ_PID=
}

# Lines for publisher p of run measurement m: --payload bytes each, own
# timestamp, written before the clock starts.
make_lines() {  # measurement
  python3 - "$1" "$MESSAGES" "$PUBLISHERS" "$PAYLOAD" "$WORK" << 'EOF'
import sys, time
m, n, pubs, size, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
base = time.time_ns() - 3600 * 10**9
for p in range(pubs):
    with open(f"{work}/pub{p}.txt", "w") as f:
        for seq in range(p, n, pubs):
            head = f'{m},pub=p{p} seq={seq}i,pad="'
            tail = f'" {base + seq}'
            f.write(head + "x" * max(1, size - len(head) - len(tail)) + tail + "\n")
EOF
}

# One run, timed by one python process (a shell loop that spawned curl and
# python3 every 50 ms took most of a core on this 2-core machine and cut the
# bridge's rate fivefold): starts the publishers, polls the count every 20 ms
# over one keep-alive HTTP connection, prints the figures.
run_one() {  # connections qos run
  local m="c$1q$2r$3" line
  make_lines "$m"
  line=$(python3 - "$m" "$MESSAGES" "$PUBLISHERS" "$2" "$MQ_PORT" "$URL" "$LIANDU_PID" "$WORK" << 'EOF'
import http.client, json, os, subprocess, sys, time, urllib.parse
m, n, pubs, qos, port, url, pid, work = sys.argv[1:9]
n, pubs = int(n), int(pubs)
hz = os.sysconf("SC_CLK_TCK")
def cpu():
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / hz
conn = http.client.HTTPConnection(url.split("//", 1)[1], timeout=30)
query = "/query?" + urllib.parse.urlencode({"db": "bench", "q": f"SELECT count(seq) FROM {m}"})
def count():
    conn.request("GET", query)
    r = json.loads(conn.getresponse().read())["results"][0]
    return r["series"][0]["values"][0][1] if r.get("series") else 0
c0, t0 = cpu(), time.time()
procs = [subprocess.Popen(["mosquitto_pub", "-p", port, "-t", f"bench/p{p}", "-q", qos, "-l"],
                          stdin=open(f"{work}/pub{p}.txt")) for p in range(pubs)]
tp, got, last, last_change = None, 0, -1, t0
while True:
    if tp is None and all(p.poll() is not None for p in procs):
        tp = time.time()
    got = count()
    now = time.time()
    if got >= n:
        break
    if got != last:
        last, last_change = got, now
    elif now - last_change > 30:
        print(f"stuck at {got} of {n} stored", file=sys.stderr)
        break
    time.sleep(0.02)
t1, c1 = time.time(), cpu()
failed = sum(p.wait() != 0 for p in procs)
if tp is None:
    tp = time.time()
spent = c1 - c0
print(f"stored={got} seconds={t1 - t0:.2f} msgs_per_s={got / (t1 - t0):.0f} publish_s={tp - t0:.2f} "
      f"server_cpu_s={spent:.2f} msgs_per_cpu_s={got / spent if spent > 0 else 0:.0f}"
      + (f" failed_publishers={failed}" if failed else ""))
EOF
  )
  echo "$1 $2 $3 $line" >> "$RESULTS"
  printf '  connections %-2s qos %s run %s: %s\n' "$1" "$2" "$3" "$line" >&2
}

echo "MQTT bridge bench: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit $(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src 2> /dev/null || echo ' (src/ modified)'); $("$MOSQUITTO" -h 2>&1 | head -1)"
echo "command: $0 --build $BUILD --messages $MESSAGES --publishers $PUBLISHERS --payload $PAYLOAD --runs $RUNS --qos $QOS_LIST --connections $CONNECTIONS"
START=$(date +%s)
for conns in ${CONNECTIONS//,/ }; do
  start_servers "$conns"
  for qos in ${QOS_LIST//,/ }; do
    for ((r = 1; r <= RUNS; r++)); do run_one "$conns" "$qos" "$r"; done
  done
  stop_servers
done
echo "done in $(($(date +%s) - START)) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| connections | QoS | stored msg/s (median) | runs, msg/s | msg per liandu CPU-s (median) | all stored |"
echo "|---:|---:|---:|---|---:|---|"
for conns in ${CONNECTIONS//,/ }; do
  for qos in ${QOS_LIST//,/ }; do
    rows=$(awk -v c="$conns" -v q="$qos" '$1 == c && $2 == q' "$RESULTS")
    field() { echo "$rows" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
    rate=$(field msgs_per_s | median)
    per_cpu=$(field msgs_per_cpu_s | median)
    all=$(field stored | awk -v n="$MESSAGES" '$1 != n {bad++} END {print bad ? "no" : "yes"}')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$conns" "$qos" "$rate" "$(field msgs_per_s | paste -sd' ')" "$per_cpu" "$all"
  done
done

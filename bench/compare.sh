#!/usr/bin/env bash
# compare.sh: liandu vs InfluxDB 1.6.7 vs VictoriaMetrics on the same workload,
# in one run, on this machine. Writes a markdown report between the
# "compare.sh" markers of bench/RESULTS.md (or to --out FILE).
#
#   bench/compare.sh [--full] [--workload trucks|factory] [--runs N] [--hours H] [--query-runs N]
#                    [--build-dir DIR] [--out FILE] [--keep]
#
#   --full        6 h of trucks data per run (default 2 h) and a 6 h WAL for the start-up test
#   --workload W  trucks (default: 1,000 trucks, 13 values a line; ingest, disk,
#                 memory, the five queries and the start-up test) or factory
#                 (10,000 sensor series, one value a line; ingest, disk and
#                 memory only: the queries are the trucks'). The factory
#                 report goes between its own markers (compare.sh factory)
#   --runs N      fresh ingest runs per server (default 3); the report has medians
#   --hours H     hours of trucks data per run (1,000 trucks, 10 s interval)
#   --query-runs N  timed requests per query, after one warm-up (default 15;
#                 the report has their median: queries of about 1 ms are
#                 mostly curl and scheduling, and 5 gave medians that moved
#                 by half between runs)
#   --startup-hours H  hours of trucks data in the WAL for the start-up test (default 1)
#   --build-dir   where liandu and bench/http_load are (default build-bench)
#   --out FILE    write the report to FILE instead of bench/RESULTS.md
#   --keep        keep the temporary folder (data dirs, logs)
#
# Needs: build-dir/liandu and build-dir/bench/http_load, influxd (1.6.7,
# Debian `influxdb`), victoria-metrics (Debian `victoria-metrics`), curl, jq.
# Every server listens on 127.0.0.1 only, on free ports, with data in a
# temporary folder; all are stopped by PID on exit.
#
# Each run starts a server on an empty folder, creates database "bench",
# posts the workload with http_load (4 connections, 5,000-line batches,
# timestamps ending at the last full hour), and then:
#   - the last run measures query latency (trucks; median of --query-runs of each query, after
#     a warm-up; VictoriaMetrics runs with -search.disableCache so that it
#     computes each answer, as the others do);
#   - peak RSS is VmHWM of the server process before it is stopped;
#   - disk bytes are `du -s -B1` (allocated) of its data folder once flushed: liandu is
#     stopped with SIGTERM (which checkpoints); InfluxDB is left until its
#     WAL is snapshotted to TSM (cache-snapshot-write-cold-duration=10s,
#     compact-full-write-cold-duration=30s, both set here) and then stopped;
#     VictoriaMetrics gets /internal/force_flush, is left until its size is
#     steady, and is stopped.
# Idle RSS is VmRSS 3 s after start on an empty folder. Start-up time is
# measured for liandu alone: N points are written with checkpoints disabled,
# the server is killed with SIGKILL (so everything is in the WAL) and
# restarted 3 times; the time is from exec until /ping answers 204.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
RUNS=3
QUERY_RUNS=15
HOURS=2
STARTUP_HOURS=1
FULL=0
OUT=$ROOT/bench/RESULTS.md
KEEP=0
CONNECTIONS=4
BATCH=5000
TRUCKS=1000
WORKLOAD=trucks
TOKEN=ld_compare_sh_bench_token
DB=bench

while [[ $# -gt 0 ]]; do
  case $1 in
    --full) FULL=1; HOURS=6; STARTUP_HOURS=6 ;;
    --workload) WORKLOAD=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --query-runs) QUERY_RUNS=$2; shift ;;
    --hours) HOURS=$2; shift ;;
    --startup-hours) STARTUP_HOURS=$2; shift ;;
    --build-dir) BUILD=$(cd "$2" && pwd); shift ;;
    --out) OUT=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,47p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

case $WORKLOAD in
  trucks) SCALE=$TRUCKS; MARK="compare.sh"; WHAT="$TRUCKS trucks" ;;
  factory) SCALE=10000; MARK="compare.sh factory"; WHAT="10000 sensor series" ;;
  *) echo "compare.sh: --workload is trucks or factory, not $WORKLOAD" >&2; exit 2 ;;
esac

LIANDU=$BUILD/liandu
HTTP_LOAD=$BUILD/bench/http_load
for f in "$LIANDU" "$HTTP_LOAD"; do
  [[ -x $f ]] || { echo "compare.sh: $f not found; build it first (see bench/RESULTS.md)" >&2; exit 2; }
done
for c in influxd victoria-metrics curl jq du; do
  command -v "$c" > /dev/null || { echo "compare.sh: $c not found" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/liandu-compare-XXXXXX")
SERVER_PID=""  # the one server running now (they run one at a time); "" when none
declare -A QUERY_PID  # the servers measure_queries runs side by side
ours() { [[ -n $1 ]] && grep -qaE 'liandu|influxd|victoria-metrics' "/proc/$1/cmdline" 2> /dev/null; }
cleanup() {
  local pid left=()
  for pid in "$SERVER_PID" "${QUERY_PID[@]}"; do
    if ours "$pid"; then kill -TERM "$pid" 2> /dev/null || true; left+=("$pid"); fi
  done
  if [[ ${#left[@]} -gt 0 ]]; then
    sleep 2
    for pid in "${left[@]}"; do
      if ours "$pid"; then kill -KILL "$pid" 2> /dev/null || true; fi
    done
  fi
  if [[ $KEEP == 0 ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# shellcheck source=bench/ports.sh
source "$ROOT/bench/ports.sh"

# median of numbers on stdin (one per line); empty input gives empty output
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# status_kb PID FIELD: a field of /proc/PID/status, in kB
status_kb() { awk -v f="$2:" '$1==f {print $2}' "/proc/$1/status" 2> /dev/null || echo 0; }

wait_http() {  # wait_http URL EXPECTED_CODE [HEADER]: up to 60 s
  local url=$1 want=$2 hdr=${3:-X-None: 1} i code
  for ((i = 0; i < 600; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "$hdr" "$url" || true)
    [[ $code == "$want" ]] && return 0
    sleep 0.1
  done
  echo "compare.sh: $url did not answer $want" >&2
  return 1
}

wait_exit() {  # wait_exit PID: up to 120 s; reaps it
  local i
  for ((i = 0; i < 1200; i++)); do
    if ! kill -0 "$1" 2> /dev/null; then
      wait "$1" 2> /dev/null || true
      [[ $1 == "$SERVER_PID" ]] && SERVER_PID=""
      return 0
    fi
    sleep 0.1
  done
  return 1
}

stop_now() {  # SIGKILL the running server and reap it
  kill -KILL "$SERVER_PID"
  wait_exit "$SERVER_PID" || true
}

# Waits until `du -sb DIR` has not changed for 5 s (at most MAX seconds).
wait_du_steady() {
  local dir=$1 max=$2 last=-1 same=0 i now
  for ((i = 0; i < max; i++)); do
    now=$(du -sb "$dir" | cut -f1)
    if [[ $now == "$last" ]]; then same=$((same + 1)); else same=0; fi
    [[ $same -ge 5 ]] && return 0
    last=$now
    sleep 1
  done
}

# ------------------------------------------------------------------ servers
# start_<server> DIR PORT: starts it, sets SERVER_PID and BASE_URL.

# Listeners other than HTTP (MQTT's fixed 1883) are turned off where the
# binary has them, so that runs never collide with anything on the machine.
LIANDU_EXTRA=()
# (The help is read whole first: grep -q would stop reading early, and with
# pipefail the writer's SIGPIPE would make the test fail.)
LIANDU_HELP=$("$LIANDU" serve --help 2> /dev/null || true)
if grep -q -- '--mqtt-bind' <<< "$LIANDU_HELP"; then LIANDU_EXTRA+=(--mqtt-bind off); fi

start_liandu() {
  local dir=$1 port=$2
  shift 2
  LIANDU_ADMIN_TOKEN=$TOKEN "$LIANDU" serve --data-dir "$dir/data" --http-bind "127.0.0.1:$port" \
    "${LIANDU_EXTRA[@]}" "$@" \
    > "$dir/server.log" 2>&1 &
  SERVER_PID=$!
  BASE_URL=http://127.0.0.1:$port
  wait_http "$BASE_URL/ping" 204
}

start_influxdb() {
  local dir=$1 port=$2 rpc
  rpc=$(free_port)
  mkdir -p "$dir/data"
  cat > "$dir/influxdb.conf" << EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/data/meta"
[data]
  dir = "$dir/data/data"
  wal-dir = "$dir/data/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
  compact-full-write-cold-duration = "30s"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
[continuous_queries]
  enabled = false
EOF
  influxd run -config "$dir/influxdb.conf" > "$dir/server.log" 2>&1 &
  SERVER_PID=$!
  BASE_URL=http://127.0.0.1:$port
  wait_http "$BASE_URL/ping" 204
}

start_vm() {
  local dir=$1 port=$2
  # -search.disableCache: no response cache, as liandu and InfluxDB have none;
  # otherwise the repeated queries would be answered from it.
  victoria-metrics -storageDataPath "$dir/data" -httpListenAddr "127.0.0.1:$port" -search.disableCache \
    > "$dir/server.log" 2>&1 &
  SERVER_PID=$!
  BASE_URL=http://127.0.0.1:$port
  wait_http "$BASE_URL/health" 200
}

create_db() {  # create_db SERVER
  case $1 in
    liandu)
      curl -sf -o /dev/null -X POST -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
        --data "{\"name\":\"$DB\"}" "$BASE_URL/api/v1/databases" ;;
    influxdb) curl -sf -o /dev/null -X POST "$BASE_URL/query" --data-urlencode "q=CREATE DATABASE $DB" ;;
    vm) : ;;
  esac
}

# Flushes and stops the server; prints the bytes of its data folder.
flush_and_stop() {  # flush_and_stop SERVER DIR
  local server=$1 dir=$2 i
  case $server in
    liandu) kill -TERM "$SERVER_PID" ;;
    influxdb)
      # The cache is snapshotted 10 s after the last write; wait for the WAL
      # to empty and compactions to settle.
      for ((i = 0; i < 120; i++)); do
        [[ $(du -sb "$dir/data/wal" | cut -f1) -lt 1048576 ]] && break
        sleep 1
      done
      wait_du_steady "$dir/data" 90
      kill -TERM "$SERVER_PID" ;;
    vm)
      curl -sf -o /dev/null "$BASE_URL/internal/force_flush" || true
      wait_du_steady "$dir/data" 60
      kill -TERM "$SERVER_PID" ;;
  esac
  wait_exit "$SERVER_PID" || { log "$server did not stop; killing it"; stop_now; }
  # Allocated bytes, not apparent sizes: InfluxDB preallocates sparse series files.
  du -s -B1 "$dir/data" | cut -f1
}

# ------------------------------------------------------------------ queries

NOW_S=$(date +%s)
END_S=$((NOW_S / 3600 * 3600))  # the data ends at the last full hour
TICKS=$(awk -v h="$HOURS" 'BEGIN {printf "%d", h * 360}')
START_S=$((END_S - TICKS * 10))
WINDOW_S=$((TICKS * 10))
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

Q_NAMES=(last_per_truck mean_per_fleet_hour max_1m_one_truck count_all raw_10m_velocity)
declare -A INFLUXQL VMQ
INFLUXQL[last_per_truck]="SELECT last(velocity) FROM readings GROUP BY \"name\""
INFLUXQL[mean_per_fleet_hour]="SELECT mean(velocity) FROM readings WHERE time >= '$(rfc3339 $((END_S - 6 * 3600)))' AND time < '$(rfc3339 $END_S)' GROUP BY time(1h), fleet"
INFLUXQL[max_1m_one_truck]="SELECT max(velocity) FROM readings WHERE \"name\" = 'truck_42' AND time >= '$(rfc3339 $((END_S - 3600)))' AND time < '$(rfc3339 $END_S)' GROUP BY time(1m)"
INFLUXQL[count_all]="SELECT count(*) FROM \"readings\", \"diagnostics\""
INFLUXQL[raw_10m_velocity]="SELECT velocity FROM readings WHERE time >= '$(rfc3339 $((END_S - 600)))' AND time < '$(rfc3339 $END_S)'"
# VictoriaMetrics has no InfluxQL: the nearest MetricsQL / export request.
# Its look-behind windows are (t - w, t], so the windows get 1 s of slack.
VMQ[last_per_truck]="/api/v1/query?query=$(jq -rn --arg q "last_over_time(readings_velocity[$((WINDOW_S + 1))s])" '$q|@uri')&time=$END_S"
VMQ[mean_per_fleet_hour]="/api/v1/query_range?query=$(jq -rn --arg q 'sum by (fleet) (sum_over_time(readings_velocity[1h])) / sum by (fleet) (count_over_time(readings_velocity[1h]))' '$q|@uri')&start=$((END_S - 5 * 3600 - 1))&end=$((END_S - 1))&step=1h"
VMQ[max_1m_one_truck]="/api/v1/query_range?query=$(jq -rn --arg q 'max_over_time(readings_velocity{name="truck_42"}[1m])' '$q|@uri')&start=$((END_S - 3540 - 1))&end=$((END_S - 1))&step=1m"
VMQ[count_all]="/api/v1/query?query=$(jq -rn --arg q "sum(count_over_time({__name__=~\"readings_.*|diagnostics_.*\"}[$((WINDOW_S + 1))s]))" '$q|@uri')&time=$END_S"
VMQ[raw_10m_velocity]="/api/v1/export?match[]=readings_velocity&start=$((END_S - 600))&end=$((END_S - 1))"

# query_once SERVER NAME URL: one request; prints its time in ms, or
# "not measured: <error>" when the answer is not a good one.
query_once() {
  local server=$1 name=$2 url=$3 code t err out=$WORK/query-$1.out
  if [[ $server == vm ]]; then
    read -r code t < <(curl -s -m 120 -o "$out" -w '%{http_code} %{time_total}\n' "$url${VMQ[$name]}")
  else
    local auth=()
    [[ $server == liandu ]] && auth=(-H "Authorization: Token $TOKEN")
    read -r code t < <(curl -s -m 120 -o "$out" -w '%{http_code} %{time_total}\n' "${auth[@]}" -G "$url/query" \
      --data-urlencode "db=$DB" --data-urlencode "q=${INFLUXQL[$name]}")
  fi
  err=""
  if [[ $code == 000 ]]; then
    err="no answer within 120 s"
  elif [[ $code != 200 ]]; then
    err="HTTP $code: $(head -c 200 "$out" | tr '\n|' '  ')"
  elif [[ $server != vm ]] && jq -e '.results[0].error // .error' "$out" > /dev/null 2>&1; then
    err=$(jq -r '.results[0].error // .error' "$out" | head -c 200 | tr '\n|' '  ')
  elif [[ $server != vm ]] && ! jq -e '.results[0].series | length > 0' "$out" > /dev/null 2>&1; then
    err="empty result: $(head -c 200 "$out" | tr '\n|' '  ')"
  fi
  if [[ -n $err ]]; then echo "not measured: $err"; else awk -v t="$t" 'BEGIN {printf "%.2f", t * 1000}'; fi
}

# The query latencies. A query of about 1 ms is mostly curl, the kernel and
# scheduling, and this machine's speed drifts by tens of percent over
# minutes; timing each server in its own minutes, right after its load
# (while it still flushes or merges), made the ratio of the smallest query
# move between 0.7x and 1.6x from run to run. So all three servers are
# started again on the folders of their last run (flushed, as measured for
# disk), each is left until its CPU time stops growing, and the requests
# then take turns: one warm-up per server and query, then QUERY_RUNS rounds
# in which each server answers once, the first server rotating per round.
# Each figure is the median of its server's QUERY_RUNS times.
declare -A QUERY_URL LAST_DIR
measure_queries() {
  local s q i k t order=(liandu influxdb vm)
  local -A qtimes
  for s in "${order[@]}"; do
    [[ -n ${LAST_DIR[$s]:-} ]] || continue
    "start_$s" "${LAST_DIR[$s]}" "$(free_port)"
    QUERY_URL[$s]=$BASE_URL
    QUERY_PID[$s]=$SERVER_PID
    SERVER_PID=""
  done
  for s in "${!QUERY_PID[@]}"; do
    log "$s: idle $(wait_cpu_idle "${QUERY_PID[$s]}") s after its restart"
  done
  for q in "${Q_NAMES[@]}"; do
    qtimes=()
    for s in "${!QUERY_PID[@]}"; do
      t=$(query_once "$s" "$q" "${QUERY_URL[$s]}")
      if [[ $t == not* ]]; then R[$s.q.$q]=$t; fi
    done
    for ((i = 0; i < QUERY_RUNS; i++)); do
      for ((k = 0; k < ${#order[@]}; k++)); do
        s=${order[$(((i + k) % ${#order[@]}))]}
        [[ -n ${QUERY_PID[$s]:-} && -z ${R[$s.q.$q]:-} ]] || continue
        t=$(query_once "$s" "$q" "${QUERY_URL[$s]}")
        if [[ $t == not* ]]; then R[$s.q.$q]=$t; else qtimes[$s]="${qtimes[$s]:-} $t"; fi
      done
    done
    for s in "${!QUERY_PID[@]}"; do
      # shellcheck disable=SC2086
      if [[ -z ${R[$s.q.$q]:-} ]]; then R[$s.q.$q]=$(printf '%s\n' ${qtimes[$s]} | median); fi
      log "$s $q: ${R[$s.q.$q]}"
    done
  done
  for s in "${!QUERY_PID[@]}"; do
    kill -TERM "${QUERY_PID[$s]}" 2> /dev/null || true
  done
  for s in "${!QUERY_PID[@]}"; do
    SERVER_PID=${QUERY_PID[$s]}
    wait_exit "$SERVER_PID" || stop_now
    unset "QUERY_PID[$s]"
    if [[ $KEEP == 0 ]]; then rm -rf "${LAST_DIR[$s]}/data"; fi
  done
  SERVER_PID=""
}

# ------------------------------------------------------------------ the runs

declare -A R  # R[server.metric] = median

measure_server() {  # measure_server SERVER
  local server=$1 run dir port result pts vals p50 p99 hwm bytes
  local pts_l=() vals_l=() p50_l=() p99_l=() hwm_l=() bytes_l=()
  for ((run = 1; run <= RUNS; run++)); do
    dir=$WORK/$server-$run
    mkdir -p "$dir"
    port=$(free_port)
    "start_$server" "$dir" "$port"
    if [[ $run == 1 ]]; then
      sleep 3
      R[$server.idle_rss_mb]=$(awk -v k="$(status_kb "$SERVER_PID" VmRSS)" 'BEGIN {printf "%.1f", k / 1024}')
    fi
    create_db "$server"
    local url="$BASE_URL/write?db=$DB" tok=()
    [[ $server == liandu ]] && tok=(--token "$TOKEN")
    log "$server run $run/$RUNS: http_load $WHAT x $TICKS points"
    if ! "$HTTP_LOAD" --url "$url" "${tok[@]}" --workload "$WORKLOAD" --scale "$SCALE" --ticks "$TICKS" \
      --start-s "$START_S" --batch "$BATCH" --connections "$CONNECTIONS" > "$dir/http_load.out" 2>&1; then
      log "$server: http_load failed: $(grep -m1 FAILED "$dir/http_load.out" || tail -n 2 "$dir/http_load.out")"
      R[$server.ingest_error]=$(grep -m1 FAILED "$dir/http_load.out" | head -c 300 | tr '|' ' ' || echo "http_load failed")
    fi
    result=$(grep '^RESULT' "$dir/http_load.out")
    field() { tr ' ' '\n' <<< "$result" | awk -F= -v k="$1" '$1==k {print $2}'; }
    pts_l+=("$(field points_per_s)")
    vals_l+=("$(field values_per_s)")
    p50_l+=("$(field p50_ms)")
    p99_l+=("$(field p99_ms)")
    R[values]=$(field values)
    R[lines]=$(field lines)
    log "$server run $run: $(field values_per_s) values/s, p50 $(field p50_ms) ms, p99 $(field p99_ms) ms"
    hwm_l+=("$(status_kb "$SERVER_PID" VmHWM)")
    bytes=$(flush_and_stop "$server" "$dir")
    bytes_l+=("$bytes")
    log "$server run $run: ${bytes} bytes on disk"
    if [[ $run == "$RUNS" && $WORKLOAD == trucks ]]; then
      LAST_DIR[$server]=$dir  # measure_queries starts it again on this folder
    elif [[ $KEEP == 0 ]]; then
      rm -rf "$dir/data"
    fi
  done
  R[$server.points_per_s]=$(printf '%s\n' "${pts_l[@]}" | median)
  R[$server.values_per_s]=$(printf '%s\n' "${vals_l[@]}" | median)
  R[$server.p50_ms]=$(printf '%s\n' "${p50_l[@]}" | median)
  R[$server.p99_ms]=$(printf '%s\n' "${p99_l[@]}" | median)
  R[$server.peak_rss_mb]=$(printf '%s\n' "${hwm_l[@]}" | median | awk '{printf "%.1f", $1 / 1024}')
  R[$server.disk_bytes]=$(printf '%s\n' "${bytes_l[@]}" | median)
  R[$server.bytes_per_value]=$(awk -v b="${R[$server.disk_bytes]}" -v v="${R[values]}" 'BEGIN {printf "%.3f", b / v}')
  R[$server.runs_values]=$(printf '%s ' "${vals_l[@]}")
}

# Start-up of liandu with everything in the WAL: write, SIGKILL, restart x3.
measure_startup() {
  local dir=$WORK/startup port ticks i t0 t1 times=() lines
  mkdir -p "$dir"
  ticks=$(awk -v h="$STARTUP_HOURS" 'BEGIN {printf "%d", h * 360}')
  port=$(free_port)
  local big=(--checkpoint-bytes 68719476736 --head-memory-limit 68719476736)
  start_liandu "$dir" "$port" "${big[@]}"
  create_db liandu
  "$HTTP_LOAD" --url "$BASE_URL/write?db=$DB" --token "$TOKEN" --workload trucks --scale "$TRUCKS" \
    --ticks "$ticks" --start-s "$START_S" --connections "$CONNECTIONS" > "$dir/http_load.out" 2>&1 || true
  lines=$(grep '^RESULT' "$dir/http_load.out" | tr ' ' '\n' | awk -F= '$1=="lines" {print $2}')
  stop_now
  R[startup.wal_bytes]=$(du -s -B1 "$dir/data/wal" | cut -f1)
  for ((i = 0; i < 3; i++)); do
    t0=$(date +%s.%N)
    start_liandu "$dir" "$port" "${big[@]}"
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')")
    R[startup.log]=$(grep -m1 'started' "$dir/server.log" | tr '|' ' ' || true)
    stop_now
  done
  R[startup.points]=$lines
  R[startup.s]=$(printf '%s\n' "${times[@]}" | median)
  R[startup.runs]=$(printf '%s ' "${times[@]}")
  if [[ $KEEP == 0 ]]; then rm -rf "$dir/data"; fi
}

# ------------------------------------------------------------------ report

num() { [[ $1 =~ ^[0-9.]+$ ]]; }
ratio() {  # ratio A B (of the leading numbers)
  set -- "${1%% *}" "${2%% *}"
  if num "$1" && num "$2" && [[ $(awk -v b="$2" 'BEGIN {print (b > 0)}') == 1 ]]; then
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'
  else
    echo "—"
  fi
}
fmt() { if num "$1"; then awk -v x="$1" 'BEGIN {if (x >= 1000) printf "%\047.0f", x; else printf "%g", x}'; else echo "$1"; fi; }
row() {  # row LABEL KEY BETTER
  local l=${R[liandu.$2]:-—} i=${R[influxdb.$2]:-—} v=${R[vm.$2]:-—}
  echo "| $1 | $(fmt "$l") | $(fmt "$i") | $(fmt "$v") | $(ratio "$l" "$i") | $(ratio "$l" "$v") | $3 |"
}

# The main part is one function, called from the last line: bash reads the
# whole of it before running it, so editing this file during a run is safe.
main() {
  T_BEGIN=$(date +%s)
  log "work folder $WORK; $RUNS runs of $WHAT x $HOURS h ($TICKS points per series) per server"
  for s in liandu influxdb vm; do measure_server "$s"; done
  if [[ $WORKLOAD == trucks ]]; then
    log "queries: the three servers again on their last run's folders, requests taking turns"
    measure_queries
  fi
  if [[ $WORKLOAD == trucks ]]; then
    log "liandu start-up with $STARTUP_HOURS h of trucks data in the WAL"
    measure_startup
  fi
  T_END=$(date +%s)


  cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
  mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  rev=$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)
  dirty=$(git -C "$ROOT" status --porcelain 2> /dev/null | grep -c . || true)
  report=$WORK/report.md
  {
    echo "<!-- $MARK:begin -->"
    if [[ $WORKLOAD == trucks ]]; then
      echo "## liandu vs InfluxDB vs VictoriaMetrics over HTTP (bench/compare.sh)"
    else
      echo "## liandu vs InfluxDB vs VictoriaMetrics over HTTP, factory sensors (bench/compare.sh --workload factory)"
    fi
    echo
    echo "Generated by \`bench/compare.sh$([[ $FULL == 1 ]] && echo " --full")$([[ $WORKLOAD == factory ]] && echo " --workload factory") --runs $RUNS --hours $HOURS\` on $(date -u +'%Y-%m-%d %H:%M UTC'), in $((T_END - T_BEGIN)) s."
    echo
    echo "- Machine: $(nproc) cores, $cpu_model, $mem_total RAM, $(uname -sr); the client shares the cores with the server."
    echo "- liandu $("$LIANDU" --version 2> /dev/null | head -1) (git $rev, $dirty files modified), $(influxd version 2> /dev/null | head -1), VictoriaMetrics $(dpkg-query -W -f='${Version}' victoria-metrics 2> /dev/null || echo '?') (Debian package)."
    echo "- Workload: $WORKLOAD, $WHAT, 10 s interval, $HOURS h ending $(rfc3339 $END_S): ${R[lines]} points, ${R[values]} field values per run, posted by \`http_load --connections $CONNECTIONS --batch $BATCH\` (keep-alive)."
    echo "- Ingest and disk figures are medians of $RUNS runs, each on a fresh server and folder; $([[ $WORKLOAD == trucks ]] && echo "queries are medians of $QUERY_RUNS per server on the last run's flushed data, with the three servers restarted together, left until idle, and taking turns request by request (after one warm-up each); ")ratio = liandu ÷ other."
    echo
    echo "| metric | liandu | InfluxDB 1.6.7 | VictoriaMetrics | liandu/InfluxDB | liandu/VM | better |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    row "ingest points/s" points_per_s higher
    row "ingest values/s" values_per_s higher
    row "write latency p50 (ms)" p50_ms lower
    row "write latency p99 (ms)" p99_ms lower
    row "disk bytes per value (du after flush)" bytes_per_value lower
    row "disk bytes" disk_bytes lower
    row "peak RSS during the run (MiB, VmHWM)" peak_rss_mb lower
    row "idle RSS after start, empty (MiB)" idle_rss_mb lower
    [[ $WORKLOAD == trucks ]] && for q in "${Q_NAMES[@]}"; do row "query ms: $q" "q.$q" lower; done
    echo
    echo "Values/s of each run: liandu ${R[liandu.runs_values]:-}; InfluxDB ${R[influxdb.runs_values]:-}; VictoriaMetrics ${R[vm.runs_values]:-}."
    for s in liandu influxdb vm; do
      [[ -n ${R[$s.ingest_error]:-} ]] && echo "**$s ingest errors:** ${R[$s.ingest_error]}"
    done
    if [[ $WORKLOAD == trucks ]]; then
    echo
    echo "liandu start-up with ${R[startup.points]:-?} points (${R[startup.wal_bytes]:-?} bytes of WAL, checkpoints off, killed with SIGKILL): median ${R[startup.s]:-?} s from exec to /ping 204 (runs: ${R[startup.runs]:-}). Server log: \`${R[startup.log]:-}\`."
    echo
    echo "Queries (InfluxQL for liandu and InfluxDB; VictoriaMetrics has no InfluxQL, so its row uses the nearest MetricsQL or export request):"
    echo
    echo "| query | InfluxQL | VictoriaMetrics |"
    echo "|---|---|---|"
    for q in "${Q_NAMES[@]}"; do
      echo "| $q | \`${INFLUXQL[$q]}\` | \`${VMQ[$q]%%&*}\` |"
    done
    fi
    echo
    echo "Commands (ports and folders are picked per run):"
    echo
    echo '```'
    echo "LIANDU_ADMIN_TOKEN=… $LIANDU serve --data-dir DIR --http-bind 127.0.0.1:PORT ${LIANDU_EXTRA[*]}"
    echo "influxd run -config DIR/influxdb.conf   # reporting-disabled, [monitor] store-enabled=false, http log off, 127.0.0.1 binds,"
    echo "                                        # cache-snapshot-write-cold-duration=10s, compact-full-write-cold-duration=30s"
    echo "victoria-metrics -storageDataPath DIR -httpListenAddr 127.0.0.1:PORT -search.disableCache"
    echo "$HTTP_LOAD --url http://127.0.0.1:PORT/write?db=$DB [--token …] --workload $WORKLOAD --scale $SCALE --ticks $TICKS --start-s $START_S --batch $BATCH --connections $CONNECTIONS"
    echo '```'
    echo "<!-- $MARK:end -->"
  } > "$report"

  if [[ -f $OUT ]] && grep -qF "<!-- $MARK:begin -->" "$OUT"; then
    awk -v rep="$report" -v b="<!-- $MARK:begin -->" -v e="<!-- $MARK:end -->" '
      $0 == b {while ((getline l < rep) > 0) print l; skip = 1; next}
      $0 == e {skip = 0; next}
      !skip {print}' "$OUT" > "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
  else
    { [[ -f $OUT ]] && echo; cat "$report"; } >> "$OUT"
  fi
  cat "$report"
  log "report written to $OUT"
}

main; exit

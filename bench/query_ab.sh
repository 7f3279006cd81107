#!/usr/bin/env bash
# query_ab.sh: the latency of one query, alone, for one liandu binary or two
# alternating (A/B), on the trucks data compare.sh loads.
#
#   bench/query_ab.sh [--build-dir DIR] [--compare LIANDU] [--rounds R] [--runs N]
#                     [--hours H] [--query NAME | --q 'InfluxQL'] [--perf FILE]
#
#   --build-dir DIR  where liandu and bench/http_load are (default build-bench)
#   --compare BIN    a second liandu binary (say, a copy of the one before a
#                    change); each round runs DIR/liandu, then BIN
#   --rounds R       rounds (default 3); each starts every binary on a fresh
#                    folder and loads the data again
#   --runs N         timed requests per binary per round, after one warm-up (default 21)
#   --hours H        hours of trucks data (1,000 trucks, 10 s; default 2)
#   --query NAME     one of compare.sh's: last_per_truck mean_per_fleet_hour
#                    max_1m_one_truck count_all raw_10m_velocity (default)
#   --q TEXT         any InfluxQL instead; END and END-600 as in compare.sh can
#                    be written as @END@ and @END600@ (RFC3339)
#   --perf FILE      perf record -g the first binary's server during its
#                    timed requests of the first round (perf.data in FILE)
#   --fill-once      load the data once (first binary), stop the server with
#                    SIGTERM (it writes its head as blocks) and start every
#                    server on a copy of that folder: the same block layout
#                    for A and B (otherwise it depends on when checkpoints ran
#                    during each load, which moves the time of the query)
#
# Requests are made as compare.sh makes them: curl, a new connection each,
# time_total in ms; the response is checked to hold a series. Before the
# requests the server is left until its CPU time stops growing (checkpoints
# after the load). Prints each round's median per binary, the server's CPU
# time per request (utime + stime of the process over the timed requests,
# steadier than wall time on a loaded machine), then the medians over all
# rounds, and the response size and md5 (A and B should answer the same).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build-bench
OTHER=""
ROUNDS=3
RUNS=21
HOURS=2
QNAME=raw_10m_velocity
QTEXT=""
PERF=""
FILL_ONCE=0
TOKEN=ld_query_ab_token
DB=bench

while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) BUILD=$(cd "$2" && pwd); shift ;;
    --compare) OTHER=$(realpath "$2"); shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --hours) HOURS=$2; shift ;;
    --query) QNAME=$2; shift ;;
    --q) QTEXT=$2; shift ;;
    --perf) PERF=$(realpath -m "$2"); shift ;;
    --fill-once) FILL_ONCE=1 ;;
    -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "query_ab.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=bench/ports.sh
source "$ROOT/bench/ports.sh"
HTTP_LOAD=$BUILD/bench/http_load
BINS=("$BUILD/liandu")
[[ -n $OTHER ]] && BINS+=("$OTHER")
for f in "${BINS[@]}" "$HTTP_LOAD"; do
  [[ -x $f ]] || { echo "query_ab.sh: $f not found" >&2; exit 2; }
done

NOW_S=$(date +%s)
END_S=$((NOW_S / 3600 * 3600))
TICKS=$(awk -v h="$HOURS" 'BEGIN {printf "%d", h * 360}')
START_S=$((END_S - TICKS * 10))
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
declare -A Q
Q[last_per_truck]="SELECT last(velocity) FROM readings GROUP BY \"name\""
Q[mean_per_fleet_hour]="SELECT mean(velocity) FROM readings WHERE time >= '$(rfc3339 $((END_S - 6 * 3600)))' AND time < '$(rfc3339 $END_S)' GROUP BY time(1h), fleet"
Q[max_1m_one_truck]="SELECT max(velocity) FROM readings WHERE \"name\" = 'truck_42' AND time >= '$(rfc3339 $((END_S - 3600)))' AND time < '$(rfc3339 $END_S)' GROUP BY time(1m)"
Q[count_all]="SELECT count(*) FROM \"readings\", \"diagnostics\""
Q[raw_10m_velocity]="SELECT velocity FROM readings WHERE time >= '$(rfc3339 $((END_S - 600)))' AND time < '$(rfc3339 $END_S)'"
if [[ -n $QTEXT ]]; then
  QUERY=${QTEXT//@END@/$(rfc3339 $END_S)}
  QUERY=${QUERY//@END600@/$(rfc3339 $((END_S - 600)))}
else
  [[ -n ${Q[$QNAME]:-} ]] || { echo "query_ab.sh: unknown query $QNAME" >&2; exit 2; }
  QUERY=${Q[$QNAME]}
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/liandu-query-ab-XXXXXX")
PID=""
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2> /dev/null; then kill -KILL "$PID" 2> /dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TICK_MS=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN {print 1000 / t}')
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit; if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

start_server() {  # start_server BIN DIR: sets PID and url
  port=$(free_port)
  LIANDU_ADMIN_TOKEN=$TOKEN "$1" serve --data-dir "$2/data" --http-bind "127.0.0.1:$port" \
    --mqtt-bind off > "$2/server.log" 2>&1 &
  PID=$!
  wait_port "$port"
  url=http://127.0.0.1:$port
}
load_data() {  # load_data DIR
  curl -sf -o /dev/null -X POST -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
    --data "{\"name\":\"$DB\"}" "$url/api/v1/databases"
  "$HTTP_LOAD" --url "$url/write?db=$DB" --token "$TOKEN" --workload trucks --scale 1000 \
    --ticks "$TICKS" --start-s "$START_S" --batch 5000 --connections 4 > "$1/http_load.out" 2>&1
}
if [[ $FILL_ONCE == 1 ]]; then
  mkdir -p "$WORK/template"
  start_server "${BINS[0]}" "$WORK/template"
  load_data "$WORK/template"
  kill -TERM "$PID"
  wait "$PID" 2> /dev/null || true
  PID=""
fi

echo "query: $QUERY"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A ALL CPU
for ((round = 1; round <= ROUNDS; round++)); do
  for b in "${!BINS[@]}"; do
    bin=${BINS[$b]}
    dir=$WORK/r$round-b$b
    mkdir -p "$dir"
    if [[ $FILL_ONCE == 1 ]]; then
      cp -a "$WORK/template/data" "$dir/data"
      start_server "$bin" "$dir"
    else
      start_server "$bin" "$dir"
      load_data "$dir"
    fi
    ask() {
      curl -s -o "$dir/out.json" -w '%{time_total}\n' -H "Authorization: Token $TOKEN" -G "$url/query" \
        --data-urlencode "db=$DB" --data-urlencode "q=$QUERY"
    }
    busy0=$(cpu_ticks "$PID")
    waited=$(wait_cpu_idle "$PID" 30)
    settle="settled after $waited s, $(awk -v a="$busy0" -v b="$(cpu_ticks "$PID")" -v t="$TICK_MS" 'BEGIN {printf "%.0f", (b - a) * t}') ms CPU"
    ask > /dev/null
    grep -q '"series"' "$dir/out.json" || { echo "no series: $(head -c 300 "$dir/out.json")" >&2; exit 1; }
    perf_pid=""
    if [[ -n $PERF && $round == 1 && $b == 0 ]]; then
      perf record -g -o "$PERF" -p "$PID" > "$dir/perf.log" 2>&1 &
      perf_pid=$!
      sleep 1
    fi
    times=()
    cpu0=$(cpu_ticks "$PID")
    for ((i = 0; i < RUNS; i++)); do
      times+=("$(ask | awk '{printf "%.2f", $1 * 1000}')")
    done
    cpu=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$PID")" -v t="$TICK_MS" -v n="$RUNS" 'BEGIN {printf "%.2f", (b - a) * t / n}')
    CPU[$b]="${CPU[$b]:-} $cpu"
    if [[ -n $perf_pid ]]; then
      kill -INT "$perf_pid"
      wait "$perf_pid" || true
    fi
    ALL[$b]="${ALL[$b]:-} ${times[*]}"
    printf 'round %d %s: median %s ms (min %s, max %s), server CPU %s ms per request, %s bytes, md5 %s (%s)\n' \
      "$round" "$bin" "$(printf '%s\n' "${times[@]}" | median)" "$(printf '%s\n' "${times[@]}" | sort -g | head -1)" \
      "$(printf '%s\n' "${times[@]}" | sort -g | tail -1)" "$cpu" "$(stat -c %s "$dir/out.json")" \
      "$(md5sum < "$dir/out.json" | cut -c1-12)" "$settle"
    kill -KILL "$PID"
    wait "$PID" 2> /dev/null || true
    PID=""
    rm -rf "$dir/data"
  done
done
for b in "${!BINS[@]}"; do
  # shellcheck disable=SC2086
  printf 'all %s: median %s ms over %d requests; server CPU per request, median of rounds: %s ms\n' \
    "${BINS[$b]}" "$(printf '%s\n' ${ALL[$b]} | median)" "$((ROUNDS * RUNS))" "$(printf '%s\n' ${CPU[$b]} | median)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# shellcheck shell=bash
# Helpers for the bench scripts' servers: loopback ports, and waiting for a
# server to listen or to go idle (sourced by bench/mqtt/run.sh,
# bench/bridge/run.sh, bench/compare.sh, bench/startup.sh, bench/query_ab.sh).

free_port() {  # a TCP port free on 127.0.0.1 just now
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {  # port: until something accepts on it (10 s)
  for _ in $(seq 200); do
    if (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

cpu_ticks() {  # pid: user + system CPU time of the process so far, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat" 2> /dev/null || echo 0
}

wait_cpu_idle() {  # pid [max_s]: until its CPU time stops growing for 0.5 s (60 s);
  # prints the seconds waited
  local prev=-1 now i max=$((${2:-60} * 2))
  for ((i = 0; i < max; i++)); do
    now=$(cpu_ticks "$1")
    [[ $now == "$prev" ]] && break
    prev=$now
    sleep 0.5
  done
  awk -v i="$i" 'BEGIN {printf "%.1f", i * 0.5}'
}

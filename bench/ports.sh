# Loopback port helpers for the bench scripts (sourced by bench/mqtt/run.sh,
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

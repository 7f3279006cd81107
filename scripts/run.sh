#!/usr/bin/env bash
# `make run`: starts liandu serve on the data folder with the simulated plant
# feeding it (one day of history first), and prints where to look.
#
# Demo convenience: the admin token is generated here on first start and kept
# in <data-dir>/demo-admin-token (mode 600) so this script can print it on
# every start. The server itself stores only its hash. For production, set
# LIANDU_ADMIN_TOKEN yourself or let `liandu serve` print a generated one once.
set -euo pipefail
binary=${1:-build/liandu}
data_dir=${2:-./data}
bind=${LIANDU_HTTP_BIND:-127.0.0.1:8086}
# MQTT on 1883 unless something (a system mosquitto, say) already listens there.
mqtt_bind=${LIANDU_MQTT_BIND:-127.0.0.1:1883}
if [ -z "${LIANDU_MQTT_BIND:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  mqtt_bind=127.0.0.1:11883
  echo "run: port 1883 is taken; MQTT listens on $mqtt_bind" >&2
fi
mkdir -p "$data_dir"
token_file="$data_dir/demo-admin-token"
if [ ! -s "$token_file" ]; then
  if [ -e "$data_dir/catalog.db" ]; then
    echo "run: $data_dir has a catalog but no demo token; set LIANDU_TOKEN to your admin token" >&2
  else
    (umask 077; echo "ld_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')" > "$token_file")
  fi
fi
token=$(cat "$token_file" 2>/dev/null || true)
cat <<MSG

  Liandu is starting on http://$bind, mqtt://$mqtt_bind  (data folder: $data_dir)
  admin token:   $token
  try:           export LIANDU_TOKEN=$token
                 $binary query --db plant 'SELECT mean(temperature) FROM machine WHERE time > now() - 1h GROUP BY time(10m), line'
  MQTT:          mosquitto_sub -h ${mqtt_bind%:*} -p ${mqtt_bind##*:} -u admin -P \$LIANDU_TOKEN -t '#' -v
  or with the InfluxDB CLI:
                 influx -host ${bind%:*} -port ${bind##*:} -username admin -password \$LIANDU_TOKEN -database plant
  Ctrl-C stops the server (graceful shutdown).

MSG
LIANDU_ADMIN_TOKEN="$token" exec "$binary" serve --data-dir "$data_dir" --http-bind "$bind" --mqtt-bind "$mqtt_bind" \
  --simulate --simulate-backfill "${LIANDU_SIMULATE_BACKFILL:-1d}"

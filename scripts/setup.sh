#!/usr/bin/env bash
# Installs the Debian packages Liandu builds and tests with. Idempotent: installs
# only what is missing. Works as root (no sudo) or as a user with sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-system-dev libssl-dev zlib1g-dev libzstd-dev
  nlohmann-json3-dev libfmt-dev libcli11-dev
  libsqlite3-dev libroaring-dev libsodium-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format
  curl openssl python3 tzdata influxdb-client influxdb prometheus
  mosquitto mosquitto-clients libmosquitto-dev python3-paho-mqtt
  libprotobuf-dev protobuf-compiler python3-protobuf libmodbus-dev
  python3-prometheus-client
)
# The peers that bench/compare.sh measures against: `make bench-deps` or
# LIANDU_SETUP_BENCH=1 bash scripts/setup.sh.
if [ "${LIANDU_SETUP_BENCH:-0}" = 1 ]; then
  packages+=(victoria-metrics jq linux-perf)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# A local redis-server for the queue backend's tests and for trying the backend out: installs Debian's
# redis-server if missing and starts one on 127.0.0.1:PORT (no persistence: a test queue needs none),
# then waits until it answers PING. Safe to run again: a server already answering on the port is kept.
# Environment: REDIS_PORT (default 6390, away from a system redis on 6379).
set -euo pipefail

port=${REDIS_PORT:-6390}

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y redis-server
fi

if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" != PONG ]; then
  dir=/var/lib/mmcurate-redis-$port
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save '' --appendonly no \
    --daemonize yes --pidfile "/run/mmcurate-redis-$port.pid" --logfile "$dir/redis.log"
fi
for _ in $(seq 50); do
  if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
    echo "redis-up: redis://127.0.0.1:$port"
    exit 0
  fi
  sleep 0.2
done
echo "redis-up: redis-server did not answer on 127.0.0.1:$port; see /var/lib/mmcurate-redis-$port/redis.log" >&2
exit 1

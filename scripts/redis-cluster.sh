#!/usr/bin/env bash
# A throw-away three-master Redis Cluster on 127.0.0.1, for tests and fault drills.
#
#   bash scripts/redis-cluster.sh start     # nodes on ports 7000-7002, cluster created
#   bash scripts/redis-cluster.sh status    # cluster info from the first node
#   bash scripts/redis-cluster.sh stop      # shut the nodes down and delete their directory
#
# Then: SCANAPP_TEST_REDIS_URL=redis://127.0.0.1:7000/0 SCANAPP_TEST_REDIS_CLUSTER=1 pytest ...
#
# No persistence (--save "" --appendonly no): like production's Redis, the cluster holds
# counters and caches that the database can rebuild. Ports come from REDIS_CLUSTER_PORT
# (first port, default 7000); state lives in REDIS_CLUSTER_DIR (default: a directory under
# /tmp named after the first port), so two clusters on different ports do not collide.
set -euo pipefail

FIRST_PORT="${REDIS_CLUSTER_PORT:-7000}"
PORTS=("$FIRST_PORT" "$((FIRST_PORT + 1))" "$((FIRST_PORT + 2))")
DIR="${REDIS_CLUSTER_DIR:-/tmp/scanapp-redis-cluster-$FIRST_PORT}"
HOST=127.0.0.1

node_up() { redis-cli -h "$HOST" -p "$1" ping >/dev/null 2>&1; }

start() {
  if node_up "${PORTS[0]}" && redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info 2>/dev/null \
      | grep -q 'cluster_state:ok'; then
    echo "redis cluster already running on ${PORTS[*]}"
    return 0
  fi
  mkdir -p "$DIR"
  for port in "${PORTS[@]}"; do
    if node_up "$port"; then
      echo "port $port is taken by a Redis that is not our healthy cluster; stop it first" >&2
      exit 1
    fi
    mkdir -p "$DIR/$port"
    rm -f "$DIR/$port/nodes.conf"
    redis-server --port "$port" --bind "$HOST" --dir "$DIR/$port" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --save "" --appendonly no --daemonize yes \
      --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log"
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 50); do node_up "$port" && break; sleep 0.1; done
    node_up "$port" || { echo "node $port did not start; see $DIR/$port/redis.log" >&2; exit 1; }
  done
  redis-cli --cluster create "${PORTS[@]/#/$HOST:}" --cluster-replicas 0 --cluster-yes >/dev/null
  # Creation returns before every node agrees on the slot map; wait for it.
  for _ in $(seq 100); do
    ok=0
    for port in "${PORTS[@]}"; do
      redis-cli -h "$HOST" -p "$port" cluster info | grep -q 'cluster_state:ok' && ok=$((ok + 1))
    done
    [ "$ok" -eq 3 ] && break
    sleep 0.1
  done
  [ "$ok" -eq 3 ] || { echo "cluster did not reach state ok" >&2; exit 1; }
  echo "redis cluster up on ${PORTS[*]} (state in $DIR)"
}

stop() {
  for port in "${PORTS[@]}"; do
    pidfile="$DIR/$port/redis.pid"
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      # Only a process we started: its pid file is ours and it is a redis-server.
      if kill -0 "$pid" 2>/dev/null && grep -q redis-server "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      fi
    fi
  done
  rm -rf "$DIR"
  echo "redis cluster on ${PORTS[*]} stopped"
}

status() {
  redis-cli -h "$HOST" -p "${PORTS[0]}" cluster info | grep -E 'cluster_(state|known_nodes|size)'
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

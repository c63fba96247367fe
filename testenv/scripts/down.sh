#!/usr/bin/env bash
# Stop every service up.sh started, by PID, waiting until each process is really gone, then
# delete RUN_DIR. Safe to run twice or after a partial start.
here=$(cd "$(dirname "$0")" && pwd); . "$here/lib.sh"
[ -d "$RUN_DIR" ] || exit 0
stop_pidfile "$RUN_DIR/registry/registry.pid" 10
stop_pidfile "$RUN_DIR/vm/vm.pid" 15
stop_pidfile "$RUN_DIR/redis/redis.pid" 10
stop_pidfile "$RUN_DIR/kwok/kwok.pid" 10
stop_pidfile "$RUN_DIR/k8s/kube-apiserver.pid" 30
stop_pidfile "$RUN_DIR/k8s/etcd.pid" 15
if [ "${KEEP_STATE:-0}" != 1 ]; then rm -rf "$RUN_DIR"; fi
echo "test environment stopped"

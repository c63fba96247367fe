#!/usr/bin/env bash
# Start every test service on 127.0.0.1, each on a free port, in the background:
#   etcd + kube-apiserver (static admin token, RBAC on), kwok (WITH_KWOK=1, default), Redis (no
#   persistence), VictoriaMetrics (zero latency offset) and a Docker Registry v2.
# Binaries come from BIN_DIR (build-all.sh). State, logs and pid files go to RUN_DIR; the
# addresses are written to RUN_DIR/env (source it). down.sh stops everything by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); . "$here/lib.sh"
mkdir -p "$RUN_DIR"
if [ -f "$RUN_DIR/env" ]; then
  echo "a test environment is already recorded in $RUN_DIR (run down.sh first)" >&2; exit 1
fi
# on any failure stop whatever was already started
trap 'rc=$?; if [ $rc != 0 ]; then "$here/down.sh" >/dev/null 2>&1 || true; fi' EXIT
t0=$(date +%s%N)
fail() { echo "$1" >&2; [ -f "${2:-}" ] && tail -30 "$2" >&2; exit 1; }

# ---- etcd ----
S=$RUN_DIR/k8s; mkdir -p "$S/certs" "$S/etcd"; chmod 700 "$S/etcd"
ETCD_PORT=$(free_port); ETCD_PEER_PORT=$(free_port); ETCD_URL=http://127.0.0.1:$ETCD_PORT
# etcd reads ETCD_* variables as flags and refuses to start when one duplicates a flag
etcd_env=(); for v in $(compgen -e | grep '^ETCD_' || true); do etcd_env+=(-u "$v"); done
start_daemon etcd "$S/etcd.log" "$S/etcd.pid" env ${etcd_env[@]+"${etcd_env[@]}"} "$BIN_DIR/etcd" \
  --name=test --data-dir="$S/etcd" \
  --listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="test=http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster-state=new \
  --quota-backend-bytes=$((2*1024*1024*1024)) --auto-compaction-mode=periodic --auto-compaction-retention=5m \
  --log-level=warn --unsafe-no-fsync
wait_ready "$(cat "$S/etcd.pid")" 30 curl -sf "$ETCD_URL/health" || fail "etcd not healthy; see $S/etcd.log" "$S/etcd.log"

# ---- kube-apiserver ----
KUBE_TOKEN=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$KUBE_TOKEN,admin,admin-uid,system:masters" >"$S/tokens.csv"
openssl genrsa -out "$S/certs/sa.key" 2048 2>/dev/null
openssl rsa -in "$S/certs/sa.key" -pubout -out "$S/certs/sa.pub" 2>/dev/null
API_PORT=$(free_port); API_URL=https://127.0.0.1:$API_PORT
# No controller-manager, scheduler or kubelet: ServiceAccount admission is off (there is no
# default SA), the endpoint reconciler is off (nothing to publish).
start_daemon kube-apiserver "$S/kube-apiserver.log" "$S/kube-apiserver.pid" "$BIN_DIR/kube-apiserver" \
  --etcd-servers="$ETCD_URL" --etcd-prefix=/registry \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
  --cert-dir="$S/certs" --token-auth-file="$S/tokens.csv" \
  --service-account-key-file="$S/certs/sa.pub" --service-account-signing-key-file="$S/certs/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC \
  --disable-admission-plugins=ServiceAccount --allow-privileged=true --endpoint-reconciler-type=none
api_ready() { curl -sf --cacert "$S/certs/apiserver.crt" -H "Authorization: Bearer $KUBE_TOKEN" "$API_URL/readyz" | grep -qx ok; }
wait_ready "$(cat "$S/kube-apiserver.pid")" 180 api_ready || fail "kube-apiserver not ready; see $S/kube-apiserver.log" "$S/kube-apiserver.log"
cat >"$S/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $API_URL
    certificate-authority: $S/certs/apiserver.crt
users:
- name: admin
  user:
    token: $KUBE_TOKEN
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
KC
echo "kube-apiserver ready on $API_URL after $(ms_since "$t0") ms"

# ---- kwok (nodes annotated kwok.x-k8s.io/node=fake look alive) ----
if [ "${WITH_KWOK:-1}" = 1 ]; then
  K=$RUN_DIR/kwok; mkdir -p "$K"
  {
    cat <<CFG
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  nodeLeaseDurationSeconds: 40
  # the +default values are not applied to a hand-written config (0 parallelism = exit)
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  # fake addresses written into status only; nothing connects to them (RFC 2544 range)
  cidr: 198.18.0.0/16
  nodeIP: 198.18.255.254
CFG
    for f in node-initialize node-heartbeat-with-lease pod-ready pod-complete pod-delete; do
      echo "---"; cat "$here/../kwok-stages/$f.yaml"
    done
  } >"$K/kwok.yaml"
  start_daemon kwok "$K/kwok.log" "$K/kwok.pid" "$BIN_DIR/kwok" --kubeconfig="$S/kubeconfig" \
    --config="$K/kwok.yaml" --server-address=127.0.0.1:0
  for _ in $(seq 1 20); do alive "$(cat "$K/kwok.pid")" || break; sleep 0.1; done
  alive "$(cat "$K/kwok.pid")" || fail "kwok exited; see $K/kwok.log" "$K/kwok.log"
fi

# ---- Redis ----
R=$RUN_DIR/redis; mkdir -p "$R"; REDIS_PORT=$(free_port)
start_daemon redis "$R/redis.stdout" "$R/redis.pid" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
  --protected-mode yes --save '' --appendonly no --dir "$R" --daemonize no \
  --logfile "$R/redis.log" --maxmemory 1gb --maxmemory-policy noeviction
wait_ready "$(cat "$R/redis.pid")" 20 sh -c "redis-cli -h 127.0.0.1 -p $REDIS_PORT ping | grep -q PONG" || fail "redis not ready" "$R/redis.log"

# ---- VictoriaMetrics ----
V=$RUN_DIR/vm; mkdir -p "$V"; VM_PORT=$(free_port)
start_daemon victoria-metrics "$V/vm.log" "$V/vm.pid" "$BIN_DIR/victoria-metrics" \
  -httpListenAddr="127.0.0.1:$VM_PORT" -storageDataPath="$V/data" -retentionPeriod=100y \
  -search.latencyOffset=0s -search.disableCache -loggerLevel=WARN
wait_ready "$(cat "$V/vm.pid")" 30 sh -c "curl -sf http://127.0.0.1:$VM_PORT/health | grep -q OK" || fail "victoria-metrics not ready" "$V/vm.log"

# ---- Docker Registry v2 ----
G=$RUN_DIR/registry; mkdir -p "$G/data"; REG_PORT=$(free_port)
cat >"$G/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $G/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
CFG
start_daemon docker-registry "$G/registry.log" "$G/registry.pid" docker-registry serve "$G/config.yml"
wait_ready "$(cat "$G/registry.pid")" 20 curl -sf "http://127.0.0.1:$REG_PORT/v2/" || fail "docker-registry not ready" "$G/registry.log"

cat >"$RUN_DIR/env" <<ENV
export TESTENV_RUN_DIR=$RUN_DIR
export TESTENV_BIN_DIR=$BIN_DIR
export KUBE_APISERVER_URL=$API_URL
export KUBE_TOKEN=$KUBE_TOKEN
export KUBE_CA_FILE=$S/certs/apiserver.crt
export KUBECONFIG=$S/kubeconfig
export ETCD_URL=$ETCD_URL
export KWOK_BIN=$BIN_DIR/kwok
export REDIS_ADDR=127.0.0.1:$REDIS_PORT
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export VM_URL=http://127.0.0.1:$VM_PORT
export REGISTRY_URL=http://127.0.0.1:$REG_PORT
ENV
echo "test environment up in $(ms_since "$t0") ms; addresses in $RUN_DIR/env"

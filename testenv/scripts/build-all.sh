#!/usr/bin/env bash
# Install (apt) and build (Go module proxy) every test dependency into BIN_DIR, outside the
# repository. A binary whose version stamp matches is kept, so a machine that built them once
# spends about 0 s here. Builds run in parallel where memory allows (kube-apiserver's link step
# peaks at 2.4 GB).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); . "$here/lib.sh"
mkdir -p "$BIN_DIR/.stamps" "$CACHE_DIR/logs"
have() { [ -x "$BIN_DIR/$1" ] && [ -f "$BIN_DIR/.stamps/$1-$2" ]; }
stamp() { rm -f "$BIN_DIR/.stamps/$1-"*; touch "$BIN_DIR/.stamps/$1-$2"; }

# Debian packages: redis-server, docker-registry (Registry v2), htpasswd (registry auth tests).
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v python3 >/dev/null || missing+=(python3)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export CGO_ENABLED=0 GOFLAGS=-modcacherw
pids=(); names=()
build() { # build NAME VERSION CMD... : run in the background, log to CACHE_DIR/logs
  local name=$1 version=$2; shift 2
  if have "$name" "$version"; then return 0; fi
  echo "== building $name $version (log: $CACHE_DIR/logs/$name.log)"
  ( s=$(date +%s); "$@" >"$CACHE_DIR/logs/$name.log" 2>&1 && stamp "$name" "$version" \
      && echo "== $name $version built in $(( $(date +%s) - s )) s" ) </dev/null &
  pids+=($!); names+=("$name")
}
build etcd "$ETCD_VERSION" "$here/build-etcd.sh" "$ETCD_VERSION" "$BIN_DIR"
build kube-apiserver "$K8S_VERSION" "$here/build-kube-apiserver.sh" "$K8S_VERSION" "$BIN_DIR"
build kwok "$KWOK_VERSION" env GOBIN="$BIN_DIR" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
build victoria-metrics "$VM_VERSION" env GOBIN="$BIN_DIR" go install -trimpath \
  -ldflags="-s -w -X github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version=victoria-metrics-$VM_VERSION" \
  "github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics@$VM_VERSION"
build controller-gen "$CONTROLLER_TOOLS_VERSION" env GOBIN="$BIN_DIR" go install -trimpath \
  "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
# buf, protoc-gen-go and protoc-gen-connect-go for `make generate` and the generated-code test
"$here/build-protoc.sh" </dev/null &
pids+=($!); names+=("protoc tools")
rc=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "build of ${names[$i]} failed; last lines of $CACHE_DIR/logs/${names[$i]}.log:" >&2
    tail -30 "$CACHE_DIR/logs/${names[$i]}.log" >&2 2>/dev/null; rc=1
  fi
done
exit $rc

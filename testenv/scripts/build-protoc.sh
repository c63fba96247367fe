#!/usr/bin/env bash
# Build the protobuf code generators into BIN_DIR from the Go module proxy: buf (which compiles
# .proto files itself, so no protoc binary is needed), protoc-gen-go and protoc-gen-connect-go.
# The two plugins are built at the versions go.mod requires for their runtime libraries
# (google.golang.org/protobuf and connectrpc.com/connect), so generated code always matches the
# runtime it is compiled against. A binary whose version stamp matches is kept.
# build-all.sh calls it; generate-proto.sh needs its output.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); . "$here/lib.sh"
root=$(cd "$here/../.." && pwd)
BUF_VERSION=${BUF_VERSION:-v1.75.0}
mkdir -p "$BIN_DIR/.stamps" "$CACHE_DIR/logs"
have() { [ -x "$BIN_DIR/$1" ] && [ -f "$BIN_DIR/.stamps/$1-$2" ]; }
stamp() { rm -f "$BIN_DIR/.stamps/$1-"*; touch "$BIN_DIR/.stamps/$1-$2"; }

modversion() { (cd "$root" && go list -m -f '{{.Version}}' "$1"); }
PROTOBUF_VERSION=$(modversion google.golang.org/protobuf)
CONNECT_VERSION=$(modversion connectrpc.com/connect)

export CGO_ENABLED=0 GOFLAGS=-modcacherw
# install NAME VERSION PACKAGE@VERSION: go install into BIN_DIR outside the module, so the
# repository's go.mod is neither read nor changed.
install() {
  local name=$1 version=$2 pkg=$3
  if have "$name" "$version"; then return 0; fi
  echo "== building $name $version (log: $CACHE_DIR/logs/$name.log)"
  local s; s=$(date +%s)
  if ! (cd "$CACHE_DIR" && env GOBIN="$BIN_DIR" go install -trimpath -ldflags="-s -w" "$pkg") \
      >"$CACHE_DIR/logs/$name.log" 2>&1 </dev/null; then
    echo "build of $name failed; last lines of $CACHE_DIR/logs/$name.log:" >&2
    tail -30 "$CACHE_DIR/logs/$name.log" >&2
    return 1
  fi
  stamp "$name" "$version"
  echo "== $name $version built in $(( $(date +%s) - s )) s"
}
install protoc-gen-go "$PROTOBUF_VERSION" "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOBUF_VERSION"
install protoc-gen-connect-go "$CONNECT_VERSION" "connectrpc.com/connect/cmd/protoc-gen-connect-go@$CONNECT_VERSION"
install buf "$BUF_VERSION" "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"

#!/usr/bin/env bash
# Generate the Go code of the collector protocol (connect/proto) with buf, protoc-gen-go and
# protoc-gen-connect-go from BIN_DIR (built by build-protoc.sh). `make generate` runs it with
# the default; connect/proto's TestGeneratedCodeIsFresh runs it into a temporary directory and
# compares.
# usage: generate-proto.sh [OUT_DIR]
#   OUT_DIR  default connect/gen
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); . "$here/lib.sh"
root=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$root/connect/gen}" && cd "${1:-$root/connect/gen}" && pwd)
for b in buf protoc-gen-go protoc-gen-connect-go; do
  [ -x "$BIN_DIR/$b" ] || { echo "$b not found in $BIN_DIR; run testenv/scripts/build-protoc.sh" >&2; exit 1; }
done
export PATH="$BIN_DIR:$PATH"
# Only generated code lives in OUT_DIR: clear it so a removed .proto leaves nothing behind.
rm -rf "${out:?}/clusterpulse"
cd "$root/connect/proto"
# BUF_CACHE_DIR keeps buf's cache out of $HOME/.cache's default layout and off the network.
BUF_CACHE_DIR=${BUF_CACHE_DIR:-$CACHE_DIR/buf} buf generate --template buf.gen.yaml -o "$out"

#!/usr/bin/env bash
# Generate the CRD manifests and the deepcopy methods from the Go types in engine/kube with
# controller-gen. `make generate` runs it with the defaults; engine/kube's TestCRDsMatchTypes
# runs it into a temporary directory and compares.
# usage: generate-crds.sh [CRD_DIR] [DEEPCOPY_DIR]
#   CRD_DIR      default deploy/crds    (one clusterpulse.io_<plural>.yaml per kind)
#   DEEPCOPY_DIR default engine/kube    (zz_generated.deepcopy.go)
# env: CONTROLLER_GEN (default $BIN_DIR/controller-gen, built by build-all.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); . "$here/lib.sh"
root=$(cd "$here/../.." && pwd)
crd_dir=$(mkdir -p "${1:-$root/deploy/crds}" && cd "${1:-$root/deploy/crds}" && pwd)
obj_dir=$(mkdir -p "${2:-$root/engine/kube}" && cd "${2:-$root/engine/kube}" && pwd)
gen=${CONTROLLER_GEN:-$BIN_DIR/controller-gen}
[ -x "$gen" ] || { echo "controller-gen not found at $gen; run testenv/scripts/build-all.sh" >&2; exit 1; }

cd "$root"
# Only files generated here are replaced, so a kind that disappears from the types also
# disappears from CRD_DIR.
rm -f "$crd_dir"/clusterpulse.io_*.yaml
"$gen" \
  paths=./engine/kube object output:object:dir="$obj_dir" \
  crd:crdVersions=v1 output:crd:dir="$crd_dir"

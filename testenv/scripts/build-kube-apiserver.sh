#!/usr/bin/env bash
# Build kube-apiserver from the Go module proxy. `go install k8s.io/kubernetes/cmd/...` refuses
# modules with replace directives, so a wrapper module requires k8s.io/kubernetes and replaces each
# ./staging/src/k8s.io/X with the published k8s.io/X v0.<minor>.<patch> (generated from the real
# go.mod, no hand-kept list). The ldflags are those of kubernetes' hack/lib/version.sh.
# usage: build-kube-apiserver.sh VERSION OUTDIR
set -euo pipefail
K8S_VERSION=$1
OUTDIR=$(realpath -m "$2")
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUTDIR"; cd "$WORK"
export GOFLAGS="-mod=mod -modcacherw" CGO_ENABLED=0
KMOD=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
GOVER=$(awk '$1=="go"{print $2; exit}' "$KMOD")
{
  echo "module clusterpulse.local/kubebuild"
  echo
  echo "go ${GOVER}"
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  echo "replace ("
  awk '/^replace \(/{r=1;next} r&&/^\)/{r=0} r&&/=> \.\/staging/{print "\t"$1" => "$1" '"${STAGING_VERSION}"'"}' "$KMOD"
  echo ")"
  echo
  echo "tool k8s.io/kubernetes/cmd/kube-apiserver"
} > go.mod
go mod tidy
LDF=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  LDF+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${MINOR}"
  LDF+=" -X ${pkg}.gitTreeState=clean"
done
go build -trimpath -ldflags "-s -w ${LDF}" -o "${OUTDIR}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
"${OUTDIR}/kube-apiserver" --version

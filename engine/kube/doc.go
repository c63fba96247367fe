// Package kube holds the CRD Go types and hub access (reading CRs with the dynamic client,
// credentials Secrets → rest.Config, status patches). It must not import jobs, connect or
// httpapi.
//
// The CRD manifests in deploy/crds are generated from the types in types*.go by `make
// generate` (controller-gen, see testenv/scripts/generate-crds.sh); a test fails when they
// disagree.
//
// +groupName=clusterpulse.io
// +versionName=v1alpha1
package kube

// Package openapi embeds the OpenAPI 3 document of the ClusterPulse REST API
// (openapi.yaml), the contract of every route, parameter and response that package httpapi
// serves and validates against. It imports nothing of ClusterPulse.
package openapi

import _ "embed"

//go:embed openapi.yaml
var document []byte

// YAML returns a copy of the OpenAPI document as YAML.
func YAML() []byte {
	return append([]byte(nil), document...)
}

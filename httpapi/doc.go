// Package httpapi is the REST API of ClusterPulse (`clusterpulse api`): a chi router whose
// surface is listed in routes.go and described by the embedded OpenAPI document (package
// openapi), authentication by trusted proxy headers or Kubernetes TokenReview, and handlers
// that read the fleet's state from Redis (engine/store) and show each caller exactly what the
// RBAC engine (engine/policy) lets them see.
//
// Error kinds of package engine are mapped to HTTP status codes in one place (respond.go).
// httpapi imports engine and its subpackages; it must never import jobs or connect.
package httpapi

// Package registry is the Docker Registry HTTP API v2 client of ClusterPulse: it health-checks
// one registry (GET /v2/ and the configured health check paths), follows the Basic and the
// Bearer token authentication flows, lists the catalog with n and Link pagination, detects the
// API version and product features, and grades the result as healthy, degraded or unhealthy
// (engine.RegistryStatus).
//
// It knows nothing of Kubernetes or Redis: callers (job registry) read the RegistryConnection
// and its credentials and store the result. It imports engine and nothing else of ClusterPulse:
// never jobs, connect, httpapi or the other engine adapters.
package registry

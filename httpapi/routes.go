package httpapi

import "net/http"

// routes lists the whole surface of the API. Every route has an operation in
// openapi/openapi.yaml with the same path and method (routes_test.go keeps them identical).
func (s *server) routes(g *registrar) {
	const get, post = http.MethodGet, http.MethodPost

	g.handle(get, "/healthz", public, handleHealthz())
	g.handle(get, "/readyz", public, s.handleReadyz())
	g.handle(get, "/metrics", public, handleMetrics(s.metrics))
	g.handle(get, "/api/v1/openapi.json", public, handleOpenAPI(s.Spec))

	g.handle(get, "/api/v1/auth/status", optional, handleAuthStatus())
	g.handle(get, "/api/v1/auth/me", required, handleAuthMe())
	g.handle(get, "/api/v1/auth/permissions", required, s.handleAuthPermissions())
	g.handle(get, "/api/v1/auth/policies", required, s.handleAuthPolicies())
	g.handle(post, "/api/v1/auth/logout", required, s.handleLogout())
	g.handle(post, "/api/v1/auth/cache/clear", required, s.handleCacheClear())

	g.handle(get, "/api/v1/registries/status", required, s.handleRegistries())
	g.handle(get, "/api/v1/alerts", required, s.handleFleetAlerts())

	g.handle(get, "/api/v1/clusters", required, s.handleClusters())
	g.handle(get, "/api/v1/clusters/{name}", required, s.handleCluster())
	g.handle(get, "/api/v1/clusters/{name}/nodes", required, s.handleNodes())
	g.handle(get, "/api/v1/clusters/{name}/nodes/{node}", required, s.handleNode())
	g.handle(get, "/api/v1/clusters/{name}/operators", required, s.handleOperators())
	g.handle(get, "/api/v1/clusters/{name}/namespaces", required, s.handleNamespaces())
	g.handle(get, "/api/v1/clusters/{name}/alerts", required, s.handleAlerts())
	g.handle(get, "/api/v1/clusters/{name}/events", required, s.handleEvents())
	g.handle(get, "/api/v1/clusters/{name}/clusteroperators", required, s.handleClusterOperators())
	g.handle(get, "/api/v1/clusters/{name}/metrics", required, s.handleClusterMetrics())
	g.handle(get, "/api/v1/clusters/{name}/custom/{type}", required, s.handleCustomResources())

	g.handle(get, "/api/v1/custom-types", required, s.handleCustomTypes())
	g.handle(get, "/api/v1/custom-types/clusters", required, s.handleCustomTypeClusters())
}

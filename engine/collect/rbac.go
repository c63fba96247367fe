package collect

import rbacv1 "k8s.io/api/rbac/v1"

// PolicyRules returns the RBAC rules a token needs for Collect to read every part: list on
// the kinds it counts and converts, get on the ClusterVersion and the console Route, and the
// /version endpoint. It grants no access to Secrets, ConfigMaps or any write. Rules on APIs a
// cluster does not serve (OpenShift, OLM, metrics.k8s.io) are harmless, and needed: the API
// server authorizes a request before it knows whether the resource exists, so without them a
// plain Kubernetes cluster would answer 403 instead of 404.
func PolicyRules() []rbacv1.PolicyRule {
	list := []string{"list"}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes", "pods", "namespaces", "services"}, Verbs: list},
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}, Verbs: list},
		{APIGroups: []string{NodeMetricsGVR.Group}, Resources: []string{NodeMetricsGVR.Resource}, Verbs: list},
		{APIGroups: []string{ClusterVersionGVR.Group}, Resources: []string{ClusterVersionGVR.Resource}, ResourceNames: []string{ClusterVersionName}, Verbs: []string{"get"}},
		{APIGroups: []string{ClusterOperatorGVR.Group}, Resources: []string{ClusterOperatorGVR.Resource}, Verbs: list},
		{APIGroups: []string{RouteGVR.Group}, Resources: []string{RouteGVR.Resource}, ResourceNames: []string{ConsoleRouteName}, Verbs: []string{"get"}},
		{APIGroups: []string{SubscriptionGVR.Group}, Resources: []string{SubscriptionGVR.Resource, CSVGVR.Resource}, Verbs: list},
		{NonResourceURLs: []string{"/version"}, Verbs: []string{"get"}},
	}
}

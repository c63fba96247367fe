package collect

import appsv1 "k8s.io/api/apps/v1"

// CountDeployments adds the deployments of one LIST page to the per-namespace counts in
// byNamespace and returns how many the page held.
func CountDeployments(byNamespace map[string]int, l *appsv1.DeploymentList) int {
	for i := range l.Items {
		byNamespace[l.Items[i].Namespace]++
	}
	return len(l.Items)
}

package collect

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// CountServices adds the services of one LIST page to the per-namespace counts in
// byNamespace.
func CountServices(byNamespace map[string]int, l *corev1.ServiceList) {
	for i := range l.Items {
		byNamespace[l.Items[i].Namespace]++
	}
}

// CountStatefulSets adds the statefulsets of one LIST page to the per-namespace counts in
// byNamespace.
func CountStatefulSets(byNamespace map[string]int, l *appsv1.StatefulSetList) {
	for i := range l.Items {
		byNamespace[l.Items[i].Namespace]++
	}
}

// CountDaemonSets adds the daemonsets of one LIST page to the per-namespace counts in
// byNamespace.
func CountDaemonSets(byNamespace map[string]int, l *appsv1.DaemonSetList) {
	for i := range l.Items {
		byNamespace[l.Items[i].Namespace]++
	}
}

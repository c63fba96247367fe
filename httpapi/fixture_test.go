package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/clusterpulse/clusterpulse/engine"
)

func ptr[T any](v T) *T { return &v }

func at(d time.Duration) engine.Time { return engine.NewTime(testNow.Add(-d)) }

// node builds a node of the fixture.
func node(name, status string, roles []string, labels map[string]string, cpu float64) engine.Node {
	return engine.Node{Name: name, Timestamp: at(time.Minute), Status: status, Roles: roles, Labels: labels, CPUCapacity: cpu,
		MemoryCapacity: 8 << 30, Conditions: []engine.NodeCondition{{Type: "Ready", Status: map[bool]string{true: "True", false: "False"}[status == engine.NodeReady], LastTransitionTime: at(time.Hour)}}}
}

func operator(name, status string, namespaces ...string) engine.Operator {
	o := engine.Operator{Name: name, DisplayName: name, Version: "1.0.0", Status: status, Namespace: "operators", InstalledNamespace: "operators"}
	o.SetAvailableNamespaces(namespaces)
	return o
}

// fleet writes the test fleet through engine/store:
//
//	prod-east  team=payments  healthy; nodes n1 (Ready, zone=a), n2 (NotReady, zone=b);
//	           namespaces default, kube-system, payments-api, payments-db; operators op-a (all
//	           namespaces, Succeeded), op-b (payments-api, search; Failed); ClusterOperators
//	           co-ok, co-deg (degraded); pvcs collected (4 items)
//	prod-west  team=search    healthy; one node
//	dev-1      env=dev        healthy
//	stale-1    env=dev        unhealthy, last success 2 h ago
func (e *env) fleet() {
	e.t.Helper()
	ctx := context.Background()
	write := func(name string, st engine.ClusterState) {
		if err := e.st.WriteCluster(ctx, name, st); err != nil {
			e.t.Fatal(err)
		}
	}
	healthy := func() engine.ClusterStatus {
		return engine.ClusterStatus{Health: engine.HealthHealthy, Message: "ok", LastCheck: at(30 * time.Second), LastSuccess: at(30 * time.Second), Source: engine.CollectionModePull}
	}
	spec := func(labels map[string]string) *engine.ClusterSpec {
		return &engine.ClusterSpec{DisplayName: "x", Endpoint: "https://api.example:6443", Labels: labels,
			Monitoring: engine.ClusterMonitoring{Interval: 60, Timeout: 10}, CollectionMode: engine.CollectionModePull}
	}
	write("prod-east", engine.ClusterState{
		Spec: spec(map[string]string{"team": "payments"}), Status: healthy(),
		Info:       &engine.ClusterInfo{Version: "v1.31.0", Platform: engine.PlatformKubernetes},
		Metrics:    &engine.ClusterMetrics{Timestamp: at(time.Minute), Nodes: 2, NodesReady: 1, Namespaces: 4, Pods: 60, PodsRunning: 50, CPUCapacity: 12, MemoryCapacity: 16 << 30, Deployments: 14},
		Namespaces: ptr(engine.NewNamespaces([]string{"default", "kube-system", "payments-api", "payments-db"}, testNow)),
		NamespaceCounts: []engine.NamespaceCounts{
			{Name: "default", Pods: 5, PodsByPhase: map[string]int{"Running": 5}, Deployments: 1, Services: 1},
			{Name: "kube-system", Pods: 30, PodsByPhase: map[string]int{"Running": 25, "Pending": 5}, Deployments: 8},
			{Name: "payments-api", Pods: 20, PodsByPhase: map[string]int{"Running": 17, "Failed": 3}, Deployments: 4, Services: 2},
			{Name: "payments-db", Pods: 5, PodsByPhase: map[string]int{"Running": 3, "Pending": 2}, Deployments: 1, StatefulSets: 1},
		},
		Nodes: []engine.Node{
			node("n1", engine.NodeReady, []string{"worker"}, map[string]string{"zone": "a"}, 8),
			node("n2", engine.NodeNotReady, []string{"master"}, map[string]string{"zone": "b"}, 4),
		},
		Operators: []engine.Operator{operator("op-a", "Succeeded", "*"), operator("op-b", "Failed", "payments-api", "search")},
		ClusterOperators: []engine.ClusterOperator{
			{Name: "co-ok", Version: "4.16", Available: true},
			{Name: "co-deg", Version: "4.16", Available: true, Degraded: true, Message: "disk pressure"},
		},
		Events: []engine.Event{
			{Type: engine.EventClusterReconciled, Cluster: "prod-east", Timestamp: at(2 * time.Minute), Data: map[string]any{"n": 1}},
			{Type: engine.EventClusterReconciled, Cluster: "prod-east", Timestamp: at(time.Minute), Data: map[string]any{"n": 2}},
		},
	})
	write("prod-west", engine.ClusterState{
		Spec: spec(map[string]string{"team": "search"}), Status: healthy(),
		Nodes: []engine.Node{node("w1", engine.NodeReady, []string{"worker"}, nil, 4)},
	})
	write("dev-1", engine.ClusterState{Spec: spec(map[string]string{"env": "dev"}), Status: healthy()})
	write("stale-1", engine.ClusterState{Spec: spec(map[string]string{"env": "dev"}),
		Status: engine.ClusterStatus{Health: engine.HealthUnhealthy, Message: "connection refused", LastCheck: at(time.Minute), LastSuccess: at(2 * time.Hour)}})

	src := e.addSource(pvcSource)
	items := []engine.CustomResource{
		{ID: "default/a", Namespace: "default", Name: "a", Values: map[string]any{"storageClass": "gold", "requestedGiB": 5.0, "phase": "Bound"}},
		{ID: "payments-api/b", Namespace: "payments-api", Name: "b", Labels: map[string]string{"app": "api"}, Values: map[string]any{"storageClass": "gold", "requestedGiB": 50.0, "phase": "Bound"}},
		{ID: "payments-api/c", Namespace: "payments-api", Name: "c", Values: map[string]any{"storageClass": "scratch-1", "requestedGiB": 1.0, "phase": "Pending"}},
		{ID: "payments-db/d", Namespace: "payments-db", Name: "d", Values: map[string]any{"storageClass": "silver", "requestedGiB": 20.0, "phase": "Bound"}},
	}
	coll := &engine.CustomCollection{CollectedAt: at(time.Minute), SourceID: src.ID, ClusterName: "prod-east", ResourceCount: len(items), Resources: items}
	// Stored aggregations deliberately differ from a recomputation, to tell them apart.
	aggs := &engine.AggregationResults{ComputedAt: at(time.Minute), SourceID: src.ID, Values: map[string]any{"total": 99.0, "pending": 7.0, "storageClasses": 3.0}}
	if err := e.st.WriteCustom(ctx, "prod-east", src.ID, coll, aggs, nil); err != nil {
		e.t.Fatal(err)
	}
}

const pvcSource = `
metadata: {name: pvc-usage, namespace: clusterpulse}
spec:
  source: {apiVersion: v1, kind: PersistentVolumeClaim}
  fields:
  - {name: phase, path: .status.phase}
  - {name: storageClass, path: .spec.storageClassName}
  - {name: requestedGiB, path: .spec.size, type: float}
  aggregations:
  - {name: total, function: count}
  - {name: pending, function: count, filter: {field: phase, operator: equals, value: Pending}}
  - {name: storageClasses, field: storageClass, function: distinct}
  rbac:
    resourceTypeName: pvcs
    filterableFields: [storageClass]
    filterAggregations: true
`

// fleetPolicies are the policies of the RBAC table.
const fleetPolicies = `
metadata: {name: admins}
spec:
  identity: {subjects: {groups: [admins]}, priority: 1000}
  access: {effect: Allow}
  scope: {clusters: {rules: [{permissions: {viewMetrics: true}, resources: [{type: pvcs}, {type: certs}]}]}}
---
metadata: {name: payments}
spec:
  identity: {subjects: {groups: [payments-devs]}, priority: 200}
  access: {effect: Allow}
  scope:
    clusters:
      rules:
      - selector: {matchPattern: "prod-.*", matchLabels: {team: payments}}
        resources:
        - {type: namespaces, visibility: filtered, filters: {namespaces: {allowed: ["payments-*"]}}}
        - {type: pods, visibility: filtered, filters: {namespaces: {allowed: ["payments-*"]}}}
        - {type: nodes, visibility: filtered, filters: {labels: {zone: a}}}
        - {type: operators, visibility: filtered, filters: {namespaces: {allowed: ["payments-*"]}}}
        - type: pvcs
          visibility: filtered
          filters: {namespaces: {allowed: ["payments-*"]}, fields: {storageClass: {denied: ["scratch-*"]}}}
          aggregations: {exclude: [storageClasses]}
---
metadata: {name: contractors-deny-prod}
spec:
  identity: {subjects: {groups: [contractors]}, priority: 500}
  access: {effect: Deny}
  scope: {clusters: {rules: [{selector: {matchNames: ["prod-*"]}}]}}
---
metadata: {name: contractors}
spec:
  identity: {subjects: {groups: [contractors]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {default: allow, rules: []}}
---
metadata: {name: bob-exception}
spec:
  identity: {subjects: {users: [bob@example.com]}, priority: 600}
  access: {effect: Allow}
  scope: {clusters: {rules: [{selector: {matchNames: [prod-east]}}]}}
---
metadata: {name: eve-expired}
spec:
  identity: {subjects: {users: [eve]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{}]}}
  lifecycle: {validity: {notAfter: "2026-02-01T00:00:00Z"}}
---
metadata: {name: no-nodes}
spec:
  identity: {subjects: {groups: [no-nodes]}, priority: 100}
  access: {effect: Allow}
  scope: {clusters: {rules: [{resources: [{type: nodes, visibility: none}, {type: events, visibility: none}, {type: alerts, visibility: filtered, filters: {labels: {severity: critical}}}]}]}}
`

var (
	admin      = who{user: "root", groups: []string{"admins"}}
	alice      = who{user: "alice", groups: []string{"payments-devs"}}
	carol      = who{user: "carol", groups: []string{"contractors"}}
	bob        = who{user: "bob", email: "bob@example.com", groups: []string{"contractors"}}
	eve        = who{user: "eve"}
	nobody     = who{user: "nobody"}
	nonodes    = who{user: "nn", groups: []string{"no-nodes"}}
	anonymous  = who{}
	allCluster = []string{"dev-1", "prod-east", "prod-west", "stale-1"}
)

func newFleet(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, nil)
	e.fleet()
	e.addPolicies(fleetPolicies)
	return e
}

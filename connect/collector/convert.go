package collector

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
)

// BatchOf turns one collection pass into the MetricsBatch the ingester turns back into the same
// state: st is what engine/collect gathered (nil parts were not collected or failed), custom
// what each due MetricSource gathered. It is the inverse of the ingester's conversion, so a
// pushed cluster and a pulled one have the same Redis state.
//
// Cluster metrics and the node list travel together: without st.Metrics the batch carries
// neither (the ingester keeps the stored nodes). Operators are marked scanned only when both
// operator lists were collected.
func BatchOf(cluster, id string, at time.Time, st engine.ClusterState, custom []*metricsource.Result) (*collectorv1.MetricsBatch, error) {
	b := &collectorv1.MetricsBatch{ClusterName: cluster, BatchId: id, CollectedAt: timestamppb.New(at)}
	if m := st.Metrics; m != nil && st.Nodes != nil {
		var list []string
		if st.Namespaces != nil {
			list = st.Namespaces.Namespaces
		}
		b.ClusterMetrics = &collectorv1.ClusterMetrics{
			Nodes: int32(m.Nodes), NodesReady: int32(m.NodesReady), Namespaces: int32(m.Namespaces),
			NamespaceList: list, Pods: int32(m.Pods), PodsRunning: int32(m.PodsRunning),
			CpuCapacity: m.CPUCapacity, MemoryCapacity: m.MemoryCapacity, Deployments: int32(m.Deployments),
		}
		b.NodeMetrics = make([]*collectorv1.NodeMetrics, 0, len(st.Nodes))
		for i := range st.Nodes {
			b.NodeMetrics = append(b.NodeMetrics, nodeMetrics(&st.Nodes[i]))
		}
	}
	if st.Info != nil {
		b.ClusterInfo = clusterInfo(st.Info)
	}
	for i := range st.Operators {
		b.Operators = append(b.Operators, operator(&st.Operators[i]))
	}
	for i := range st.ClusterOperators {
		b.ClusterOperators = append(b.ClusterOperators, clusterOperator(&st.ClusterOperators[i]))
	}
	b.OperatorsScanned = st.Operators != nil && st.ClusterOperators != nil
	for _, c := range st.NamespaceCounts {
		nc := &collectorv1.NamespaceCounts{
			Name: c.Name, Pods: int32(c.Pods), Deployments: int32(c.Deployments), Services: int32(c.Services),
			Statefulsets: int32(c.StatefulSets), Daemonsets: int32(c.DaemonSets),
		}
		if len(c.PodsByPhase) > 0 {
			nc.PodsByPhase = make(map[string]int32, len(c.PodsByPhase))
			for ph, n := range c.PodsByPhase {
				nc.PodsByPhase[ph] = int32(n)
			}
		}
		b.NamespaceCounts = append(b.NamespaceCounts, nc)
	}
	if r := st.Resources; r != nil {
		b.Resources = resources(r)
	}
	for _, r := range custom {
		c, err := customBatch(r)
		if err != nil {
			return nil, err
		}
		b.CustomResources = append(b.CustomResources, c)
	}
	return b, nil
}

func ts(t engine.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t.Time)
}

func nodeMetrics(n *engine.Node) *collectorv1.NodeMetrics {
	out := &collectorv1.NodeMetrics{
		Name: n.Name, Status: n.Status, Roles: n.Roles,
		CpuCapacity: n.CPUCapacity, MemoryCapacity: n.MemoryCapacity, StorageCapacity: n.StorageCapacity,
		PodsCapacity: int32(n.PodsCapacity), CpuAllocatable: n.CPUAllocatable, MemoryAllocatable: n.MemoryAllocatable,
		StorageAllocatable: n.StorageAllocatable, PodsAllocatable: int32(n.PodsAllocatable),
		CpuRequested: n.CPURequested, MemoryRequested: n.MemoryRequested,
		CpuUsagePercent: n.CPUUsagePercent, MemoryUsagePercent: n.MemoryUsagePercent,
		PodsRunning: int32(n.PodsRunning), PodsPending: int32(n.PodsPending), PodsFailed: int32(n.PodsFailed),
		PodsSucceeded: int32(n.PodsSucceeded), PodsTotal: int32(n.PodsTotal),
		KernelVersion: n.KernelVersion, OsImage: n.OSImage, ContainerRuntime: n.ContainerRuntime,
		KubeletVersion: n.KubeletVersion, Architecture: n.Architecture, Labels: n.Labels,
		InternalIp: n.InternalIP, Hostname: n.Hostname, Annotations: n.Annotations, ExternalIp: n.ExternalIP,
		ImagesCount: int32(n.ImagesCount), VolumesAttached: int32(n.VolumesAttached),
		CpuUsed: n.CPUUsed, MemoryUsed: n.MemoryUsed,
	}
	for _, c := range n.Conditions {
		out.Conditions = append(out.Conditions, &collectorv1.NodeCondition{
			Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: ts(c.LastTransitionTime),
		})
	}
	for _, t := range n.Taints {
		out.Taints = append(out.Taints, &collectorv1.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	return out
}

func conditions(cs []engine.ClusterOperatorCondition) []*collectorv1.ClusterOperatorCondition {
	var out []*collectorv1.ClusterOperatorCondition
	for _, c := range cs {
		out = append(out, &collectorv1.ClusterOperatorCondition{
			Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: ts(c.LastTransitionTime),
		})
	}
	return out
}

func clusterInfo(ci *engine.ClusterInfo) *collectorv1.ClusterInfo {
	return &collectorv1.ClusterInfo{
		ApiUrl: ci.APIURL, Version: ci.Version, Platform: ci.Platform, ConsoleUrl: ci.ConsoleURL,
		Channel: ci.Channel, ClusterId: ci.ClusterID, Image: ci.Image, UpdateAvailable: ci.UpdateAvailable,
		AvailableUpdateVersion: ci.AvailableUpdateVersion, AvailableUpdates: ci.AvailableUpdates,
		VersionState: ci.VersionState, VersionStartedTime: ts(ci.VersionStartedTime),
		VersionCompletionTime: ts(ci.VersionCompletionTime), Conditions: conditions(ci.Conditions),
		IsProgressing: ci.IsProgressing, IsDegraded: ci.IsDegraded, IsAvailable: ci.IsAvailable,
	}
}

func operator(o *engine.Operator) *collectorv1.OperatorInfo {
	// The ingester rebuilds the namespace fields with SetAvailableNamespaces: send them all.
	ns := o.AvailableInNamespaces
	if o.AllAvailableNamespaces != nil {
		ns = o.AllAvailableNamespaces
	}
	return &collectorv1.OperatorInfo{
		Name: o.Name, DisplayName: o.DisplayName, Version: o.Version, Status: o.Status,
		InstalledNamespace: o.InstalledNamespace, InstallMode: o.InstallMode, Provider: o.Provider,
		IsClusterWide: o.IsClusterWide, InstallModes: o.InstallModes, AvailableInNamespaces: ns,
		AvailableCount: int32(o.AvailableCount), CreatedAt: ts(o.CreatedAt), UpdatedAt: ts(o.UpdatedAt),
	}
}

func clusterOperator(o *engine.ClusterOperator) *collectorv1.ClusterOperatorInfo {
	out := &collectorv1.ClusterOperatorInfo{
		Name: o.Name, Version: o.Version, Available: o.Available, Progressing: o.Progressing,
		Degraded: o.Degraded, Upgradeable: o.Upgradeable, Message: o.Message, Reason: o.Reason,
		Conditions: conditions(o.Conditions), LastTransitionTime: ts(o.LastTransitionTime),
	}
	for _, v := range o.Versions {
		out.Versions = append(out.Versions, &collectorv1.ClusterOperatorVersion{Name: v.Name, Version: v.Version})
	}
	for _, r := range o.RelatedObjects {
		out.RelatedObjects = append(out.RelatedObjects, &collectorv1.RelatedObject{Group: r.Group, Resource: r.Resource, Namespace: r.Namespace, Name: r.Name})
	}
	return out
}

func resources(r *engine.ResourceCollection) *collectorv1.ResourceCollection {
	out := &collectorv1.ResourceCollection{Truncated: r.Truncated, CollectionTimeMs: r.CollectionTimeMs}
	for _, p := range r.Pods {
		out.Pods = append(out.Pods, &collectorv1.PodSummary{Name: p.Name, Namespace: p.Namespace, Status: p.Status, NodeName: p.NodeName, Labels: p.Labels})
	}
	for _, d := range r.Deployments {
		out.Deployments = append(out.Deployments, &collectorv1.WorkloadSummary{Name: d.Name, Namespace: d.Namespace, Replicas: d.Replicas, ReadyReplicas: d.ReadyReplicas, Labels: d.Labels})
	}
	for _, s := range r.Services {
		out.Services = append(out.Services, &collectorv1.ServiceSummary{Name: s.Name, Namespace: s.Namespace, Type: s.Type, Labels: s.Labels})
	}
	for _, s := range r.StatefulSets {
		out.Statefulsets = append(out.Statefulsets, &collectorv1.WorkloadSummary{Name: s.Name, Namespace: s.Namespace, Replicas: s.Replicas, ReadyReplicas: s.ReadyReplicas, Labels: s.Labels})
	}
	for _, d := range r.DaemonSets {
		out.Daemonsets = append(out.Daemonsets, &collectorv1.WorkloadSummary{Name: d.Name, Namespace: d.Namespace, Replicas: d.Replicas, ReadyReplicas: d.ReadyReplicas, Labels: d.Labels})
	}
	return out
}

// customBatch converts what one MetricSource collected.
func customBatch(r *metricsource.Result) (*collectorv1.CustomResourceBatch, error) {
	c := r.Collection
	out := &collectorv1.CustomResourceBatch{
		SourceId: c.SourceID, ResourceCount: int32(c.ResourceCount), Truncated: c.Truncated,
		DurationMs: c.DurationMs, CollectedAt: ts(c.CollectedAt),
		ErrorCount: int32(r.Meta.ErrorCount), LastError: r.Meta.LastError,
		Resources: make([]*collectorv1.CustomCollectedResource, 0, len(c.Resources)),
	}
	for _, res := range c.Resources {
		values, err := json.Marshal(res.Values)
		if err != nil {
			return nil, fmt.Errorf("encode values of %s in source %s: %w", res.ID, c.SourceID, err)
		}
		out.Resources = append(out.Resources, &collectorv1.CustomCollectedResource{
			Id: res.ID, Namespace: res.Namespace, Name: res.Name, Labels: res.Labels, ValuesJson: values,
		})
	}
	if len(r.Aggregations.Values) > 0 {
		out.Aggregations = make(map[string]*collectorv1.AggregationValue, len(r.Aggregations.Values))
		// The numeric results also go into the original field, for ingesters that predate
		// aggregations.
		out.AggregationValues = map[string]float64{}
		keys := make([]string, 0, len(r.Aggregations.Values))
		for k := range r.Aggregations.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := aggregationValue(r.Aggregations.Values[k], 0)
			if err != nil {
				return nil, fmt.Errorf("aggregation %q of source %s: %w", k, c.SourceID, err)
			}
			out.Aggregations[k] = v
			if n, ok := v.GetKind().(*collectorv1.AggregationValue_Number); ok {
				out.AggregationValues[k] = n.Number
			}
		}
	}
	return out, nil
}

// aggregationValue converts one aggregation result (float64, string, nil or a group map).
func aggregationValue(v any, depth int) (*collectorv1.AggregationValue, error) {
	switch x := v.(type) {
	case nil:
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Null{Null: true}}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Null{Null: true}}, nil
		}
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Number{Number: x}}, nil
	case int:
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Number{Number: float64(x)}}, nil
	case int64:
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Number{Number: float64(x)}}, nil
	case string:
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Text{Text: x}}, nil
	case map[string]any:
		if depth >= 4 {
			return nil, fmt.Errorf("groups nested deeper than 4: %w", engine.ErrInvalid)
		}
		g := &collectorv1.AggregationGroups{Values: make(map[string]*collectorv1.AggregationValue, len(x))}
		for k, gv := range x {
			cv, err := aggregationValue(gv, depth+1)
			if err != nil {
				return nil, err
			}
			g.Values[k] = cv
		}
		return &collectorv1.AggregationValue{Kind: &collectorv1.AggregationValue_Groups{Groups: g}}, nil
	default:
		return nil, fmt.Errorf("result of type %T: %w", v, engine.ErrInvalid)
	}
}

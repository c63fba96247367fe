package ingester

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	collectorv1 "github.com/clusterpulse/clusterpulse/connect/gen/clusterpulse/collector/v1"
	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/history"
)

// Bounds of a batch beyond which it is refused as absurd: far above any real cluster, low
// enough that a broken or hostile collector cannot make one batch cost unbounded work.
const (
	maxNodes            = 20000
	maxNamespaces       = 100000
	maxCustomSources    = 1000
	maxCustomResources  = 500000
	maxOperators        = 10000
	maxClusterOperators = 1000
	maxResourceRecords  = 1000000
	maxNameLength       = 253
	maxBatchIDLength    = 128
	// maxClockSkew is how far in the future collected_at may lie.
	maxClockSkew = 5 * time.Minute
	// maxAggregationDepth bounds nested groups (groupBy produces one level).
	maxAggregationDepth = 4
)

// sourceIDPattern is a MetricSource id: "namespace/name" with Kubernetes names.
var sourceIDPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// batchIDPattern keeps batch ids printable and short (they become part of a Redis key).
var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

// converted is a validated batch in domain form.
type converted struct {
	at      time.Time
	state   engine.ClusterState
	custom  []customPart
	samples []history.Sample
	// skippedSources are custom batches of MetricSources that are not (or no longer) enabled.
	skippedSources []string
}

// customPart is what one MetricSource batch writes.
type customPart struct {
	id   string
	coll engine.CustomCollection
	agg  engine.AggregationResults
	meta engine.CustomMeta
}

// invalid is a validation error at path.
func invalid(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", path, fmt.Sprintf(format, args...), engine.ErrInvalid)
}

// convertBatch validates b and turns it into the cluster state, custom data and history
// samples it stands for, every one stamped with the batch's collected_at (receivedAt only when
// an original collector left it unset and requireTime is false). enabled says which MetricSource
// ids are accepted; custom batches of other sources are skipped, so a deleted MetricSource that
// a collector still collects does not re-create its keys. Any malformed value refuses the whole
// batch with an error wrapping engine.ErrInvalid.
func convertBatch(b *collectorv1.MetricsBatch, cluster string, receivedAt time.Time, requireTime bool, enabled map[string]bool) (*converted, error) {
	if b.GetClusterName() != cluster {
		return nil, fmt.Errorf("batch for cluster %q on a connection of cluster %q: %w", b.GetClusterName(), cluster, engine.ErrForbidden)
	}
	if id := b.GetBatchId(); len(id) > maxBatchIDLength || (id != "" && !batchIDPattern.MatchString(id)) {
		return nil, invalid("batch_id", "must be 1-%d characters of [A-Za-z0-9._~-]", maxBatchIDLength)
	}
	if requireTime && b.GetBatchId() == "" {
		return nil, invalid("batch_id", "required")
	}
	at := receivedAt
	switch {
	case b.GetCollectedAt() != nil:
		t, err := timeOf(b.GetCollectedAt(), "collected_at")
		if err != nil {
			return nil, err
		}
		at = t
	case requireTime:
		return nil, invalid("collected_at", "required")
	}
	if at.After(receivedAt.Add(maxClockSkew)) {
		return nil, invalid("collected_at", "%s is more than %s in the future", at.Format(time.RFC3339), maxClockSkew)
	}
	at = at.UTC()
	et := engine.NewTime(at)
	out := &converted{at: at}
	st := &out.state

	if m := b.GetClusterMetrics(); m != nil {
		cm, ns, err := clusterMetrics(m, et)
		if err != nil {
			return nil, err
		}
		st.Metrics, st.Namespaces = &cm, ns
		if len(b.GetNodeMetrics()) > maxNodes {
			return nil, invalid("node_metrics", "%d nodes (at most %d)", len(b.GetNodeMetrics()), maxNodes)
		}
		st.Nodes = make([]engine.Node, 0, len(b.GetNodeMetrics()))
		seen := make(map[string]bool, len(b.GetNodeMetrics()))
		for i, n := range b.GetNodeMetrics() {
			node, err := nodeOf(n, et, fmt.Sprintf("node_metrics[%d]", i))
			if err != nil {
				return nil, err
			}
			if seen[node.Name] {
				return nil, invalid(fmt.Sprintf("node_metrics[%d].name", i), "duplicate node %q", node.Name)
			}
			seen[node.Name] = true
			st.Nodes = append(st.Nodes, node)
		}
		out.samples = append(out.samples, history.ClusterSeries(cluster, cm, at)...)
		out.samples = append(out.samples, history.NodeSeries(cluster, st.Nodes, at)...)
	}

	if ci := b.GetClusterInfo(); ci != nil {
		info, err := clusterInfo(ci)
		if err != nil {
			return nil, err
		}
		st.Info = &info
	}

	scanned := b.GetOperatorsScanned()
	if scanned || len(b.GetOperators()) > 0 {
		ops, err := operators(b.GetOperators())
		if err != nil {
			return nil, err
		}
		st.Operators = ops
		out.samples = append(out.samples, history.OperatorSeries(cluster, ops, at)...)
	}
	if scanned || len(b.GetClusterOperators()) > 0 {
		cos, err := clusterOperators(b.GetClusterOperators())
		if err != nil {
			return nil, err
		}
		st.ClusterOperators = cos
		out.samples = append(out.samples, history.ClusterOperatorSeries(cluster, cos, at)...)
	}

	if len(b.GetNamespaceCounts()) > 0 {
		nc, err := namespaceCounts(b.GetNamespaceCounts())
		if err != nil {
			return nil, err
		}
		st.NamespaceCounts = nc
	}
	if r := b.GetResources(); r != nil {
		rc, err := resources(r, et)
		if err != nil {
			return nil, err
		}
		st.Resources = &rc
	}

	if len(b.GetCustomResources()) > maxCustomSources {
		return nil, invalid("custom_resources", "%d sources (at most %d)", len(b.GetCustomResources()), maxCustomSources)
	}
	seenSource := map[string]bool{}
	for i, c := range b.GetCustomResources() {
		path := fmt.Sprintf("custom_resources[%d]", i)
		part, srcAt, err := customOf(c, cluster, at, path)
		if err != nil {
			return nil, err
		}
		if seenSource[part.id] {
			return nil, invalid(path+".source_id", "duplicate source %q", part.id)
		}
		seenSource[part.id] = true
		if enabled != nil && !enabled[part.id] {
			out.skippedSources = append(out.skippedSources, part.id)
			continue
		}
		out.custom = append(out.custom, part)
		out.samples = append(out.samples, history.CustomSeries(cluster, part.id, part.agg, srcAt)...)
	}

	st.Status = engine.ClusterStatus{
		Health:      engine.HealthHealthy,
		Message:     "Collector push active",
		LastCheck:   et,
		LastSuccess: et,
		Source:      engine.CollectionModePush,
	}
	st.Events = []engine.Event{{
		Type:      engine.EventClusterReconciled,
		Cluster:   cluster,
		Timestamp: et,
		Data:      map[string]any{"health": engine.HealthHealthy, "source": "collector-push", "batch_id": b.GetBatchId()},
	}}
	return out, nil
}

// timeOf returns ts as a time, refusing an out-of-range Timestamp.
func timeOf(ts *timestamppb.Timestamp, path string) (time.Time, error) {
	if err := ts.CheckValid(); err != nil {
		return time.Time{}, invalid(path, "%v", err)
	}
	return ts.AsTime().UTC(), nil
}

// optTime returns ts as an engine.Time, zero when ts is absent.
func optTime(ts *timestamppb.Timestamp, path string) (engine.Time, error) {
	if ts == nil {
		return engine.Time{}, nil
	}
	t, err := timeOf(ts, path)
	if err != nil {
		return engine.Time{}, err
	}
	return engine.NewTime(t), nil
}

func finite(path string, vs ...float64) error {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return invalid(path, "not a finite number")
		}
		if v < 0 {
			return invalid(path, "negative")
		}
	}
	return nil
}

func nonNegative(path string, vs ...int64) error {
	for _, v := range vs {
		if v < 0 {
			return invalid(path, "negative count %d", v)
		}
	}
	return nil
}

func name(path, s string) error {
	if s == "" || len(s) > maxNameLength {
		return invalid(path, "name must be 1-%d characters", maxNameLength)
	}
	return nil
}

func clusterMetrics(m *collectorv1.ClusterMetrics, at engine.Time) (engine.ClusterMetrics, *engine.Namespaces, error) {
	if err := nonNegative("cluster_metrics", int64(m.GetNodes()), int64(m.GetNodesReady()), int64(m.GetNamespaces()),
		int64(m.GetPods()), int64(m.GetPodsRunning()), m.GetMemoryCapacity(), int64(m.GetDeployments())); err != nil {
		return engine.ClusterMetrics{}, nil, err
	}
	if err := finite("cluster_metrics.cpu_capacity", m.GetCpuCapacity()); err != nil {
		return engine.ClusterMetrics{}, nil, err
	}
	if len(m.GetNamespaceList()) > maxNamespaces || m.GetNamespaces() > maxNamespaces {
		return engine.ClusterMetrics{}, nil, invalid("cluster_metrics.namespace_list", "more than %d namespaces", maxNamespaces)
	}
	if m.GetNodes() > maxNodes {
		return engine.ClusterMetrics{}, nil, invalid("cluster_metrics.nodes", "%d nodes (at most %d)", m.GetNodes(), maxNodes)
	}
	cm := engine.ClusterMetrics{
		Timestamp:      at,
		Nodes:          int(m.GetNodes()),
		NodesReady:     int(m.GetNodesReady()),
		Namespaces:     int(m.GetNamespaces()),
		Pods:           int(m.GetPods()),
		PodsRunning:    int(m.GetPodsRunning()),
		CPUCapacity:    m.GetCpuCapacity(),
		MemoryCapacity: m.GetMemoryCapacity(),
		Deployments:    int(m.GetDeployments()),
	}
	for i, ns := range m.GetNamespaceList() {
		if err := name(fmt.Sprintf("cluster_metrics.namespace_list[%d]", i), ns); err != nil {
			return engine.ClusterMetrics{}, nil, err
		}
	}
	ns := engine.NewNamespaces(m.GetNamespaceList(), at.Time)
	return cm, &ns, nil
}

func nodeOf(n *collectorv1.NodeMetrics, at engine.Time, path string) (engine.Node, error) {
	if err := name(path+".name", n.GetName()); err != nil {
		return engine.Node{}, err
	}
	if err := finite(path, n.GetCpuCapacity(), n.GetCpuAllocatable(), n.GetCpuRequested(),
		n.GetCpuUsagePercent(), n.GetMemoryUsagePercent(), n.GetCpuUsed()); err != nil {
		return engine.Node{}, err
	}
	if err := nonNegative(path, n.GetMemoryCapacity(), n.GetStorageCapacity(), int64(n.GetPodsCapacity()),
		n.GetMemoryAllocatable(), n.GetStorageAllocatable(), int64(n.GetPodsAllocatable()), n.GetMemoryRequested(),
		int64(n.GetPodsRunning()), int64(n.GetPodsPending()), int64(n.GetPodsFailed()), int64(n.GetPodsSucceeded()),
		int64(n.GetPodsTotal()), int64(n.GetImagesCount()), int64(n.GetVolumesAttached()), n.GetMemoryUsed()); err != nil {
		return engine.Node{}, err
	}
	node := engine.Node{
		Name:               n.GetName(),
		Timestamp:          at,
		Status:             n.GetStatus(),
		Roles:              n.GetRoles(),
		CPUCapacity:        n.GetCpuCapacity(),
		MemoryCapacity:     n.GetMemoryCapacity(),
		StorageCapacity:    n.GetStorageCapacity(),
		PodsCapacity:       int64(n.GetPodsCapacity()),
		CPUAllocatable:     n.GetCpuAllocatable(),
		MemoryAllocatable:  n.GetMemoryAllocatable(),
		StorageAllocatable: n.GetStorageAllocatable(),
		PodsAllocatable:    int64(n.GetPodsAllocatable()),
		CPURequested:       n.GetCpuRequested(),
		MemoryRequested:    n.GetMemoryRequested(),
		CPUUsagePercent:    n.GetCpuUsagePercent(),
		MemoryUsagePercent: n.GetMemoryUsagePercent(),
		CPUUsed:            n.CpuUsed,
		MemoryUsed:         n.MemoryUsed,
		PodsRunning:        int(n.GetPodsRunning()),
		PodsPending:        int(n.GetPodsPending()),
		PodsFailed:         int(n.GetPodsFailed()),
		PodsSucceeded:      int(n.GetPodsSucceeded()),
		PodsTotal:          int(n.GetPodsTotal()),
		KernelVersion:      n.GetKernelVersion(),
		OSImage:            n.GetOsImage(),
		ContainerRuntime:   n.GetContainerRuntime(),
		KubeletVersion:     n.GetKubeletVersion(),
		Architecture:       n.GetArchitecture(),
		Labels:             n.GetLabels(),
		Annotations:        n.GetAnnotations(),
		InternalIP:         n.GetInternalIp(),
		ExternalIP:         n.GetExternalIp(),
		Hostname:           n.GetHostname(),
		ImagesCount:        int(n.GetImagesCount()),
		VolumesAttached:    int(n.GetVolumesAttached()),
	}
	for i, c := range n.GetConditions() {
		t, err := optTime(c.GetLastTransitionTime(), fmt.Sprintf("%s.conditions[%d].last_transition_time", path, i))
		if err != nil {
			return engine.Node{}, err
		}
		node.Conditions = append(node.Conditions, engine.NodeCondition{
			Type: c.GetType(), Status: c.GetStatus(), Reason: c.GetReason(), Message: c.GetMessage(), LastTransitionTime: t,
		})
	}
	for _, t := range n.GetTaints() {
		node.Taints = append(node.Taints, engine.Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: t.GetEffect()})
	}
	return node, nil
}

func conditions(cs []*collectorv1.ClusterOperatorCondition, path string) ([]engine.ClusterOperatorCondition, error) {
	var out []engine.ClusterOperatorCondition
	for i, c := range cs {
		t, err := optTime(c.GetLastTransitionTime(), fmt.Sprintf("%s[%d].last_transition_time", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, engine.ClusterOperatorCondition{
			Type: c.GetType(), Status: c.GetStatus(), Reason: c.GetReason(), Message: c.GetMessage(), LastTransitionTime: t,
		})
	}
	return out, nil
}

func clusterInfo(ci *collectorv1.ClusterInfo) (engine.ClusterInfo, error) {
	started, err := optTime(ci.GetVersionStartedTime(), "cluster_info.version_started_time")
	if err != nil {
		return engine.ClusterInfo{}, err
	}
	completed, err := optTime(ci.GetVersionCompletionTime(), "cluster_info.version_completion_time")
	if err != nil {
		return engine.ClusterInfo{}, err
	}
	conds, err := conditions(ci.GetConditions(), "cluster_info.conditions")
	if err != nil {
		return engine.ClusterInfo{}, err
	}
	platform := ci.GetPlatform()
	if platform == "" {
		platform = engine.PlatformKubernetes
	}
	return engine.ClusterInfo{
		APIURL:                 ci.GetApiUrl(),
		Version:                ci.GetVersion(),
		Platform:               platform,
		ConsoleURL:             ci.GetConsoleUrl(),
		Channel:                ci.GetChannel(),
		ClusterID:              ci.GetClusterId(),
		Image:                  ci.GetImage(),
		UpdateAvailable:        ci.UpdateAvailable,
		AvailableUpdateVersion: ci.GetAvailableUpdateVersion(),
		AvailableUpdates:       ci.GetAvailableUpdates(),
		VersionState:           ci.GetVersionState(),
		VersionStartedTime:     started,
		VersionCompletionTime:  completed,
		Conditions:             conds,
		IsProgressing:          ci.IsProgressing,
		IsDegraded:             ci.IsDegraded,
		IsAvailable:            ci.IsAvailable,
	}, nil
}

func operators(in []*collectorv1.OperatorInfo) ([]engine.Operator, error) {
	if len(in) > maxOperators {
		return nil, invalid("operators", "%d operators (at most %d)", len(in), maxOperators)
	}
	out := make([]engine.Operator, 0, len(in))
	for i, o := range in {
		path := fmt.Sprintf("operators[%d]", i)
		if err := name(path+".name", o.GetName()); err != nil {
			return nil, err
		}
		created, err := optTime(o.GetCreatedAt(), path+".created_at")
		if err != nil {
			return nil, err
		}
		updated, err := optTime(o.GetUpdatedAt(), path+".updated_at")
		if err != nil {
			return nil, err
		}
		// Times the collector does not know (original collectors send none; a CSV that is
		// gone) stay unset, as job pull stores them: the original's receive time was not the
		// operator's creation or update time.
		status := o.GetStatus()
		if status == "" {
			status = "Unknown"
		}
		op := engine.Operator{
			Name:               o.GetName(),
			DisplayName:        o.GetDisplayName(),
			Version:            o.GetVersion(),
			Status:             status,
			Namespace:          o.GetInstalledNamespace(),
			InstalledNamespace: o.GetInstalledNamespace(),
			InstallModes:       o.GetInstallModes(),
			InstallMode:        o.GetInstallMode(),
			Provider:           o.GetProvider(),
			CreatedAt:          created,
			UpdatedAt:          updated,
			IsClusterWide:      o.GetIsClusterWide(),
		}
		op.SetAvailableNamespaces(o.GetAvailableInNamespaces())
		out = append(out, op)
	}
	return out, nil
}

func clusterOperators(in []*collectorv1.ClusterOperatorInfo) ([]engine.ClusterOperator, error) {
	if len(in) > maxClusterOperators {
		return nil, invalid("cluster_operators", "%d operators (at most %d)", len(in), maxClusterOperators)
	}
	out := make([]engine.ClusterOperator, 0, len(in))
	for i, o := range in {
		path := fmt.Sprintf("cluster_operators[%d]", i)
		if err := name(path+".name", o.GetName()); err != nil {
			return nil, err
		}
		conds, err := conditions(o.GetConditions(), path+".conditions")
		if err != nil {
			return nil, err
		}
		last, err := optTime(o.GetLastTransitionTime(), path+".last_transition_time")
		if err != nil {
			return nil, err
		}
		// An original collector sends no times: take the latest condition time if any (pull
		// mode's definition), and otherwise leave it out rather than invent one.
		if last.IsZero() {
			for _, c := range conds {
				if c.LastTransitionTime.After(last.Time) {
					last = c.LastTransitionTime
				}
			}
		}
		co := engine.ClusterOperator{
			Name:               o.GetName(),
			Version:            o.GetVersion(),
			Available:          o.GetAvailable(),
			Progressing:        o.GetProgressing(),
			Degraded:           o.GetDegraded(),
			Upgradeable:        o.GetUpgradeable(),
			Message:            o.GetMessage(),
			Reason:             o.GetReason(),
			LastTransitionTime: last,
			Conditions:         conds,
		}
		for _, v := range o.GetVersions() {
			co.Versions = append(co.Versions, engine.ClusterOperatorVersion{Name: v.GetName(), Version: v.GetVersion()})
		}
		for _, r := range o.GetRelatedObjects() {
			co.RelatedObjects = append(co.RelatedObjects, engine.RelatedObject{Group: r.GetGroup(), Resource: r.GetResource(), Namespace: r.GetNamespace(), Name: r.GetName()})
		}
		out = append(out, co)
	}
	return out, nil
}

func namespaceCounts(in []*collectorv1.NamespaceCounts) ([]engine.NamespaceCounts, error) {
	if len(in) > maxNamespaces {
		return nil, invalid("namespace_counts", "more than %d namespaces", maxNamespaces)
	}
	out := make([]engine.NamespaceCounts, 0, len(in))
	for i, c := range in {
		path := fmt.Sprintf("namespace_counts[%d]", i)
		if err := name(path+".name", c.GetName()); err != nil {
			return nil, err
		}
		if err := nonNegative(path, int64(c.GetPods()), int64(c.GetDeployments()), int64(c.GetServices()),
			int64(c.GetStatefulsets()), int64(c.GetDaemonsets())); err != nil {
			return nil, err
		}
		var phases map[string]int
		for ph, n := range c.GetPodsByPhase() {
			if n < 0 {
				return nil, invalid(path+".pods_by_phase", "negative count %d", n)
			}
			if phases == nil {
				phases = map[string]int{}
			}
			phases[ph] = int(n)
		}
		out = append(out, engine.NamespaceCounts{
			Name: c.GetName(), Pods: int(c.GetPods()), PodsByPhase: phases, Deployments: int(c.GetDeployments()),
			Services: int(c.GetServices()), StatefulSets: int(c.GetStatefulsets()), DaemonSets: int(c.GetDaemonsets()),
		})
	}
	return out, nil
}

func resources(r *collectorv1.ResourceCollection, at engine.Time) (engine.ResourceCollection, error) {
	total := len(r.GetPods()) + len(r.GetDeployments()) + len(r.GetServices()) + len(r.GetStatefulsets()) + len(r.GetDaemonsets())
	if total > maxResourceRecords {
		return engine.ResourceCollection{}, invalid("resources", "%d records (at most %d)", total, maxResourceRecords)
	}
	if err := nonNegative("resources.collection_time_ms", r.GetCollectionTimeMs()); err != nil {
		return engine.ResourceCollection{}, err
	}
	rc := engine.ResourceCollection{CollectedAt: at, Truncated: r.GetTruncated(), CollectionTimeMs: r.GetCollectionTimeMs()}
	for _, p := range r.GetPods() {
		rc.Pods = append(rc.Pods, engine.PodSummary{Name: p.GetName(), Namespace: p.GetNamespace(), Status: p.GetStatus(), NodeName: p.GetNodeName(), Labels: p.GetLabels()})
	}
	for _, d := range r.GetDeployments() {
		rc.Deployments = append(rc.Deployments, engine.DeploymentSummary{Name: d.GetName(), Namespace: d.GetNamespace(), Replicas: d.GetReplicas(), ReadyReplicas: d.GetReadyReplicas(), Labels: d.GetLabels()})
	}
	for _, s := range r.GetServices() {
		rc.Services = append(rc.Services, engine.ServiceSummary{Name: s.GetName(), Namespace: s.GetNamespace(), Type: s.GetType(), Labels: s.GetLabels()})
	}
	for _, s := range r.GetStatefulsets() {
		rc.StatefulSets = append(rc.StatefulSets, engine.StatefulSetSummary{Name: s.GetName(), Namespace: s.GetNamespace(), Replicas: s.GetReplicas(), ReadyReplicas: s.GetReadyReplicas(), Labels: s.GetLabels()})
	}
	for _, d := range r.GetDaemonsets() {
		rc.DaemonSets = append(rc.DaemonSets, engine.DaemonSetSummary{Name: d.GetName(), Namespace: d.GetNamespace(), Replicas: d.GetReplicas(), ReadyReplicas: d.GetReadyReplicas(), Labels: d.GetLabels()})
	}
	return rc, nil
}

// customOf converts one MetricSource batch; it returns the time its samples carry.
func customOf(c *collectorv1.CustomResourceBatch, cluster string, batchAt time.Time, path string) (customPart, time.Time, error) {
	id := c.GetSourceId()
	if !sourceIDPattern.MatchString(id) {
		return customPart{}, time.Time{}, invalid(path+".source_id", "%q is not namespace/name", id)
	}
	if len(c.GetResources()) > maxCustomResources {
		return customPart{}, time.Time{}, invalid(path+".resources", "%d resources (at most %d)", len(c.GetResources()), maxCustomResources)
	}
	if err := nonNegative(path, int64(c.GetResourceCount()), c.GetDurationMs(), int64(c.GetErrorCount())); err != nil {
		return customPart{}, time.Time{}, err
	}
	at := batchAt
	if c.GetCollectedAt() != nil {
		t, err := timeOf(c.GetCollectedAt(), path+".collected_at")
		if err != nil {
			return customPart{}, time.Time{}, err
		}
		at = t
	}
	et := engine.NewTime(at)
	res := make([]engine.CustomResource, 0, len(c.GetResources()))
	for i, r := range c.GetResources() {
		rpath := fmt.Sprintf("%s.resources[%d]", path, i)
		values, err := valuesOf(r.GetValuesJson(), rpath+".values_json")
		if err != nil {
			return customPart{}, time.Time{}, err
		}
		if r.GetName() == "" {
			return customPart{}, time.Time{}, invalid(rpath+".name", "empty")
		}
		id := r.GetId()
		if id == "" {
			id = r.GetName()
			if r.GetNamespace() != "" {
				id = r.GetNamespace() + "/" + r.GetName()
			}
		}
		res = append(res, engine.CustomResource{ID: id, Namespace: r.GetNamespace(), Name: r.GetName(), Labels: r.GetLabels(), Values: values})
	}
	values := map[string]any{}
	if len(c.GetAggregations()) > 0 {
		for k, v := range c.GetAggregations() {
			val, err := aggregationValue(v, fmt.Sprintf("%s.aggregations[%q]", path, k), 0)
			if err != nil {
				return customPart{}, time.Time{}, err
			}
			values[k] = val
		}
	} else {
		for k, v := range c.GetAggregationValues() {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return customPart{}, time.Time{}, invalid(fmt.Sprintf("%s.aggregation_values[%q]", path, k), "not a finite number")
			}
			values[k] = v
		}
	}
	count := int(c.GetResourceCount())
	if count == 0 {
		count = len(res)
	}
	return customPart{
		id: id,
		coll: engine.CustomCollection{
			CollectedAt: et, SourceID: id, ClusterName: cluster, ResourceCount: count,
			Truncated: c.GetTruncated(), DurationMs: c.GetDurationMs(), Resources: res,
		},
		agg: engine.AggregationResults{ComputedAt: et, SourceID: id, DurationMs: c.GetDurationMs(), Values: values},
		meta: engine.CustomMeta{
			SourceID: id, ClusterName: cluster, LastCollectionTime: et, DurationMs: c.GetDurationMs(),
			ResourceCount: count, Truncated: c.GetTruncated(), ErrorCount: int(c.GetErrorCount()), LastError: c.GetLastError(),
		},
	}, at, nil
}

// valuesOf decodes a values_json object. Numbers become float64, as after any JSON round trip.
func valuesOf(raw []byte, path string) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	var values map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&values); err != nil {
		return nil, invalid(path, "not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, invalid(path, "trailing data after the JSON object")
	}
	if values == nil {
		return nil, invalid(path, "null is not a JSON object")
	}
	return values, nil
}

// aggregationValue converts one result to the wire form of engine.AggregationResults.Values.
func aggregationValue(v *collectorv1.AggregationValue, path string, depth int) (any, error) {
	switch k := v.GetKind().(type) {
	case *collectorv1.AggregationValue_Number:
		if math.IsNaN(k.Number) || math.IsInf(k.Number, 0) {
			return nil, invalid(path, "not a finite number (send null for \"no value\")")
		}
		return k.Number, nil
	case *collectorv1.AggregationValue_Text:
		return k.Text, nil
	case *collectorv1.AggregationValue_Null, nil:
		return nil, nil
	case *collectorv1.AggregationValue_Groups:
		if depth >= maxAggregationDepth {
			return nil, invalid(path, "groups nested deeper than %d", maxAggregationDepth)
		}
		out := make(map[string]any, len(k.Groups.GetValues()))
		for g, gv := range k.Groups.GetValues() {
			val, err := aggregationValue(gv, fmt.Sprintf("%s[%q]", path, g), depth+1)
			if err != nil {
				return nil, err
			}
			out[g] = val
		}
		return out, nil
	default:
		return nil, invalid(path, "unknown kind %T", k)
	}
}

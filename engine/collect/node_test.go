package collect

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"

	"github.com/clusterpulse/clusterpulse/engine"
)

func TestNodeFromAPI(t *testing.T) {
	now := time.Date(2026, 2, 13, 10, 4, 5, 0, time.UTC)
	var pods corev1.PodList
	readJSON(t, "pods.json", &pods)
	var red PodReduction
	red.AddList(&pods)

	const gi, mi = 1 << 30, 1 << 20
	tests := []struct {
		file string
		want engine.Node
	}{
		{
			file: "node_worker.json",
			want: engine.Node{
				Name:      "ip-10-0-12-34.ec2.internal",
				Timestamp: engine.NewTime(now),
				Status:    engine.NodeReady,
				Roles:     []string{"infra", "worker"},
				Conditions: []engine.NodeCondition{
					{Type: "MemoryPressure", Status: "False", Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available", LastTransitionTime: ts(t, "2026-01-20T08:00:00Z")},
					{Type: "DiskPressure", Status: "False", Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure", LastTransitionTime: ts(t, "2026-01-20T08:00:00Z")},
					{Type: "PIDPressure", Status: "False", Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available", LastTransitionTime: ts(t, "2026-01-20T08:00:00Z")},
					{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status", LastTransitionTime: ts(t, "2026-01-20T08:01:12Z")},
				},
				CPUCapacity:        8,
				MemoryCapacity:     32778772 * 1024,
				StorageCapacity:    125293548 * 1024,
				PodsCapacity:       250,
				CPUAllocatable:     7.5,
				MemoryAllocatable:  31657364 * 1024,
				StorageAllocatable: 115470533818,
				PodsAllocatable:    250,
				// Running payments-api (250m+100m, 512Mi+128Mi; its init container is not
				// counted) and no-requests, Pending payments-worker (500m, 1G). The Succeeded
				// and Failed pods count by phase but request nothing.
				CPURequested:       0.85,
				MemoryRequested:    640*mi + 1e9,
				CPUUsagePercent:    0.85 / 7.5 * 100,
				MemoryUsagePercent: float64(640*mi+1e9) / float64(31657364*1024) * 100,
				PodsRunning:        2,
				PodsPending:        1,
				PodsFailed:         1,
				PodsSucceeded:      1,
				PodsTotal:          5,
				KernelVersion:      "5.14.0-427.50.1.el9_4.x86_64",
				OSImage:            "Red Hat Enterprise Linux CoreOS 417.94.202501301529-0",
				ContainerRuntime:   "cri-o://1.30.9-3.rhaos4.17.git5b5bc5c.el9",
				KubeletVersion:     "v1.30.7",
				Architecture:       "amd64",
				Labels: map[string]string{
					"beta.kubernetes.io/arch":          "amd64",
					"beta.kubernetes.io/instance-type": "m6i.2xlarge",
					"beta.kubernetes.io/os":            "linux",
					"kubernetes.io/arch":               "amd64",
					"kubernetes.io/hostname":           "ip-10-0-12-34.ec2.internal",
					"kubernetes.io/os":                 "linux",
					"node-role.kubernetes.io/worker":   "",
					"node-role.kubernetes.io/infra":    "",
					"node.kubernetes.io/instance-type": "m6i.2xlarge",
					"node.openshift.io/os_id":          "rhcos",
					"topology.kubernetes.io/region":    "us-east-1",
					"topology.kubernetes.io/zone":      "us-east-1a",
				},
				Annotations: map[string]string{
					"csi.volume.kubernetes.io/nodeid":                        `{"ebs.csi.aws.com":"i-0a1b2c3d4e5f60718"}`,
					"machine.openshift.io/machine":                           "openshift-machine-api/prod-east-x7k2p-worker-us-east-1a-9qzrt",
					"machineconfiguration.openshift.io/currentConfig":        "rendered-worker-5c0f2a5b8e0c4b7f3d1a9e6c2b4d8f01",
					"machineconfiguration.openshift.io/state":                "Done",
					"volumes.kubernetes.io/controller-managed-attach-detach": "true",
				},
				Taints: []engine.Taint{
					{Key: "node-role.kubernetes.io/infra", Value: "reserved", Effect: "NoSchedule"},
					{Key: "dedicated", Value: "infra", Effect: "NoExecute"},
				},
				InternalIP:      "10.0.12.34",
				Hostname:        "ip-10-0-12-34.ec2.internal",
				ImagesCount:     3,
				VolumesAttached: 2,
			},
		},
		{
			file: "node_cordoned_master.json",
			want: engine.Node{
				Name:      "cp-0",
				Timestamp: engine.NewTime(now),
				Status:    engine.NodeSchedulingDisabled,
				Roles:     []string{"control-plane", "master"},
				Conditions: []engine.NodeCondition{
					{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status", LastTransitionTime: ts(t, "2026-02-01T00:00:00Z")},
				},
				CPUCapacity:        4,
				MemoryCapacity:     16 * gi,
				StorageCapacity:    50 * gi,
				PodsCapacity:       110,
				CPUAllocatable:     3.8,
				MemoryAllocatable:  15 * gi,
				StorageAllocatable: 48 * gi,
				PodsAllocatable:    110,
				CPURequested:       0.1,
				MemoryRequested:    100 * mi,
				CPUUsagePercent:    0.1 / 3.8 * 100,
				MemoryUsagePercent: float64(100*mi) / float64(15*gi) * 100,
				PodsRunning:        1,
				PodsTotal:          2, // lost-pod has no phase: counted in the total only
				KernelVersion:      "6.8.0-51-generic",
				OSImage:            "Ubuntu 24.04.1 LTS",
				ContainerRuntime:   "containerd://1.7.24",
				KubeletVersion:     "v1.31.4",
				Architecture:       "arm64",
				Labels: map[string]string{
					"kubernetes.io/hostname":                "cp-0",
					"node-role.kubernetes.io/control-plane": "",
					"node-role.kubernetes.io/master":        "",
				},
				Annotations: map[string]string{},
				Taints: []engine.Taint{
					{Key: "node-role.kubernetes.io/master", Effect: "NoSchedule"},
					{Key: "node.kubernetes.io/unschedulable", Effect: "NoSchedule"},
				},
				InternalIP: "192.168.10.5",
				ExternalIP: "203.0.113.7",
				Hostname:   "cp-0",
			},
		},
		{
			file: "node_notready.json",
			want: engine.Node{
				Name:      "edge-7",
				Timestamp: engine.NewTime(now),
				Status:    engine.NodeNotReady,
				Roles:     []string{"edge"},
				Conditions: []engine.NodeCondition{
					{Type: "Ready", Status: "Unknown", Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.", LastTransitionTime: ts(t, "2026-02-13T09:41:00Z")},
				},
				CPUCapacity:    2,
				MemoryCapacity: 4 * gi,
				PodsCapacity:   110,
				// Nothing allocatable: the percentages are 0, not NaN.
				Labels:      map[string]string{"kubernetes.io/role": "edge"},
				Annotations: map[string]string{},
				Taints:      []engine.Taint{},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var n corev1.Node
			readJSON(t, tt.file, &n)
			got := NodeFromAPI(&n, red.Node(n.Name), now)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("NodeFromAPI mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeStatus(t *testing.T) {
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}
	pressure := corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue}
	tests := []struct {
		name          string
		unschedulable bool
		conds         []corev1.NodeCondition
		want          string
	}{
		{name: "ready", conds: []corev1.NodeCondition{pressure, ready}, want: engine.NodeReady},
		{name: "not ready", conds: []corev1.NodeCondition{notReady}, want: engine.NodeNotReady},
		{name: "no ready condition", conds: []corev1.NodeCondition{pressure}, want: engine.NodeUnknown},
		{name: "no conditions", want: engine.NodeUnknown},
		{name: "cordoned overrides ready", unschedulable: true, conds: []corev1.NodeCondition{ready}, want: engine.NodeSchedulingDisabled},
		{name: "cordoned overrides not ready", unschedulable: true, conds: []corev1.NodeCondition{notReady}, want: engine.NodeSchedulingDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: tt.unschedulable}, Status: corev1.NodeStatus{Conditions: tt.conds}}
			if got := NodeStatus(n); got != tt.want {
				t.Errorf("NodeStatus = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNodeRoles(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{name: "none", labels: nil, want: []string{}},
		{name: "several sorted", labels: map[string]string{"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": "true", "kubernetes.io/os": "linux"}, want: []string{"infra", "worker"}},
		{name: "empty role name ignored", labels: map[string]string{"node-role.kubernetes.io/": ""}, want: []string{}},
		{name: "legacy label deduplicated", labels: map[string]string{"kubernetes.io/role": "master", "node-role.kubernetes.io/master": ""}, want: []string{"master"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, NodeRoles(tt.labels)); diff != "" {
				t.Errorf("NodeRoles mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

package metricsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/yaml"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/testenv"
)

var octopusGVR = schema.GroupVersionResource{Group: "msengine-test.clusterpulse.io", Version: "v1", Resource: "octopodes"}

// octo is what the integration test created, kept to compute the expected results on its own.
type octo struct {
	ns, name string
	nsIndex  int
	arms     *int // nil: the field is absent
	color    string
	tier     string
	weight   int64 // bytes
	tags     int
}

func (o octo) id() string { return o.ns + "/" + o.name }

// createOctopodes creates 20 namespaces with 100 Octopus objects each and returns them.
func createOctopodes(t *testing.T, k *testenv.Kube, run string) ([]string, []octo) {
	t.Helper()
	ctx := t.Context()
	nss := make([]string, 20)
	for i := range nss {
		nss[i] = fmt.Sprintf("%s-%02d", run, i)
		if _, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nss[i]}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create namespace %s: %v", nss[i], err)
		}
		name := nss[i]
		t.Cleanup(func() { testenv.DeleteNamespace(t, k.Client, name) })
	}
	colors := []string{"red", "green", "blue"}
	objs := make([]octo, 2000)
	for i := range objs {
		o := octo{ns: nss[i/100], name: fmt.Sprintf("octo-%03d", i%100), nsIndex: i / 100,
			color: colors[i%3], tier: "silver", weight: int64(i%50+1) << 20, tags: i % 4}
		if i%2 == 0 {
			o.tier = "gold"
		}
		if i%10 != 7 {
			arms := i % 9
			o.arms = &arms
		}
		objs[i] = o
	}
	work := make(chan octo)
	errs := make(chan error, len(objs))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for o := range work {
				spec := map[string]any{"color": o.color, "weight": fmt.Sprintf("%dMi", o.weight>>20), "tags": make([]any, o.tags)}
				for j := range o.tags {
					spec["tags"].([]any)[j] = fmt.Sprintf("t%d", j)
				}
				if o.arms != nil {
					spec["arms"] = int64(*o.arms)
				}
				u := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "msengine-test.clusterpulse.io/v1",
					"kind":       "Octopus",
					"metadata": map[string]any{"name": o.name, "namespace": o.ns,
						"labels": map[string]any{"run": run, "tier": o.tier, "color": o.color}},
					"spec": spec,
				}}
				if _, err := k.Dynamic.Resource(octopusGVR).Namespace(o.ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("create %s: %w", o.id(), err)
				}
			}
		})
	}
	for _, o := range objs {
		work <- o
	}
	close(work)
	wg.Wait()
	close(errs)
	// Deleting a namespace without a namespace controller leaves its objects in etcd; delete
	// them first (cleanups run last-in first-out) so the shared API server does not fill up.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, ns := range nss {
			if err := k.Dynamic.Resource(octopusGVR).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				t.Logf("delete octopodes in %s: %v", ns, err)
			}
		}
	})
	for err := range errs {
		t.Fatal(err)
	}
	return nss, objs
}

// octopusSource is the MetricSource the integration test collects, before each case's changes.
func octopusSource(run string) *kube.MetricSource {
	p90 := int32(90)
	ms := &kube.MetricSource{Spec: kube.MetricSourceSpec{
		Source: kube.ResourceTarget{APIVersion: "msengine-test.clusterpulse.io/v1", Kind: "Octopus",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"run": run}}},
		Fields: []kube.FieldExtraction{
			{Name: "arms", Path: ".spec.arms", Type: "integer"},
			{Name: "color", Path: ".spec.color"},
			{Name: "weight", Path: ".spec.weight", Type: "quantity"},
			{Name: "tags", Path: ".spec.tags", Type: "arrayLength"},
		},
		Computed: []kube.ComputedField{
			// label reads armsOrZero, declared after it: dependency order, not spec order.
			{Name: "label", Expression: "concat(color, ':', armsOrZero)", Type: "string"},
			{Name: "armsOrZero", Expression: "coalesce(arms, 0)", Type: "integer"},
			{Name: "heavy", Expression: "weight > 26214400", Type: "boolean"},
		},
		Aggregations: []kube.Aggregation{
			{Name: "count", Function: "count"},
			{Name: "sumArms", Field: "arms", Function: "sum"},
			{Name: "byNamespace", Function: "count", GroupBy: "namespace"},
			{Name: "avgWeight", Field: "weight", Function: "avg"},
			{Name: "heavyByColor", Function: "count", GroupBy: "color", Filter: &kube.AggregationFilter{Field: "heavy", Operator: "equals", Value: "true"}},
			{Name: "p90WeightByTier", Field: "weight", Function: "percentile", Percentile: &p90, GroupBy: "labels.tier"},
			{Name: "distinctLabels", Field: "label", Function: "distinct"},
			{Name: "maxArms", Field: "arms", Function: "max"},
			{Name: "minColor", Field: "color", Function: "min"},
			{Name: "tagsByColor", Field: "tags", Function: "sum", GroupBy: "color"},
		},
		Collection: kube.CollectionConfig{BatchSize: 100, Parallelism: 3, RetryAttempts: 3, TimeoutSeconds: 60},
		RBAC:       kube.MetricSourceRBAC{ResourceTypeName: "octopodes"},
	}}
	ms.Name, ms.Namespace = "octopodes", "monitoring"
	return ms
}

// expectedValues computes a resource's values the way the spec above says, independently of
// the engine.
func expectedValues(o octo) map[string]any {
	armsOrZero := 0
	var arms any
	if o.arms != nil {
		armsOrZero = *o.arms
		arms = float64(*o.arms)
	}
	return map[string]any{
		"arms":       arms,
		"color":      o.color,
		"weight":     float64(o.weight),
		"tags":       float64(o.tags),
		"label":      fmt.Sprintf("%s:%d", o.color, armsOrZero),
		"armsOrZero": float64(armsOrZero),
		"heavy":      o.weight > 25<<20,
	}
}

// expectedAggregations computes the aggregations of octopusSource over objs independently.
func expectedAggregations(objs []octo) map[string]any {
	sumArms, maxArms := 0.0, math.Inf(-1)
	var weights float64
	byNamespace := map[string]any{}
	heavyByColor := map[string]any{}
	tagsByColor := map[string]any{}
	tierWeights := map[string][]float64{}
	labels := map[string]bool{}
	minColor := ""
	for i, o := range objs {
		v := expectedValues(o)
		if o.arms != nil {
			sumArms += float64(*o.arms)
			maxArms = math.Max(maxArms, float64(*o.arms))
		}
		weights += float64(o.weight)
		byNamespace[o.ns] = octoNum(byNamespace[o.ns]) + 1
		if v["heavy"].(bool) {
			heavyByColor[o.color] = octoNum(heavyByColor[o.color]) + 1
		}
		tagsByColor[o.color] = octoNum(tagsByColor[o.color]) + float64(o.tags)
		tierWeights[o.tier] = append(tierWeights[o.tier], float64(o.weight))
		labels[v["label"].(string)] = true
		if i == 0 || o.color < minColor {
			minColor = o.color
		}
	}
	p90 := map[string]any{}
	for tier, ws := range tierWeights {
		p90[tier] = octoRefPercentile(ws, 90)
	}
	out := map[string]any{
		"count":           float64(len(objs)),
		"sumArms":         sumArms,
		"byNamespace":     byNamespace,
		"avgWeight":       weights / float64(len(objs)),
		"heavyByColor":    heavyByColor,
		"p90WeightByTier": p90,
		"distinctLabels":  float64(len(labels)),
		"maxArms":         maxArms,
		"minColor":        minColor,
		"tagsByColor":     tagsByColor,
	}
	return out
}

func octoNum(v any) float64 {
	f, _ := v.(float64)
	return f
}

// octoRefPercentile is numpy's default percentile (linear interpolation between closest ranks)
// by a full sort: the reference the engine's selection-based result must equal.
func octoRefPercentile(values []float64, p float64) float64 {
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	rank := p / 100 * float64(len(s)-1)
	lo, hi := math.Floor(rank), math.Ceil(rank)
	return s[int(lo)] + (s[int(hi)]-s[int(lo)])*(rank-lo)
}

func TestCollectIntegration(t *testing.T) {
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join("testdata", "crds"))
	run := testenv.Name(t)
	nss, objs := createOctopodes(t, k, run)

	disc, err := discovery.NewDiscoveryClientForConfig(k.Config)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	base := octopusSource(run)
	c0, err := Compile(base)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	target, err := c0.Resolve(disc)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if diff := cmp.Diff(Target{GVR: octopusGVR, Namespaced: true}, target); diff != "" {
		t.Fatalf("Resolve (-want +got):\n%s", diff)
	}

	select2 := func(keep func(o octo) bool) []octo {
		var out []octo
		for _, o := range objs {
			if keep(o) {
				out = append(out, o)
			}
		}
		return out
	}
	tests := []struct {
		name          string
		mutate        func(ms *kube.MetricSource)
		want          []octo // the resources expected, in list order
		wantTruncated bool
		checkAll      bool // compare every resource's values and every aggregation
	}{
		{
			name: "exact namespaces, one excluded, listed per namespace in pages",
			mutate: func(ms *kube.MetricSource) {
				ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: nss[0:5], Exclude: []string{nss[2]}}
				ms.Spec.Collection.BatchSize = 30
			},
			want:     select2(func(o octo) bool { return o.nsIndex < 5 && o.nsIndex != 2 }),
			checkAll: true,
		},
		{
			name: "namespace pattern with exclude, one filtered cluster-wide list",
			mutate: func(ms *kube.MetricSource) {
				ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: []string{run + "-1?"}, Exclude: []string{run + "-15"}}
			},
			want:     select2(func(o octo) bool { return o.nsIndex >= 10 && o.nsIndex != 15 }),
			checkAll: true,
		},
		{
			name: "label selector sent to the server",
			mutate: func(ms *kube.MetricSource) {
				ms.Spec.Source.LabelSelector.MatchLabels["tier"] = "gold"
				ms.Spec.Source.LabelSelector.MatchExpressions = []metav1.LabelSelectorRequirement{
					{Key: "color", Operator: metav1.LabelSelectorOpIn, Values: []string{"red", "blue"}},
				}
			},
			want:     select2(func(o octo) bool { return o.tier == "gold" && o.color != "green" }),
			checkAll: true,
		},
		{
			name: "maxResources cuts and marks truncated",
			mutate: func(ms *kube.MetricSource) {
				ms.Spec.Collection.MaxResources = 150
				ms.Spec.Collection.BatchSize = 40
			},
			want:          objs[:150],
			wantTruncated: true,
		},
		{
			name: "maxResources exactly reached is not truncated",
			mutate: func(ms *kube.MetricSource) {
				ms.Spec.Source.LabelSelector.MatchLabels["tier"] = "gold"
				ms.Spec.Collection.MaxResources = 1000
				ms.Spec.Collection.BatchSize = 250
			},
			want: select2(func(o octo) bool { return o.tier == "gold" }),
		},
		{
			name:     "everything",
			mutate:   func(ms *kube.MetricSource) { ms.Spec.Collection.BatchSize = 500 },
			want:     objs,
			checkAll: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := octopusSource(run)
			tt.mutate(ms)
			c, err := Compile(ms)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			res, err := Collect(t.Context(), k.Dynamic, target, c, CollectOptions{Cluster: "hub"})
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			if res.Collection.Truncated != tt.wantTruncated || res.Meta.Truncated != tt.wantTruncated {
				t.Errorf("truncated = %v (meta %v), want %v", res.Collection.Truncated, res.Meta.Truncated, tt.wantTruncated)
			}
			var gotIDs, wantIDs []string
			for _, r := range res.Collection.Resources {
				gotIDs = append(gotIDs, r.ID)
			}
			for _, o := range tt.want {
				wantIDs = append(wantIDs, o.id())
			}
			if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
				t.Fatalf("resource ids (-want +got):\n%s", diff)
			}
			if res.Collection.ResourceCount != len(tt.want) {
				t.Errorf("ResourceCount = %d, want %d", res.Collection.ResourceCount, len(tt.want))
			}
			if res.ConversionErrors != 0 || res.EvalErrors != 0 || len(res.NamespaceErrors) != 0 {
				t.Errorf("errors: conversion %d, eval %d, namespaces %v; want none", res.ConversionErrors, res.EvalErrors, res.NamespaceErrors)
			}
			if !tt.checkAll {
				return
			}
			for i, r := range res.Collection.Resources {
				o := tt.want[i]
				want := engine.CustomResource{ID: o.id(), Namespace: o.ns, Name: o.name,
					Labels: map[string]string{"run": run, "tier": o.tier, "color": o.color}, Values: expectedValues(o)}
				if diff := cmp.Diff(want, r); diff != "" {
					t.Fatalf("resource %s (-want +got):\n%s", o.id(), diff)
				}
			}
			if diff := cmp.Diff(expectedAggregations(tt.want), res.Aggregations.Values, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("aggregations (-want +got):\n%s", diff)
			}
			// The results must serialise (no NaN/Inf): the store writes them as JSON.
			if _, err := json.Marshal(res.Collection); err != nil {
				t.Errorf("marshal collection: %v", err)
			}
			if _, err := json.Marshal(res.Aggregations); err != nil {
				t.Errorf("marshal aggregations: %v", err)
			}
		})
	}
}

func TestResolveIntegration(t *testing.T) {
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join("testdata", "crds"))
	disc, err := discovery.NewDiscoveryClientForConfig(k.Config)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	tests := []struct {
		apiVersion, kind string
		want             Target
		wantErr          error
	}{
		{"msengine-test.clusterpulse.io/v1", "Octopus", Target{GVR: octopusGVR, Namespaced: true}, nil},
		{"networking.k8s.io/v1", "Ingress", Target{GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}, Namespaced: true}, nil},
		{"networking.k8s.io/v1", "NetworkPolicy", Target{GVR: schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"}, Namespaced: true}, nil},
		{"v1", "Endpoints", Target{GVR: schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, Namespaced: true}, nil},
		{"v1", "Node", Target{GVR: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}}, nil},
		{"storage.k8s.io/v1", "storageclass", Target{GVR: schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}}, nil},
		{"apps/v1", "Deployment", Target{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespaced: true}, nil},
		{"apps/v1", "Octopus", Target{}, engine.ErrNotFound},
		{"nothing.example.com/v1", "Thing", Target{}, engine.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.apiVersion+" "+tt.kind, func(t *testing.T) {
			ms := octopusSource("x")
			ms.Spec.Source.APIVersion, ms.Spec.Source.Kind = tt.apiVersion, tt.kind
			c, err := Compile(ms)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := c.Resolve(disc)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Resolve error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

// loadExample creates the example MetricSource in the test namespace of the real API server
// (so the CRD's schema and defaults apply), reads it back, points it at that namespace and
// compiles it with a fixed clock.
func loadExample(t *testing.T, k *testenv.Kube, file string, now time.Time) *Compiled {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deploy", "examples", file))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(data, &obj); err != nil {
		t.Fatalf("parse example %s: %v", file, err)
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetNamespace(k.Namespace)
	gvr := schema.GroupVersionResource{Group: "clusterpulse.io", Version: "v1alpha1", Resource: "metricsources"}
	created, err := k.Dynamic.Resource(gvr).Namespace(k.Namespace).Create(t.Context(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create example %s on the API server: %v", file, err)
	}
	raw, err := json.Marshal(created.Object)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var ms kube.MetricSource
	if err := json.Unmarshal(raw, &ms); err != nil {
		t.Fatalf("decode MetricSource: %v", err)
	}
	if ms.Spec.Collection.RetryAttempts != DefaultRetryAttempts {
		t.Errorf("retryAttempts after CRD defaulting = %d, want %d", ms.Spec.Collection.RetryAttempts, DefaultRetryAttempts)
	}
	ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: []string{k.Namespace}}
	c, err := CompileWithOptions(&ms, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatalf("compile example %s: %v", file, err)
	}
	return c
}

func collectExample(t *testing.T, k *testenv.Kube, c *Compiled) *Result {
	t.Helper()
	disc, err := discovery.NewDiscoveryClientForConfig(k.Config)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	target, err := c.Resolve(disc)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	res, err := Collect(t.Context(), k.Dynamic, target, c, CollectOptions{Cluster: "hub"})
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if res.ConversionErrors != 0 || res.EvalErrors != 0 {
		t.Errorf("conversion errors %d, eval errors %d, want none (last: %s)", res.ConversionErrors, res.EvalErrors, res.Meta.LastError)
	}
	return res
}

// valuesByName returns the values of each collected resource by name.
func valuesByName(res *Result) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range res.Collection.Resources {
		out[r.Name] = r.Values
	}
	return out
}

func TestExamplePVCByStorageClass(t *testing.T) {
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy", "crds"))
	ctx := t.Context()
	type pvc struct {
		name, class, request, capacity string // class "": no storageClassName; capacity "": not bound
	}
	pvcs := []pvc{
		{"db-0", "fast", "10Gi", "10Gi"},
		{"db-1", "fast", "10Gi", "12Gi"},
		{"logs", "slow", "100Gi", "100Gi"},
		{"cache", "fast", "512Mi", ""},
		{"scratch", "", "1Gi", ""},
	}
	for _, p := range pvcs {
		obj := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: map[string]string{"app.kubernetes.io/name": "shop"}},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(p.request)}},
			},
		}
		if p.class != "" {
			obj.Spec.StorageClassName = &p.class
		}
		created, err := k.Client.CoreV1().PersistentVolumeClaims(k.Namespace).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create PVC %s: %v", p.name, err)
		}
		if p.capacity != "" {
			created.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(p.capacity)}}
			if _, err := k.Client.CoreV1().PersistentVolumeClaims(k.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				t.Fatalf("update PVC status %s: %v", p.name, err)
			}
		}
	}
	c := loadExample(t, k, "metricsource-pvc-by-storageclass.yaml", time.Now())
	res := collectExample(t, k, c)

	gib := 1073741824.0
	wantValues := map[string]map[string]any{
		"db-0":    {"storageClass": "fast", "phase": "Bound", "requestedBytes": 10 * gib, "capacityBytes": 10 * gib, "app": "shop", "fillPercent": 100.0, "requestedGiB": 10.0, "capacityGiB": 10.0},
		"db-1":    {"storageClass": "fast", "phase": "Bound", "requestedBytes": 10 * gib, "capacityBytes": 12 * gib, "app": "shop", "fillPercent": 120.0, "requestedGiB": 10.0, "capacityGiB": 12.0},
		"logs":    {"storageClass": "slow", "phase": "Bound", "requestedBytes": 100 * gib, "capacityBytes": 100 * gib, "app": "shop", "fillPercent": 100.0, "requestedGiB": 100.0, "capacityGiB": 100.0},
		"cache":   {"storageClass": "fast", "phase": "Pending", "requestedBytes": 0.5 * gib, "capacityBytes": 0.0, "app": "shop", "fillPercent": 0.0, "requestedGiB": 0.5, "capacityGiB": 0.0},
		"scratch": {"storageClass": "none", "phase": "Pending", "requestedBytes": gib, "capacityBytes": 0.0, "app": "shop", "fillPercent": 0.0, "requestedGiB": 1.0, "capacityGiB": 0.0},
	}
	if diff := cmp.Diff(wantValues, valuesByName(res)); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	wantAggs := map[string]any{
		"claims":                     5.0,
		"claimsByStorageClass":       map[string]any{"fast": 3.0, "slow": 1.0, "none": 1.0},
		"requestedGiBByStorageClass": map[string]any{"fast": 20.5, "slow": 100.0, "none": 1.0},
		"capacityGiBByStorageClass":  map[string]any{"fast": 22.0, "slow": 100.0, "none": 0.0},
		"pendingByStorageClass":      map[string]any{"fast": 1.0, "none": 1.0},
		"largestClaimGiB":            100.0,
	}
	if diff := cmp.Diff(wantAggs, res.Aggregations.Values); diff != "" {
		t.Errorf("aggregations (-want +got):\n%s", diff)
	}
}

func TestExampleCertificateExpiry(t *testing.T) {
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy", "crds"))
	testenv.InstallCRDs(t, filepath.Join("testdata", "crds"))
	ctx := t.Context()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	type cert struct {
		name, issuer, kind string
		days               float64 // until notAfter; 0: not issued (no status)
		ready              string
		dnsNames           int
	}
	certs := []cert{
		{"api", "letsencrypt", "ClusterIssuer", 3.25, "True", 2},
		{"web", "letsencrypt", "ClusterIssuer", 10, "True", 1},
		{"internal", "corp-ca", "Issuer", 40, "True", 3},
		{"old", "corp-ca", "Issuer", 90.04, "False", 1},
		{"new", "corp-ca", "", 0, "", 1},
	}
	gvr := schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "certificates"}
	for _, c := range certs {
		issuerRef := map[string]any{"name": c.issuer}
		if c.kind != "" {
			issuerRef["kind"] = c.kind
		}
		dns := make([]any, c.dnsNames)
		for i := range dns {
			dns[i] = fmt.Sprintf("%s-%d.example.com", c.name, i)
		}
		obj := map[string]any{
			"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
			"metadata": map[string]any{"name": c.name, "namespace": k.Namespace},
			"spec":     map[string]any{"secretName": c.name + "-tls", "issuerRef": issuerRef, "dnsNames": dns},
		}
		if c.days != 0 {
			notAfter := now.Add(time.Duration(c.days * 24 * float64(time.Hour)))
			obj["status"] = map[string]any{
				"notAfter":   notAfter.Format(time.RFC3339),
				"conditions": []any{map[string]any{"type": "Ready", "status": c.ready}},
			}
		}
		if _, err := k.Dynamic.Resource(gvr).Namespace(k.Namespace).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Certificate %s: %v", c.name, err)
		}
	}
	c := loadExample(t, k, "metricsource-certificate-expiry.yaml", now)
	res := collectExample(t, k, c)

	got := map[string][]any{}
	for name, v := range valuesByName(res) {
		got[name] = []any{v["daysLeft"], v["expiringSoon"], v["issuerRef"], v["ready"], v["dnsNames"]}
	}
	want := map[string][]any{
		"api":      {3.3, true, "ClusterIssuer/letsencrypt", "True", 2.0},
		"web":      {10.0, true, "ClusterIssuer/letsencrypt", "True", 1.0},
		"internal": {40.0, false, "Issuer/corp-ca", "True", 3.0},
		"old":      {90.0, false, "Issuer/corp-ca", "False", 1.0},
		"new":      {nil, false, "Issuer/corp-ca", "Unknown", 1.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("daysLeft, expiringSoon, issuerRef, ready, dnsNames (-want +got):\n%s", diff)
	}
	wantAggs := map[string]any{
		"certificates":              5.0,
		"expiringWithin14Days":      2.0,
		"notReady":                  2.0, // "old" is False, "new" has no condition yet
		"soonestExpiryDays":         3.3,
		"soonestExpiryDaysByIssuer": map[string]any{"ClusterIssuer/letsencrypt": 3.3, "Issuer/corp-ca": 40.0},
		"medianDaysLeft":            25.0, // of 3.3, 10, 40, 90
	}
	if diff := cmp.Diff(wantAggs, res.Aggregations.Values, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("aggregations (-want +got):\n%s", diff)
	}
}

func TestExampleDeploymentAvailability(t *testing.T) {
	k := testenv.NewKube(t)
	testenv.InstallCRDs(t, filepath.Join(testenv.RepoRoot(t), "deploy", "crds"))
	ctx := t.Context()
	// A second namespace, so the grouping by namespace has two groups.
	other := testenv.Name(t)
	if _, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: other}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() { testenv.DeleteNamespace(t, k.Client, other) })
	type dep struct {
		ns, name            string
		replicas, available int32
	}
	deps := []dep{
		{k.Namespace, "web", 3, 3},
		{k.Namespace, "api", 4, 2},
		{k.Namespace, "idle", 0, 0},
		{other, "db", 1, 0},
		{other, "queue", 2, 2},
	}
	for _, d := range deps {
		labels := map[string]string{"app": d.name}
		obj := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.ns},
			Spec: appsv1.DeploymentSpec{
				Replicas: &d.replicas,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "example.com/" + d.name + ":1"}}},
				},
			},
		}
		created, err := k.Client.AppsV1().Deployments(d.ns).Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create Deployment %s: %v", d.name, err)
		}
		created.Status = appsv1.DeploymentStatus{Replicas: d.replicas, AvailableReplicas: d.available, ReadyReplicas: d.available, UpdatedReplicas: d.replicas}
		if _, err := k.Client.AppsV1().Deployments(d.ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update Deployment status %s: %v", d.name, err)
		}
	}
	c := loadExample(t, k, "metricsource-deployment-availability.yaml", time.Now())
	// The example excludes kube-* and openshift-*; point it at the two test namespaces.
	ms := mustSpec(t, c)
	ms.Spec.Source.Namespaces = &kube.NamespaceSelector{Include: []string{k.Namespace, other}}
	c, err := Compile(ms)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	res := collectExample(t, k, c)

	got := map[string][]any{}
	for _, r := range res.Collection.Resources {
		got[r.ID] = []any{r.Values["replicas"], r.Values["available"], r.Values["availablePercent"], r.Values["fullyAvailable"], r.Values["missing"]}
	}
	want := map[string][]any{
		k.Namespace + "/web":  {3.0, 3.0, 100.0, true, 0.0},
		k.Namespace + "/api":  {4.0, 2.0, 50.0, false, 2.0},
		k.Namespace + "/idle": {0.0, 0.0, 100.0, true, 0.0},
		other + "/db":         {1.0, 0.0, 0.0, false, 1.0},
		other + "/queue":      {2.0, 2.0, 100.0, true, 0.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replicas, available, availablePercent, fullyAvailable, missing (-want +got):\n%s", diff)
	}
	wantAggs := map[string]any{
		"deployments":                 5.0,
		"deploymentsByNamespace":      map[string]any{k.Namespace: 3.0, other: 2.0},
		"replicasByNamespace":         map[string]any{k.Namespace: 7.0, other: 3.0},
		"availableByNamespace":        map[string]any{k.Namespace: 5.0, other: 2.0},
		"degradedByNamespace":         map[string]any{k.Namespace: 1.0, other: 1.0},
		"availablePercentByNamespace": map[string]any{k.Namespace: 250.0 / 3, other: 50.0},
	}
	if diff := cmp.Diff(wantAggs, res.Aggregations.Values, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("aggregations (-want +got):\n%s", diff)
	}
}

// mustSpec returns the MetricSource c was compiled from, read back from its stored form.
func mustSpec(t *testing.T, c *Compiled) *kube.MetricSource {
	t.Helper()
	var d struct {
		Spec kube.MetricSourceSpec `json:"spec"`
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal compiled: %v", err)
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("unmarshal compiled: %v", err)
	}
	ms := &kube.MetricSource{Spec: d.Spec}
	ms.Name, ms.Namespace = c.Name, c.Namespace
	return ms
}

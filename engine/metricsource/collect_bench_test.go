package metricsource

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/clusterpulse/clusterpulse/engine"
	"github.com/clusterpulse/clusterpulse/engine/kube"
)

// benchObjects is the number of objects of the collection benchmark (the 100,000).
const benchObjects = 100_000

// benchPVCs returns n realistic PersistentVolumeClaims (testdata/pvc.json, the shape
// `kubectl get pvc -o json` prints, managedFields included) as JSON documents, varied in name,
// namespace, storage class, size and phase.
func benchPVCs(b *testing.B, n int) [][]byte {
	b.Helper()
	tmpl, err := os.ReadFile(filepath.Join("testdata", "pvc.json"))
	if err != nil {
		b.Fatalf("read template: %v", err)
	}
	var base map[string]any
	if err := json.Unmarshal(tmpl, &base); err != nil {
		b.Fatalf("parse template: %v", err)
	}
	classes := []string{"gp3", "io2", "standard", "efs"}
	phases := []string{"Bound", "Bound", "Bound", "Pending"}
	docs := make([][]byte, n)
	for i := range docs {
		md := base["metadata"].(map[string]any)
		md["name"] = fmt.Sprintf("data-db-%d", i)
		md["namespace"] = fmt.Sprintf("team-%d", i%200)
		spec := base["spec"].(map[string]any)
		spec["storageClassName"] = classes[i%len(classes)]
		spec["resources"] = map[string]any{"requests": map[string]any{"storage": fmt.Sprintf("%dGi", i%100+1)}}
		status := base["status"].(map[string]any)
		status["phase"] = phases[i%len(phases)]
		status["capacity"] = map[string]any{"storage": fmt.Sprintf("%dMi", (i%100+1)*1100)}
		if docs[i], err = json.Marshal(base); err != nil {
			b.Fatalf("marshal: %v", err)
		}
	}
	return docs
}

// benchSource extracts 5 fields, computes 2 values and builds 5 aggregations.
func benchSource(b *testing.B) *Compiled {
	b.Helper()
	p95 := int32(95)
	ms := &kube.MetricSource{Spec: kube.MetricSourceSpec{
		Source: kube.ResourceTarget{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		Fields: []kube.FieldExtraction{
			{Name: "storageClass", Path: ".spec.storageClassName"},
			{Name: "phase", Path: ".status.phase"},
			{Name: "requested", Path: ".spec.resources.requests.storage", Type: "quantity"},
			{Name: "capacity", Path: ".status.capacity.storage", Type: "quantity"},
			{Name: "app", Path: ".metadata.labels['app.kubernetes.io/name']"},
		},
		Computed: []kube.ComputedField{
			{Name: "requestedGiB", Expression: "round(requested / 1073741824, 2)"},
			{Name: "fillPercent", Expression: "capacity / requested * 100"},
		},
		Aggregations: []kube.Aggregation{
			{Name: "byClass", Function: "count", GroupBy: "storageClass"},
			{Name: "requestedByClass", Field: "requestedGiB", Function: "sum", GroupBy: "storageClass"},
			{Name: "avgFill", Field: "fillPercent", Function: "avg"},
			{Name: "p95Requested", Field: "requestedGiB", Function: "percentile", Percentile: &p95},
			{Name: "bound", Function: "count", Filter: &kube.AggregationFilter{Field: "phase", Operator: "equals", Value: "Bound"}},
		},
		RBAC: kube.MetricSourceRBAC{ResourceTypeName: "pvcs"},
	}}
	ms.Name, ms.Namespace = "bench", "monitoring"
	c, err := Compile(ms)
	if err != nil {
		b.Fatalf("Compile: %v", err)
	}
	return c
}

// BenchmarkCollect100k compares, over the same 100,000 objects, the engine's own work
// (extraction, computed fields and aggregations) with plain JSON decoding of the objects, the
// work every collection does anyway. The goal is engine ≤ 0.5 × decode. Sub-benchmarks:
//   - decode: json.Unmarshal of every object into map[string]any;
//   - engine: the engine alone over the 100,000 objects decoded beforehand (all of them live on
//     the heap at once, which makes every GC cycle of the engine scan them: a worst case);
//   - decode+engine: each object decoded, then processed and dropped, as Collect does page by
//     page; its time minus decode's is the engine's own work under realistic memory.
func BenchmarkCollect100k(b *testing.B) {
	docs := benchPVCs(b, benchObjects)
	var size int64
	for _, d := range docs {
		size += int64(len(d))
	}

	b.Run("decode", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				var obj map[string]any
				if err := json.Unmarshal(d, &obj); err != nil {
					b.Fatal(err)
				}
			}
		}
	})

	b.Run("engine", func(b *testing.B) {
		objs := make([]map[string]any, len(docs))
		for i, d := range docs {
			if err := json.Unmarshal(d, &objs[i]); err != nil {
				b.Fatal(err)
			}
		}
		c := benchSource(b)
		b.ReportAllocs()
		for b.Loop() {
			var p processor
			p.init(c)
			resources := make([]engine.CustomResource, 0, len(objs))
			for _, obj := range objs {
				resources = append(resources, p.resource(obj))
			}
			_ = c.Aggregate(resources)
			if p.convErrs != 0 || p.evalErrs != 0 {
				b.Fatalf("conversion errors %d, eval errors %d: %v", p.convErrs, p.evalErrs, p.firstErr)
			}
		}
	})

	b.Run("decode+engine", func(b *testing.B) {
		c := benchSource(b)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			var p processor
			p.init(c)
			resources := make([]engine.CustomResource, 0, len(docs))
			for _, d := range docs {
				var obj map[string]any
				if err := json.Unmarshal(d, &obj); err != nil {
					b.Fatal(err)
				}
				resources = append(resources, p.resource(obj))
			}
			_ = c.Aggregate(resources)
			if p.convErrs != 0 || p.evalErrs != 0 {
				b.Fatalf("conversion errors %d, eval errors %d: %v", p.convErrs, p.evalErrs, p.firstErr)
			}
		}
	})
}

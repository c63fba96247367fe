package jobs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/clusterpulse/clusterpulse/engine/kube"
	"github.com/clusterpulse/clusterpulse/engine/metricsource"
)

// TestMemo checks that concurrent callers of one key share one fetch, that keys are
// independent, and that a caller whose context ends stops waiting while the fetch goes on.
func TestMemo(t *testing.T) {
	var m memo[int]
	var calls atomic.Int32
	release := make(chan struct{})
	fetch := func() (int, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.get(ctx, "a", fetch); !errors.Is(err, context.Canceled) {
		t.Fatalf("get with a cancelled context: %v, want context.Canceled", err)
	}

	var wg sync.WaitGroup
	got := make([]int, 8)
	for i := range got {
		wg.Go(func() {
			v, err := m.get(context.Background(), "a", fetch)
			if err != nil {
				t.Errorf("get: %v", err)
			}
			got[i] = v
		})
	}
	close(release)
	wg.Wait()
	for i, v := range got {
		if v != 42 {
			t.Errorf("caller %d got %d, want 42", i, v)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("fetch of key a ran %d times, want 1", n)
	}
	wantErr := errors.New("boom")
	if _, err := m.get(context.Background(), "b", func() (int, error) { return 0, wantErr }); !errors.Is(err, wantErr) {
		t.Errorf("get of key b: %v, want %v", err, wantErr)
	}
	if _, err := m.get(context.Background(), "b", func() (int, error) { return 1, nil }); !errors.Is(err, wantErr) {
		t.Errorf("second get of key b: %v, want the first fetch's error (fetched once per run)", err)
	}
}

func TestSummarizeClusters(t *testing.T) {
	outs := []clusterOutcome{
		{name: "a", resources: 3},
		{name: "b", err: errors.New("unauthorized")},
		{name: "c", resources: 2, warn: errors.New("history not written")},
	}
	want := clusterSummary{total: 3, collected: 2, resources: 5, errors: []string{"b: unauthorized", "c: history not written"}}
	if d := cmp.Diff(want, summarizeClusters(outs), cmp.AllowUnexported(clusterSummary{})); d != "" {
		t.Errorf("summarizeClusters (-want +got):\n%s", d)
	}
}

func TestCollectionStatusPatch(t *testing.T) {
	end := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	earlier := metav1.NewTime(end.Add(-time.Hour))
	ms := &kube.MetricSource{ObjectMeta: metav1.ObjectMeta{Name: "m", Generation: 4},
		Status: kube.MetricSourceStatus{Conditions: []metav1.Condition{
			{Type: conditionReady, Status: metav1.ConditionTrue, Reason: reasonCollected, LastTransitionTime: earlier},
		}}}
	tests := []struct {
		name       string
		s          clusterSummary
		wantPhase  string
		wantMsg    string
		wantStatus metav1.ConditionStatus
		wantReason string
		wantLTT    metav1.Time
	}{
		{name: "all collected", s: clusterSummary{total: 2, collected: 2, resources: 7},
			wantPhase: phaseActive, wantMsg: "collected 7 resources from 2 of 2 clusters",
			wantStatus: metav1.ConditionTrue, wantReason: reasonCollected, wantLTT: earlier},
		{name: "no clusters", s: clusterSummary{},
			wantPhase: phaseActive, wantMsg: "no pull-mode cluster to collect from",
			wantStatus: metav1.ConditionTrue, wantReason: reasonCollected, wantLTT: earlier},
		{name: "some failed", s: clusterSummary{total: 2, collected: 1, resources: 3, errors: []string{"b: down"}},
			wantPhase: phaseActive, wantMsg: "collected 3 resources from 1 of 2 clusters; 1 error(s): b: down",
			wantStatus: metav1.ConditionFalse, wantReason: reasonCollectionErrors, wantLTT: metav1.NewTime(end)},
		{name: "all failed, errors capped", s: clusterSummary{total: 6, errors: []string{"a: x", "b: x", "c: x", "d: x", "e: x", "f: x"}},
			wantPhase: phaseError, wantMsg: "collected 0 resources from 0 of 6 clusters; 6 error(s): a: x; b: x; c: x; d: x; e: x; and 1 more",
			wantStatus: metav1.ConditionFalse, wantReason: reasonCollectionFailed, wantLTT: metav1.NewTime(end)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collectionStatusPatch(ms, tt.s, end, 1234567*time.Microsecond)
			want := map[string]any{
				"phase": tt.wantPhase, "message": tt.wantMsg,
				"resourcesCollected": tt.s.resources, "clustersCollected": tt.s.collected, "errorsLastRun": len(tt.s.errors),
				"lastCollectionTime": "2026-05-01T12:00:00Z", "lastCollectionDuration": "1.235s", "fieldValidation": nil,
				"conditions": []metav1.Condition{{Type: conditionReady, Status: tt.wantStatus, Reason: tt.wantReason,
					Message: tt.wantMsg, ObservedGeneration: 4, LastTransitionTime: tt.wantLTT}},
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("collectionStatusPatch (-want +got):\n%s", d)
			}
		})
	}
}

func TestFailureStatus(t *testing.T) {
	ms := &kube.MetricSource{}
	ms.Name, ms.Generation = "m", 2
	_, err := metricsource.Compile(&kube.MetricSource{
		ObjectMeta: metav1.ObjectMeta{Name: "m", Namespace: "hub"},
		Spec: kube.MetricSourceSpec{
			Source:   kube.ResourceTarget{APIVersion: "v1", Kind: "ConfigMap"},
			Fields:   []kube.FieldExtraction{{Name: "a", Path: ".data.a"}},
			Computed: []kube.ComputedField{{Name: "b", Expression: "a +"}},
			RBAC:     kube.MetricSourceRBAC{ResourceTypeName: "t"},
		},
	})
	fv := fieldValidation(err)
	if len(fv) != 1 || fv[0].Field != "spec.computed[0].expression" || fv[0].Status != fieldInvalid || fv[0].Message == "" {
		t.Fatalf("fieldValidation(%v) = %+v, want one invalid entry for spec.computed[0].expression", err, fv)
	}
	if got := fieldValidation(errors.New("not a compile error")); got != nil {
		t.Errorf("fieldValidation of another error = %+v, want nil", got)
	}

	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const msg = "Compilation failed: 1 problem(s): x"
	if failureUnchanged(ms, reasonCompilationFailed, msg, fv) {
		t.Fatal("failureUnchanged before any failure status: want false")
	}
	// Apply the patch to the object as the apiserver would, then it is unchanged.
	patch := failureStatus(ms, reasonCompilationFailed, msg, fv, now)
	ms.Status = kube.MetricSourceStatus{Phase: patch["phase"].(string), Message: patch["message"].(string), ErrorsLastRun: 1,
		FieldValidation: fv, Conditions: patch["conditions"].([]metav1.Condition)}
	if !failureUnchanged(ms, reasonCompilationFailed, msg, fv) {
		t.Errorf("failureUnchanged after applying the failure status: want true (status %+v)", ms.Status)
	}
	tests := []struct {
		name   string
		reason string
		msg    string
		fv     []kube.FieldValidation
		gen    int64
	}{
		{name: "other message", reason: reasonCompilationFailed, msg: msg + "!", fv: fv, gen: 2},
		{name: "other reason", reason: reasonNotStored, msg: msg, fv: fv, gen: 2},
		{name: "other fields", reason: reasonCompilationFailed, msg: msg, fv: nil, gen: 2},
		{name: "new generation", reason: reasonCompilationFailed, msg: msg, fv: fv, gen: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *ms
			c.Generation = tt.gen
			if failureUnchanged(&c, tt.reason, tt.msg, tt.fv) {
				t.Error("failureUnchanged = true, want false")
			}
		})
	}
}

package testenv_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clusterpulse/clusterpulse/testenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRedisPrefixAndCleanup(t *testing.T) {
	var prefix string
	var r *testenv.Redis
	t.Run("inner", func(t *testing.T) {
		r = testenv.NewRedis(t)
		prefix = r.Prefix
		if !strings.HasPrefix(prefix, "t-") || !strings.HasSuffix(prefix, ":") {
			t.Fatalf("prefix %q is not of the form t-...:", prefix)
		}
		if err := r.Client.Set(context.Background(), prefix+"k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	// The inner test's cleanup deleted its keys; check with a fresh connection.
	other := testenv.NewRedis(t)
	n, err := other.Client.Exists(context.Background(), prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("key %sk survived the test's cleanup", prefix)
	}
	if other.Prefix == prefix {
		t.Errorf("two tests got the same prefix %q", prefix)
	}
}

func TestRedisServerRestart(t *testing.T) {
	s := testenv.StartRedisServer(t)
	r := testenv.NewRedis(t) // only for the skip/fail rule and a client type
	_ = r
	c := newClient(s.Addr)
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Get(ctx, "a").Err(); err == nil {
		t.Fatal("GET succeeded while the server was stopped")
	}
	s.Start()
	// No persistence: a restarted server is empty, and answers again.
	if err := c.Get(ctx, "a").Err(); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Fatalf("after restart GET a = %v, want redis: nil", err)
	}
}

func TestKubeNamespaceAndKwokNode(t *testing.T) {
	k := testenv.NewKube(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := k.Client.CoreV1().Namespaces().Get(ctx, k.Namespace, metav1.GetOptions{}); err != nil {
		t.Fatalf("test namespace %s: %v", k.Namespace, err)
	}
	// kwok keeps nodes annotated kwok.x-k8s.io/node=fake Ready, and runs their pods.
	name := testenv.Name(t)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("8Gi"), "pods": resource.MustParse("110")},
			Allocatable: corev1.ResourceList{"cpu": resource.MustParse("4"), "memory": resource.MustParse("8Gi"), "pods": resource.MustParse("110")},
		},
	}
	if _, err := k.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: k.Namespace},
		Spec:       corev1.PodSpec{NodeName: name, Containers: []corev1.Container{{Name: "c", Image: "x"}}},
	}
	if _, err := k.Client.CoreV1().Pods(k.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 45*time.Second, func() error {
		n, err := k.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := false
		for _, c := range n.Status.Conditions {
			ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
		}
		p, err := k.Client.CoreV1().Pods(k.Namespace).Get(ctx, "p", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !ready || p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("node ready=%v, pod phase %q", ready, p.Status.Phase)
		}
		return nil
	})
	// RBAC is on: an unknown bearer token is refused.
	cfg := *k.Config
	cfg.BearerToken = "not-a-token"
	if _, err := clientFor(t, &cfg).CoreV1().Namespaces().List(ctx, metav1.ListOptions{Limit: 1}); !apierrors.IsUnauthorized(err) {
		t.Errorf("list with a wrong token: err = %v, want 401", err)
	}
}

func TestHTTPServices(t *testing.T) {
	for name, url := range map[string]string{
		"victoria-metrics": testenv.VictoriaMetricsURL(t) + "/health",
		"registry":         testenv.RegistryURL(t) + "/v2/",
	} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET %s = %d", name, url, resp.StatusCode)
		}
	}
}

func TestName(t *testing.T) {
	a, b := testenv.Name(t), testenv.Name(t)
	if a == b {
		t.Errorf("Name returned %q twice", a)
	}
	if len(a) > 63 || strings.ToLower(a) != a {
		t.Errorf("Name %q is not a DNS label", a)
	}
}
